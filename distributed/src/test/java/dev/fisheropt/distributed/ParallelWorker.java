package dev.fisheropt.distributed;

import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.Session;

/**
 * One worker of the multi-process tests, started by {@link LocalCluster}: {@code ParallelWorker OUT
 * STEPS CASE[,CASE…] [die:K | mismatch]} trains each {@link ParallelProblem.Case} for STEPS steps
 * on this task's share of the batches, each replica starting from weights of its own seed (the
 * broadcast must replace them), and writes every variable to {@code OUT/<case>-task<k>.state};
 * after STEPS/2 steps the chief writes a checkpoint {@code OUT/<case>-checkpoint/ckpt}. With {@code
 * die:K}, task 1 halts after K steps of the first case, and the others report the collective's
 * error and the seconds it took, and exit with 3. With {@code mismatch}, task 1 spells task 0's
 * host {@code localhost} (reachable, but another description): every worker must refuse to train,
 * print the error and exit with 4. With {@code fewer:K[:late]}, task K leaves the last worker out
 * of its description (collectives time out after 5 s): every worker must refuse the same way; with
 * {@code :late} the last task waits 3 s between creating its session and its first run. With {@code
 * resume}, the workers start from the checkpoint {@code OUT/<case>-single/ckpt} (step STEPS/2, as
 * one process wrote it) and train the second half.
 */
public final class ParallelWorker {
  private ParallelWorker() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[0]);
    int steps = Integer.parseInt(args[1]);
    List<ParallelProblem.Case> cases = new ArrayList<>();
    for (String name : args[2].split(",")) {
      cases.add(ParallelProblem.Case.valueOf(name));
    }
    String mode = args.length > 3 ? args[3] : "";
    int dieAfter = mode.startsWith("die:") ? Integer.parseInt(mode.substring(4)) : -1;
    Cluster cluster = Cluster.fromEnvironment();
    if (mode.equals("mismatch") && cluster.taskIndex() == 1) {
      List<String> workers = new ArrayList<>(cluster.workers());
      workers.set(0, workers.get(0).replace("127.0.0.1", "localhost"));
      cluster = Cluster.of(workers, 1);
    }
    int fewer = mode.startsWith("fewer:") ? Integer.parseInt(mode.split(":")[1]) : -1;
    boolean lastIsLate = mode.endsWith(":late");
    if (cluster.taskIndex() == fewer) {
      cluster = Cluster.of(cluster.workers().subList(0, cluster.size() - 1), fewer);
    }
    DataParallel job = DataParallel.start(cluster, dieAfter >= 0 || fewer >= 0 ? 5f : 30f);
    int task = cluster.taskIndex();
    Session last = null;
    List<ParallelProblem> problems = new ArrayList<>();
    for (ParallelProblem.Case c : cases) {
      ParallelProblem p = new ParallelProblem(c, job.collectives(), 7 + task);
      problems.add(p);
      long begin = System.nanoTime();
      Session s = job.newSession(p.graph);
      if (lastIsLate && task == cluster.size() - 1) {
        // The others have refused and exited by now: this task's session meets no master.
        Thread.sleep(3_000);
      }
      boolean resume = mode.equals("resume");
      try {
        if (resume) {
          job.initialize(s, out.resolve(c + "-single").resolve("ckpt").toString());
        } else {
          job.initialize(s);
        }
      } catch (RuntimeException e) {
        System.out.printf(
            "task %d refused after %.1f s: %s%n",
            task, (System.nanoTime() - begin) / 1e9, e.getMessage());
        System.exit(4);
      }
      long start = System.nanoTime();
      if (dieAfter >= 0) {
        p.train(s, 0, dieAfter);
        if (task == 1) {
          System.out.println("task 1 halts after " + dieAfter + " steps");
          Runtime.getRuntime().halt(1);
        }
        try {
          p.train(s, dieAfter, steps - dieAfter);
        } catch (RuntimeException e) {
          System.out.printf(
              "task %d: step failed after %.1f s: %s%n",
              task, (System.nanoTime() - start) / 1e9, e.getMessage());
          System.exit(3);
        }
      }
      if (!resume) {
        // Half-way, the chief writes a checkpoint that the test resumes in one process.
        p.train(s, 0, steps / 2);
        job.save(s, out.resolve(c + "-checkpoint").resolve("ckpt").toString());
      }
      p.train(s, steps / 2, steps - steps / 2);
      System.out.printf(
          "task %d %s: %d steps in %.2f s%n", task, c, steps, (System.nanoTime() - start) / 1e9);
      Map<String, double[]> state = p.state(s);
      try (ObjectOutputStream o =
          new ObjectOutputStream(
              Files.newOutputStream(out.resolve(c + "-task" + task + ".state")))) {
        o.writeObject(state);
      }
      if (last != null) {
        last.close();
      }
      last = s;
    }
    job.finish(last);
    System.exit(0);
  }
}
