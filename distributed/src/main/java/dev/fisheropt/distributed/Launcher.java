package dev.fisheropt.distributed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Starts a {@link LocalCluster} of workers (for tests, and for programs that launch workers of
 * their own), inside a private network namespace ({@code unshare -n}, only {@code lo} up) where the
 * machine allows it, since the gRPC servers bind every interface; elsewhere on plain loopback, with
 * a logged note. Every launch has a deadline after which the whole process tree is killed.
 */
public final class Launcher {
  private static final Logger LOG = Logger.getLogger(Launcher.class.getName());
  private static Boolean namespaces;

  private Launcher() {}

  /**
   * How a launch ended: {@code exitCode} as {@link LocalCluster} reports it (−1 if it outlived its
   * own deadline), the output of task 0 followed by every other task's log, and its wall time.
   */
  public record Outcome(int exitCode, String output, double seconds) {}

  /** Whether {@code unshare -n} with {@code lo} up works here (asked once). */
  public static synchronized boolean privateNetwork() {
    if (namespaces == null) {
      try {
        Process p =
            new ProcessBuilder("unshare", "-n", "sh", "-c", "ip link set lo up")
                .redirectErrorStream(true)
                .start();
        namespaces = p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        p.destroyForcibly();
      } catch (IOException | InterruptedException e) {
        namespaces = false;
      }
      if (!namespaces) {
        LOG.warning(
            "unshare -n is not permitted here: the test servers run on plain loopback (they"
                + " listen on every interface for the duration of the test)");
      }
    }
    return namespaces;
  }

  /** Runs {@code main args…} on {@code workers} workers; kills everything after {@code timeout}. */
  public static Outcome run(int workers, Class<?> main, List<String> args, long timeoutSeconds)
      throws IOException, InterruptedException {
    Path logs = Files.createTempDirectory("fisheropt-workers-");
    List<String> java = new ArrayList<>();
    java.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    java.add("-cp");
    java.add(System.getProperty("java.class.path"));
    java.add(LocalCluster.class.getName());
    java.add("--workers");
    java.add(Integer.toString(workers));
    java.add("--timeout-seconds");
    java.add(Long.toString(timeoutSeconds));
    java.add("--logs");
    java.add(logs.toString());
    java.add(main.getName());
    java.addAll(args);
    List<String> command = new ArrayList<>();
    if (privateNetwork()) {
      command.addAll(
          List.of("unshare", "-n", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"));
    }
    command.addAll(java);
    Path log = logs.resolve("launcher.log");
    long start = System.nanoTime();
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      // LocalCluster kills its workers at timeoutSeconds; this is the guard on LocalCluster.
      boolean done = p.waitFor(timeoutSeconds + 15, TimeUnit.SECONDS);
      double seconds = (System.nanoTime() - start) / 1e9;
      String output = Files.readString(log, StandardCharsets.UTF_8);
      for (int k = 1; k < workers; k++) {
        Path w = logs.resolve("worker-" + k + ".log");
        if (Files.exists(w)) {
          output += "\n--- worker " + k + " ---\n" + Files.readString(w, StandardCharsets.UTF_8);
        }
      }
      return new Outcome(done ? p.exitValue() : -1, output, seconds);
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }
}
