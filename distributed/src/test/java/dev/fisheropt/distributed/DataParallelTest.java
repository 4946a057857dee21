package dev.fisheropt.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.fisheropt.optimizers.Replicas;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Session;

/**
 * Two worker processes on loopback train every optimizer data-parallel on the halves of each global
 * batch: parameters and every slot and counter must be bit-identical across the workers, and equal
 * (to 1e-6 relative, float64) to one process training on the whole batch; FISMO's sharded refresh
 * must equal the unsharded one; a worker that halts mid-run must make the other fail within the
 * collective timeout.
 */
class DataParallelTest {
  /**
   * Steps of every run: 4 by default; {@code -Dfisheropt.distributed.steps=S} measures how far one
   * process and two workers drift apart over longer runs (docs/distributed.md).
   */
  private static final int STEPS = Integer.getInteger("fisheropt.distributed.steps", 4);

  private static final double TOLERANCE = 1e-6;

  @TempDir static Path out;
  private static Launcher.Outcome training;

  @BeforeAll
  static void trainEveryOptimizerOnTwoWorkers() throws Exception {
    List<String> cases = new ArrayList<>();
    for (ParallelProblem.Case c : ParallelProblem.Case.values()) {
      cases.add(c.name());
    }
    training =
        Launcher.run(
            2,
            ParallelWorker.class,
            List.of(out.toString(), Integer.toString(STEPS), String.join(",", cases)),
            60 + 15L * STEPS);
    System.out.printf("two workers, every optimizer: %.1f s%n", training.seconds());
  }

  @Test
  void everyOptimizerKeepsTheWorkersIdenticalAndMatchesOneProcess() throws Exception {
    assertEquals(0, training.exitCode(), training.output());
    for (ParallelProblem.Case c : ParallelProblem.Case.values()) {
      Map<String, double[]> task0 = read(c, 0);
      Map<String, double[]> task1 = read(c, 1);
      assertEquals(task0.keySet(), task1.keySet(), c + ": variables");
      for (String name : task0.keySet()) {
        assertArrayEquals(task0.get(name), task1.get(name), c + ": " + name + " differs");
      }
      Map<String, double[]> single = oneProcess(c);
      assertEquals(single.keySet(), task0.keySet(), c + ": variables");
      double worst = 0;
      for (String name : single.keySet()) {
        double error = relativeError(task0.get(name), single.get(name));
        assertTrue(error <= TOLERANCE, c + ": " + name + " relative error " + error);
        worst = Math.max(worst, error);
      }
      System.out.printf("%s: workers bit-identical, vs one process %.1e%n", c, worst);
      assertTrue(task0.get("conv/kernel")[0] != 0, "trained");
    }
  }

  /**
   * One process that builds its batch as two shards (the model twice, on the halves, one loss each)
   * reduces gradients and statistics as the two workers do, so it computes the same bits, where one
   * process on the whole batch differs from them by rounding.
   */
  @Test
  void twoWorkersAreBitIdenticalToOneProcessOnTwoShards() throws Exception {
    assertEquals(0, training.exitCode(), training.output());
    for (ParallelProblem.Case c : ParallelProblem.Case.values()) {
      Map<String, double[]> workers = read(c, 0);
      Map<String, double[]> twoShards = oneProcess(c, 2);
      assertEquals(workers.keySet(), twoShards.keySet(), c + ": variables");
      for (String name : workers.keySet()) {
        assertArrayEquals(
            workers.get(name), twoShards.get(name), c + ": one process on two shards, " + name);
      }
      System.out.printf("%s: two workers bit-identical to one process on two shards%n", c);
    }
  }

  @Test
  void aCheckpointOfTheChiefResumesInOneProcess() throws Exception {
    assertEquals(0, training.exitCode(), training.output());
    for (ParallelProblem.Case c : List.of(ParallelProblem.Case.FISMO, ParallelProblem.Case.FROG)) {
      Path checkpoint = out.resolve(c + "-checkpoint");
      assertTrue(Files.isDirectory(checkpoint), checkpoint + " missing");
      Map<String, double[]> resumed;
      try (ParallelProblem p = new ParallelProblem(c, Replicas.single(), 99);
          Session s = new Session(p.graph)) {
        s.initialize();
        s.restore(checkpoint.resolve("ckpt").toString());
        p.train(s, STEPS / 2, STEPS - STEPS / 2);
        resumed = p.state(s);
      }
      Map<String, double[]> workers = read(c, 0);
      assertEquals(workers.keySet(), resumed.keySet());
      for (String name : workers.keySet()) {
        double error = relativeError(resumed.get(name), workers.get(name));
        assertTrue(error <= TOLERANCE, c + ": " + name + " relative error " + error);
      }
    }
  }

