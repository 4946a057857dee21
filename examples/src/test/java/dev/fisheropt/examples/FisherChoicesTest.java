package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.optimizers.LayerCollection;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;

/**
 * AdaFisher, AdaFisherW and FROG are choices of {@code compare}, run by default, and each trains
 * the CNN through a {@link LayerCollection} of the model (AdaFisher every conv and dense layer,
 * FROG all but the classifier head) on a small synthetic Fashion-MNIST-shaped set.
 */
class FisherChoicesTest {
  @TempDir Path dir;

  @Test
  void theDefaultSetRunsEveryOptimizerOfTheIssue() {
    assertEquals(
        List.of(
            OptimizerChoice.ADAM,
            OptimizerChoice.MUON,
            OptimizerChoice.FISMO,
            OptimizerChoice.ADAFISHER,
            OptimizerChoice.ADAFISHERW,
            OptimizerChoice.FROG),
        OptimizerChoice.defaults());
    assertEquals(OptimizerChoice.FROG, OptimizerChoice.parse("FROG"));
    assertEquals("AdaFisherW", OptimizerChoice.parse("adafisherw").displayName());
  }

  @Test
  void frogLeavesTheClassifierHeadOutAdaFisherDoesNot() {
    for (Model.Architecture architecture : Model.Architecture.values()) {
      try (Graph graph = new Graph()) {
        Model model = new Model(graph, architecture, 8, 16, 1);
        List<String> all = names(OptimizerChoice.ADAFISHER.layersOf(model));
        List<String> frog = names(OptimizerChoice.FROG.layersOf(model));
        String head = architecture == Model.Architecture.CNN ? "dense2/kernel" : "dense3/kernel";
        assertEquals(head, all.get(all.size() - 1), architecture + ": " + all);
        assertEquals(all.subList(0, all.size() - 1), frog, architecture.toString());
      }
    }
  }

  private static List<String> names(LayerCollection layers) {
    return layers.layers().stream().map(LayerCollection.Layer::name).toList();
  }

  @Test
  void adaFisherAndAdaFisherWLearnTheSyntheticBandsOnTheCnn() throws IOException {
    assertLearns("adafisher,adafisherw", 2);
  }

  /**
   * FROG's default rate moves each column a fixed Fisher-norm distance; it needs more steps here.
   */
  @Test
  void frogLearnsTheSyntheticBandsOnTheCnn() throws IOException {
    assertLearns("frog", 6);
  }

  private void assertLearns(String optimizers, int epochs) throws IOException {
    Path data = Files.createDirectories(dir.resolve("data"));
    IdxFiles.syntheticFashionMnist(data, 512, 200);
    ByteArrayOutputStream text = new ByteArrayOutputStream();
    CompareOptions options =
        CompareOptions.parse(
            "--optimizers",
            optimizers,
            "--data",
            data.toString(),
            "--out",
            dir.resolve("out").toString(),
            "--batch",
            "32",
            "--epochs",
            Integer.toString(epochs),
            "--eval-every",
            "16",
            "--validation",
            "64",
            // the constant rates these checks were calibrated with (the warmup spends steps)
            "--schedule",
            "constant",
            "--lr",
            "adafisher=5e-4,adafisherw=5e-4,frog=1e-3");
    List<Compare.Result> results =
        new Compare(options, new PrintStream(text, true, StandardCharsets.UTF_8)).run();
    String printed = text.toString(StandardCharsets.UTF_8);
    assertEquals(optimizers.split(",").length, results.size());
    for (Compare.Result r : results) {
      // 512 − 64 held out = 448 training images: 14 batches of 32 per epoch
      assertEquals(14L * epochs, r.steps());
      assertTrue(
          r.testAccuracy() > 0.5,
          r.choice()
              + " should learn the synthetic bands, got "
              + r.testAccuracy()
              + "\n"
              + printed);
      assertTrue(printed.contains("| " + r.choice().displayName() + " "), printed);
    }
  }
}
