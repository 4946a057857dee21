package dev.fisheropt.distributed;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts N worker JVMs on loopback, one per task of a {@link Cluster}, and waits for them: {@code
 * java -cp CP dev.fisheropt.distributed.LocalCluster --workers N [--timeout-seconds S] [--logs DIR]
 * MAIN [ARGS…]} runs {@code MAIN ARGS…} on this classpath in N processes, each with {@value
 * Cluster#ENVIRONMENT_VARIABLE} describing the cluster and its task. Ports are picked free (bind
 * port 0, close). Task 0 prints to this process's output; task k &gt; 0 to {@code
 * DIR/worker-k.log}. The exit code is the first non-zero exit code of a worker (0 when all
 * succeed); after {@code S} seconds (default 600) every worker still running is killed and the exit
 * code is 124.
 *
 * <p>The gRPC servers listen on every interface; run this inside a private network namespace where
 * the machine allows it ({@code unshare -n sh -c 'ip link set lo up && exec java …'}).
 */
public final class LocalCluster {
  private LocalCluster() {}

  /** Runs the workers; see the class comment for the arguments. */
  public static void main(String[] args) throws Exception {
    int workers = 0;
    long timeoutSeconds = 600;
    Path logs = null;
    int i = 0;
    while (i < args.length && args[i].startsWith("--")) {
      switch (args[i]) {
        case "--workers" -> workers = Integer.parseInt(args[++i]);
        case "--timeout-seconds" -> timeoutSeconds = Long.parseLong(args[++i]);
        case "--logs" -> logs = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
      i++;
    }
    if (workers < 1 || i >= args.length) {
      System.err.println(
          "usage: LocalCluster --workers N [--timeout-seconds S] [--logs DIR] MAIN [ARGS...]");
      System.exit(2);
    }
    if (logs == null) {
      logs = Files.createTempDirectory("fisheropt-workers-");
    }
    List<String> main = Arrays.asList(args).subList(i, args.length);
    System.exit(run(workers, main, timeoutSeconds, logs));
  }

  /**
   * Runs {@code main} (a class name and its arguments) in {@code workers} JVMs of this classpath;
   * returns the first non-zero exit code, 124 on timeout, else 0.
   */
  public static int run(int workers, List<String> main, long timeoutSeconds, Path logs)
      throws IOException, InterruptedException {
    Files.createDirectories(logs);
    List<Integer> ports = freePorts(workers);
    List<Process> processes = new ArrayList<>();
    try {
      for (int task = 0; task < workers; task++) {
        Cluster cluster = Cluster.loopback(ports, task);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.addAll(main);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put(Cluster.ENVIRONMENT_VARIABLE, cluster.toJson());
        if (task == 0) {
          pb.inheritIO();
        } else {
          pb.redirectOutput(logs.resolve("worker-" + task + ".log").toFile());
        }
        processes.add(pb.start());
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      int exit = 0;
      for (int task = 0; task < workers; task++) {
        Process p = processes.get(task);
        long left = deadline - System.nanoTime();
        if (!p.waitFor(Math.max(left, 0), TimeUnit.NANOSECONDS)) {
          System.err.println(
              "LocalCluster: task " + task + " still running after " + timeoutSeconds + " s");
          return 124;
        }
        if (p.exitValue() != 0) {
          System.err.println("LocalCluster: task " + task + " exited with " + p.exitValue());
          if (task > 0) {
            System.err.println(tail(logs.resolve("worker-" + task + ".log")));
          }
          if (exit == 0) {
            exit = p.exitValue();
          }
        }
      }
      return exit;
    } finally {
      for (Process p : processes) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    }
  }

  /** {@code count} distinct ports that were free a moment ago (bound to port 0, then closed). */
  public static List<Integer> freePorts(int count) throws IOException {
    List<ServerSocket> held = new ArrayList<>();
    try {
      List<Integer> ports = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        ServerSocket s = new ServerSocket(0);
        held.add(s);
        ports.add(s.getLocalPort());
      }
      return ports;
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  private static String tail(Path log) throws IOException {
    if (!Files.exists(log)) {
      return "";
    }
    String text = Files.readString(log, StandardCharsets.UTF_8);
    return text.length() <= 4_000 ? text : "…" + text.substring(text.length() - 4_000);
  }
}
