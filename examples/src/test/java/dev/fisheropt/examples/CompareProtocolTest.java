package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The comparison protocol on tiny budgets (the MLP, a synthetic set): tuning chooses by validation
 * loss and never reads a test label; {@code --seeds} statistics come from the per-seed runs.
 */
class CompareProtocolTest {
  @TempDir Path dir;

  private Compare compare(String... flags) throws IOException {
    Path data = dir.resolve("data");
    if (!Files.isDirectory(data)) {
      IdxFiles.syntheticFashionMnist(Files.createDirectories(data), 320, 100);
    }
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "--model",
                "mlp",
                "--hidden",
                "32",
                "--batch",
                "32",
                "--validation",
                "64",
                "--eval-every",
                "4",
                "--out",
                dir.resolve("out").toString()));
    args.addAll(List.of(flags));
    return new Compare(
        CompareOptions.parse(args.toArray(String[]::new)),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }

  private FashionMnist.Data data() throws IOException {
    return FashionMnist.load(dir.resolve("data"));
  }

  @Test
  void tuningChoosesByValidationLossAndNeverReadsTestLabels() throws IOException {
    Compare c =
        compare(
            "--optimizers",
            "adam,momentum",
            "--tune",
            "--tune-steps",
            "6",
            "--tune-factors",
            "0.1,1,10");
    FashionMnist.Data loaded = data();
    FashionMnist.Split test = loaded.test();
    List<Compare.Result> results = c.run(new FashionMnist.Data(loaded.train(), test));
    // the only test-label reads: one final test accuracy per run
    assertEquals((long) results.size() * test.count(), test.labelReads());
    assertEquals(6, c.trials().size());
    for (OptimizerChoice choice : List.of(OptimizerChoice.ADAM, OptimizerChoice.MOMENTUM)) {
      List<Compare.Trial> mine = c.trials().stream().filter(t -> t.choice() == choice).toList();
      Compare.Trial best =
          mine.stream()
              .min(java.util.Comparator.comparingDouble(Compare.Trial::validationLoss))
              .orElseThrow();
      Compare.Result run =
          results.stream().filter(r -> r.choice() == choice).findFirst().orElseThrow();
      assertEquals(best.learningRate(), run.learningRate(), "the run uses the chosen rate");
      assertEquals(6, best.steps());
    }
    List<String> csv = Files.readAllLines(dir.resolve("out/tuning.csv"));
    assertEquals(
        "optimizer,factor,learning_rate,steps,validation_loss,validation_accuracy,chosen",
        csv.get(0));
    assertEquals(7, csv.size());
    assertEquals(2, csv.stream().filter(l -> l.endsWith(",true")).count());
    assertTrue(Files.readString(dir.resolve("out/tuning.md")).contains("yes |"));
  }

  @Test
  void tuningAloneRunsWithSealedTestLabels() throws IOException {
    Compare c = compare("--optimizers", "adam", "--tune-steps", "4", "--tune-factors", "0.5,2");
    FashionMnist.Split train = data().train();
    FashionMnist.Split sealedTest = data().test().sealed();
    assertThrows(IllegalStateException.class, () -> sealedTest.label(0));
    // tune() takes no test split at all: it cannot read a test label (the label count in the test
    // above checks the whole run)
    Files.createDirectories(dir.resolve("out"));
    var chosen = c.tune(train.head(256), train.select(new int[] {256, 257, 258, 259}));
    assertEquals(1, chosen.size());
    assertEquals(2, c.trials().size());
  }

  @Test
  void chooseTakesTheLowestFiniteValidationLoss() {
    OptimizerChoice a = OptimizerChoice.ADAM;
    List<Compare.Trial> trials =
        List.of(
            new Compare.Trial(a, 0.5, 1e-3, 10, 0.9, 0.2),
            new Compare.Trial(a, 1, 2e-3, 10, Double.NaN, 0.99),
            new Compare.Trial(a, 2, 4e-3, 10, 0.4, 0.5),
            new Compare.Trial(a, 4, 8e-3, 10, 0.6, 0.9));
    assertEquals(2, Compare.choose(trials), "lowest loss wins, not highest accuracy");
  }

  @Test
  void twoSeedsGiveMeanAndSampleStdOfThePerSeedResults() throws IOException {
    Compare c = compare("--optimizers", "adam", "--seeds", "2", "--target", "0.3");
    List<Compare.Result> results = c.run(data());
    assertEquals(2, results.size());
    assertEquals(List.of(1L, 2L), results.stream().map(Compare.Result::seed).toList());
    Compare.Summary s = c.summaries().get(0);
    double a = results.get(0).testAccuracy();
    double b = results.get(1).testAccuracy();
    assertEquals((a + b) / 2, s.testAccuracy().mean(), 1e-12);
    assertEquals(Math.abs(a - b) / Math.sqrt(2), s.testAccuracy().std(), 1e-12);
    double la = results.get(0).finalTrainLoss();
    double lb = results.get(1).finalTrainLoss();
    assertEquals((la + lb) / 2, s.finalTrainLoss().mean(), 1e-12);
    assertEquals(Math.abs(la - lb) / Math.sqrt(2), s.finalTrainLoss().std(), 1e-12);
    assertEquals(0.3, s.target());
    // different seeds: different initial weights and batch order
    assertTrue(results.get(0).finalTrainLoss() != results.get(1).finalTrainLoss() || a != b);
    String table = Files.readString(dir.resolve("out/summary.md"));
    assertTrue(table.contains(" ± "), table);
  }

  @Test
  void statsOfKnownValues() {
    Stats s = Stats.of(2, 4, 4, 4, 5, 5, 7, 9);
    assertEquals(5, s.mean(), 1e-12);
    assertEquals(Math.sqrt(32.0 / 7), s.std(), 1e-12);
    assertEquals(0, Stats.of(3).std());
  }
}
