package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.distributed.Cluster;
import dev.fisheropt.distributed.DataParallel;
import dev.fisheropt.distributed.Launcher;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code compare --workers N} end to end: the comparison on a small synthetic set in one worker
 * process and in two ({@link Launcher}: {@code LocalCluster} in a private network namespace where
 * permitted). 448 training images in batches of 40 leave a partial batch of 8 every epoch, which
 * both drop, so both train on the same rows and their curves agree to float32 rounding; task 0
 * alone evaluates and writes the outputs.
 */
class CompareWorkersTest {
  private static final long DEADLINE_SECONDS = 240;

  @TempDir static Path dir;
  static Launcher.Outcome one;
  static Launcher.Outcome two;
  static Launcher.Outcome twoShards;

  @BeforeAll
  static void compareOnOneAndOnTwoWorkers() throws IOException, InterruptedException {
    Path data = Files.createDirectories(dir.resolve("data"));
    IdxFiles.syntheticFashionMnist(data, 512, 200);
    one = Launcher.run(1, Compare.class, arguments(data, 1), DEADLINE_SECONDS);
    two = Launcher.run(2, Compare.class, arguments(data, 2, 2), DEADLINE_SECONDS);
    twoShards = Launcher.run(1, Compare.class, arguments(data, 1, 2), DEADLINE_SECONDS);
    System.out.printf(
        "compare on 1 worker %.1f s, on 2 workers %.1f s, on 1 worker in 2 shards %.1f s%n",
        one.seconds(), two.seconds(), twoShards.seconds());
  }

  private static List<String> arguments(Path data, int workers) {
    return arguments(data, workers, workers);
  }

  private static List<String> arguments(Path data, int workers, int shards) {
    return List.of(
        "--workers",
        Integer.toString(workers),
        "--shards",
        Integer.toString(shards),
        "--optimizers",
        "adam,fismo",
        "--data",
        data.toString(),
        "--out",
        dir.resolve("out-" + workers + "x" + shards).toString(),
        "--batch",
        "40",
        "--epochs",
        "2",
        "--eval-every",
        "11",
        "--validation",
        "64",
        "--fismo-interval",
        "3");
  }

  @Test
  void twoWorkersTrainOnTheRowsOfOneAndTaskZeroReports() throws IOException {
    assertEquals(0, one.exitCode(), one.output());
    assertEquals(0, two.exitCode(), two.output());
    assertTrue(
        two.output().contains("448 training, 64 validation, 200 test images; cnn, batch 40"),
        two.output());
    assertTrue(two.output().contains("2 worker processes, 20 images each per batch"), two.output());
    // The other worker trained every step of both runs and left the reporting to task 0.
    assertTrue(two.output().contains("FISMO: "), two.output());
    String worker1 = two.output().substring(two.output().indexOf("--- worker 1 ---"));
    assertTrue(worker1.contains("] 11/11 steps"), worker1);
    assertTrue(worker1.contains("Adam: ") && worker1.contains("(task 0 evaluates)"), worker1);
    assertFalse(worker1.contains("test accuracy"), worker1);
    String summary = Files.readString(dir.resolve("out-2x2/summary.md"));
    assertTrue(summary.startsWith("2 worker processes, 20 images each per batch"), summary);
    assertTrue(summary.contains("| FISMO "), summary);

    Map<String, double[]> single = curves(dir.resolve("out-1x1/curves.csv"));
    Map<String, double[]> parallel = curves(dir.resolve("out-2x2/curves.csv"));
    assertEquals(single.keySet(), parallel.keySet());
    for (String key : single.keySet()) {
      double[] a = single.get(key);
      double[] b = parallel.get(key);
      // Other rows (one off, or the dropped 8) change these losses by percents; the same rows
      // only by float32 rounding of the reductions.
      assertEquals(a[0], b[0], 1e-4 * Math.abs(a[0]), key + " train loss");
      if (!Double.isNaN(a[1])) {
        assertEquals(a[1], b[1], 0.02, key + " validation accuracy");
      }
    }
    // 11 steps an epoch (8 of the 448 images dropped), 2 epochs, logged at 10, 11, 20, 22.
    assertEquals(
        List.of("adam@10", "adam@11", "adam@20", "adam@22"),
        single.keySet().stream().filter(k -> k.startsWith("adam")).toList());
  }