  @Test
  void aCheckpointOfOneProcessResumesOnTwoWorkers() throws Exception {
    Path dir = Files.createDirectories(out.resolve("resume"));
    List<ParallelProblem.Case> cases =
        List.of(ParallelProblem.Case.FISMO, ParallelProblem.Case.FROG);
    Map<ParallelProblem.Case, Map<String, double[]>> halfway = new HashMap<>();
    for (ParallelProblem.Case c : cases) {
      try (ParallelProblem p = new ParallelProblem(c, Replicas.single(), 7);
          Session s = new Session(p.graph)) {
        s.initialize();
        p.train(s, 0, STEPS / 2);
        s.save(dir.resolve(c + "-single").resolve("ckpt").toString());
        halfway.put(c, p.state(s));
      }
    }
    Launcher.Outcome o =
        Launcher.run(
            2,
            ParallelWorker.class,
            List.of(
                dir.toString(),
                Integer.toString(STEPS),
                String.join(",", cases.stream().map(Enum::name).toList()),
                "resume"),
            120);
    assertEquals(0, o.exitCode(), o.output());
    for (ParallelProblem.Case c : cases) {
      Map<String, double[]> task0 = read(dir, c, 0);
      Map<String, double[]> task1 = read(dir, c, 1);
      for (String name : task0.keySet()) {
        assertArrayEquals(task0.get(name), task1.get(name), c + ": " + name + " differs");
      }
      Map<String, double[]> uninterrupted = oneProcess(c);
      assertEquals(uninterrupted.keySet(), task0.keySet(), c + ": variables");
      double worst = 0;
      for (String name : uninterrupted.keySet()) {
        double error = relativeError(task0.get(name), uninterrupted.get(name));
        assertTrue(error <= TOLERANCE, c + ": " + name + " relative error " + error);
        worst = Math.max(worst, error);
      }
      // Not vacuous: the workers trained on from the checkpoint.
      assertFalse(
          Arrays.equals(halfway.get(c).get("dense/kernel"), task0.get("dense/kernel")),
          c + ": the second half did not move the parameters");
      System.out.printf("%s resumed on two workers: vs uninterrupted %.1e%n", c, worst);
    }
  }

  @Test
  void shardedFismoRefreshEqualsTheUnshardedOne() throws Exception {
    assertEquals(0, training.exitCode(), training.output());
    Map<String, double[]> sharded = read(ParallelProblem.Case.FISMO_SHARDED, 0);
    Map<String, double[]> plain = read(ParallelProblem.Case.FISMO, 0);
    assertEquals(plain.keySet(), sharded.keySet());
    for (String name : plain.keySet()) {
      double[] a = plain.get(name);
      double[] b = sharded.get(name);
      for (int i = 0; i < a.length; i++) {
        // ==, not bits: an owner's −0.0 arrives as 0.0 (−0.0 + 0.0 = 0.0).
        if (a[i] != b[i]) {
          fail(name + "[" + i + "]: unsharded " + a[i] + ", sharded " + b[i]);
        }
      }
    }
    // Not vacuous: the factors left the identity.
    double[] p = plain.get("dense/kernel-P");
    assertTrue(p != null, plain.keySet().toString());
    assertNotEquals(1.0, p[0]);
  }

  @Test
  void aWorkerThatDiesFailsTheOthersWithinTheTimeout() throws Exception {
    Launcher.Outcome o =
        Launcher.run(2, ParallelWorker.class, List.of(out.toString(), "6", "MUON", "die:2"), 60);
    assertNotEquals(0, o.exitCode(), o.output());
    Matcher m = Pattern.compile("task 0: step failed after ([0-9.]+) s: (.*)").matcher(o.output());
    assertTrue(m.find(), o.output());
    double seconds = Double.parseDouble(m.group(1));
    System.out.printf("dead worker reported after %.1f s: %s%n", seconds, m.group(2));
    // The collective timeout is 5 s; the whole launch must end well before the 60 s deadline.
    assertTrue(seconds < 15, "took " + seconds + " s");
    assertTrue(o.seconds() < 50, "launch took " + o.seconds() + " s");
  }

  @Test
  void workersStartedWithDifferentClusterDescriptionsRefuseToTrain() throws Exception {
    Launcher.Outcome o =
        Launcher.run(2, ParallelWorker.class, List.of(out.toString(), "2", "ADAM", "mismatch"), 60);
    assertEquals(4, o.exitCode(), o.output());
    for (int task = 0; task < 2; task++) {
      assertTrue(
          o.output()
              .contains(
                  "task "
                      + task
                      + ": the workers were started with different cluster descriptions: task 1"
                      + " lists other addresses than task 0 (both 2 workers)"),
          o.output());
    }
  }

  private static Map<String, double[]> oneProcess(ParallelProblem.Case c) {
    return oneProcess(c, 1);
  }

  /** One process on the whole batch, built as {@code shards} copies of the model on its parts. */
  private static Map<String, double[]> oneProcess(ParallelProblem.Case c, int shards) {
    try (ParallelProblem p = new ParallelProblem(c, Replicas.single(), 7, shards);
        Session s = new Session(p.graph)) {
      s.initialize();
      p.train(s, 0, STEPS);
      return p.state(s);
    }
  }

  /** max |a − b| over max |b| (absolute where b is all zeros). */
  private static double relativeError(double[] a, double[] b) {
    double diff = 0;
    double scale = 0;
    for (int i = 0; i < b.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    return scale == 0 ? diff : diff / scale;
  }

  private static Map<String, double[]> read(ParallelProblem.Case c, int task)
      throws IOException, ClassNotFoundException {
    return read(out, c, task);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, double[]> read(Path dir, ParallelProblem.Case c, int task)
      throws IOException, ClassNotFoundException {
    Path file = dir.resolve(c + "-task" + task + ".state");
    assertTrue(Files.exists(file), file + " missing:\n" + training.output());
    try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(file))) {
      return (Map<String, double[]>) in.readObject();
    }
  }
}
