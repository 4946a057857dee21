package dev.fisheropt.savedmodel;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A Python with {@code tensorflow-cpu==2.18.0} (the TensorFlow of TF-Java 1.1.0), in a virtual
 * environment created on first use and cached across builds.
 *
 * <p>The environment lives in {@code ~/.cache/fisheropt/python-tf-2.18.0} (system property {@code
 * fisheropt.python.venv} to move it) and is built from the first of {@code python3.12 … python3.9,
 * python3} found on the PATH (system property {@code fisheropt.python} to choose one) with {@code
 * pip install tensorflow-cpu==2.18.0}: about a minute and 250 MB, once. Where Python or the package
 * cannot be had, the tests that need it are aborted with the reason, printed; when the environment
 * variable {@code CI} is set (or {@code -Dfisheropt.python.required=true}) they fail instead, since
 * CI has network access to PyPI.
 */
final class PythonTensorFlow {
  static final String TENSORFLOW_VERSION = "2.18.0";
  private static final String READY = ".fisheropt-ready";

  private static Path python;
  private static String unavailable;

  private PythonTensorFlow() {}

  /**
   * The venv's Python, installing it if needed; aborts or fails the calling test where it cannot.
   */
  static synchronized Path python() {
    if (python == null && unavailable == null) {
      try {
        python = provision();
      } catch (IOException | InterruptedException e) {
        unavailable = e.getMessage();
      }
    }
    if (python == null) {
      String reason = "Python TensorFlow " + TENSORFLOW_VERSION + " is unavailable: " + unavailable;
      System.err.println("[fisheropt] " + reason);
      if (required()) {
        Assertions.fail(reason + " (required because CI or fisheropt.python.required is set)");
      }
      Assumptions.abort(reason);
    }
    return python;
  }

  private static boolean required() {
    return System.getenv("CI") != null || Boolean.getBoolean("fisheropt.python.required");
  }

  private static Path provision() throws IOException, InterruptedException {
    Path venv =
        Path.of(
                System.getProperty(
                    "fisheropt.python.venv",
                    Path.of(
                            System.getProperty("user.home"),
                            ".cache",
                            "fisheropt",
                            "python-tf-" + TENSORFLOW_VERSION)
                        .toString()))
            .toAbsolutePath();
    Files.createDirectories(venv.getParent());
    Path lockFile = venv.resolveSibling(venv.getFileName() + ".lock");
    // Two builds on one machine must not install into the same directory at once.
    try (FileChannel channel =
            FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.lock()) {
      Path venvPython = venv.resolve("bin").resolve("python");
      if (Files.exists(venv.resolve(READY)) && hasTensorFlow(venvPython)) {
        return venvPython;
      }
      deleteRecursively(venv);
      String base = basePython();
      System.err.println(
          "[fisheropt] creating "
              + venv
              + " with "
              + base
              + " and pip install tensorflow-cpu=="
              + TENSORFLOW_VERSION);
      check(Processes.run(List.of(base, "-m", "venv", venv.toString()), 300), "python -m venv");
      check(
          Processes.run(
              List.of(
                  venvPython.toString(),
                  "-m",
                  "pip",
                  "install",
                  "--quiet",
                  "--disable-pip-version-check",
                  "tensorflow-cpu==" + TENSORFLOW_VERSION),
              1_200),
          "pip install tensorflow-cpu==" + TENSORFLOW_VERSION);
      if (!hasTensorFlow(venvPython)) {
        throw new IOException(
            "tensorflow "
                + TENSORFLOW_VERSION
                + " does not import after installing it into "
                + venv);
      }
      Files.writeString(venv.resolve(READY), TENSORFLOW_VERSION);
      return venvPython;
    }
  }

  private static String basePython() throws IOException, InterruptedException {
    List<String> candidates = new ArrayList<>();
    String chosen = System.getProperty("fisheropt.python");
    if (chosen != null) {
      candidates.add(chosen);
    } else {
      candidates.addAll(List.of("python3.12", "python3.11", "python3.10", "python3.9", "python3"));
    }
    List<String> tried = new ArrayList<>();
    for (String candidate : candidates) {
      Processes.Outcome version;
      try {
        version =
            Processes.run(
                List.of(candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"), 60);
      } catch (IOException notOnPath) {
        tried.add(candidate + " (not found)");
        continue;
      }
      String v = version.output().strip();
      if (version.ok() && List.of("3.9", "3.10", "3.11", "3.12").contains(v)) {
        return candidate;
      }
      tried.add(candidate + " (" + (version.ok() ? "version " + v : "failed") + ")");
    }
    throw new IOException(
        "no Python 3.9–3.12 for tensorflow-cpu " + TENSORFLOW_VERSION + "; tried " + tried);
  }

  private static boolean hasTensorFlow(Path venvPython) throws IOException, InterruptedException {
    if (!Files.isExecutable(venvPython)) {
      return false;
    }
    Processes.Outcome o =
        Processes.run(
            List.of(
                venvPython.toString(),
                "-c",
                "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; import tensorflow as tf;"
                    + " print(tf.__version__)"),
            300);
    return o.ok() && o.output().strip().endsWith(TENSORFLOW_VERSION);
  }

  private static void check(Processes.Outcome o, String what) throws IOException {
    if (!o.ok()) {
      throw new IOException(what + " failed (exit " + o.exitCode() + "):\n" + o.tail());
    }
  }

  private static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
