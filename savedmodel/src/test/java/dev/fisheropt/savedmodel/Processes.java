package dev.fisheropt.savedmodel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs child processes (a fresh JVM, Python) and captures what they print. */
final class Processes {
  private Processes() {}

  record Outcome(int exitCode, String output) {
    boolean ok() {
      return exitCode == 0;
    }

    String tail() {
      return output.length() <= 4_000 ? output : "…" + output.substring(output.length() - 4_000);
    }
  }

  /** Runs {@code command}, merging stderr into stdout, killing it after {@code timeoutSeconds}. */
  static Outcome run(List<String> command, long timeoutSeconds)
      throws IOException, InterruptedException {
    Path log = Files.createTempFile("fisheropt-process-", ".log");
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        return new Outcome(
            -1,
            "timed out after "
                + timeoutSeconds
                + " s: "
                + command
                + "\n"
                + Files.readString(log, StandardCharsets.UTF_8));
      }
      return new Outcome(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(log);
    }
  }

  /** Runs {@code mainClass} of the test classpath in a new JVM. */
  static Outcome java(Class<?> mainClass, List<String> args, long timeoutSeconds)
      throws IOException, InterruptedException {
    return java(List.of(), mainClass, args, timeoutSeconds);
  }

  /** Runs {@code mainClass} of the test classpath in a new JVM started with {@code jvmOptions}. */
  static Outcome java(
      List<String> jvmOptions, Class<?> mainClass, List<String> args, long timeoutSeconds)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass.getName());
    command.addAll(args);
    return run(command, timeoutSeconds);
  }
}