  /**
   * One process that reduces every batch as two shards computes what two workers compute: every
   * logged training loss (a double written so that it reads back exactly) and validation accuracy
   * is the same, where the whole-batch process differs from both by float32 rounding.
   */
  @Test
  void oneProcessOnTwoShardsTrainsBitForBitAsTwoWorkers() throws IOException {
    assertEquals(0, twoShards.exitCode(), twoShards.output());
    assertTrue(
        twoShards
            .output()
            .contains("1 worker process, 40 images each per batch, reduced as 2 shards of 20"),
        twoShards.output());
    List<String> workers = lossesAndAccuracies(dir.resolve("out-2x2/curves.csv"));
    List<String> shards = lossesAndAccuracies(dir.resolve("out-1x2/curves.csv"));
    assertEquals(workers, shards);
    assertNotEquals(workers, lossesAndAccuracies(dir.resolve("out-1x1/curves.csv")));
    assertEquals(8, workers.size(), "2 optimizers × 4 logged points");
  }

  @Test
  void everyWorkerCountTrainsTheSameRowsInEqualShares() {
    int batch = 128;
    // 55,000 training images: 429 whole batches; the 88 images left are dropped for every count.
    assertEquals(429, Compare.stepsPerEpoch(55_000, batch));
    for (int workers : new int[] {1, 2, 4, 8}) {
      List<Integer> rows = new ArrayList<>();
      for (int task = 0; task < workers; task++) {
        Cluster cluster = Cluster.loopback(ports(workers), task);
        DataParallel.Share share = DataParallel.share(cluster, batch);
        assertEquals(batch / workers, share.rows());
        for (int r = share.start(); r < share.start() + share.rows(); r++) {
          rows.add(r);
        }
      }
      for (int r = 0; r < batch; r++) {
        assertEquals(r, rows.get(r), workers + " workers");
      }
    }
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> DataParallel.share(Cluster.loopback(ports(3), 0), batch));
    assertTrue(
        e.getMessage().startsWith("a global batch of 128 rows does not split equally between 3"),
        e.getMessage());
  }

  @Test
  void aComparisonAloneRefusesMoreThanOneWorker() {
    CompareOptions options = CompareOptions.parse("--workers", "2");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new Compare(
                    options,
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
    assertTrue(e.getMessage().contains("bash run-compare.sh --workers 2"), e.getMessage());
  }

  private static List<Integer> ports(int n) {
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ports.add(2222 + i);
    }
    return ports;
  }

  /** Each logged point of curves.csv without its seconds: optimizer, seed, step, loss, accuracy. */
  private static List<String> lossesAndAccuracies(Path csv) throws IOException {
    List<String> lines = Files.readAllLines(csv);
    return lines.subList(1, lines.size()).stream()
        .map(line -> line.split(",", -1))
        .map(c -> String.join(",", c[0], c[1], c[2], c[4], c[5]))
        .toList();
  }

  /** {@code optimizer@step} → {train loss, validation accuracy (NaN where not evaluated)}. */
  private static Map<String, double[]> curves(Path csv) throws IOException {
    Map<String, double[]> points = new LinkedHashMap<>();
    List<String> lines = Files.readAllLines(csv);
    for (String line : lines.subList(1, lines.size())) {
      String[] c = line.split(",", -1);
      points.put(
          c[0] + "@" + c[2],
          new double[] {
            Double.parseDouble(c[4]), c[5].isEmpty() ? Double.NaN : Double.parseDouble(c[5])
          });
    }
    return points;
  }
}
