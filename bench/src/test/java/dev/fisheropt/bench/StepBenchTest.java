package dev.fisheropt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Choosing benchmark entries by label, and the FLOP model's predictions that docs/benchmarks.md
 * quotes.
 */
class StepBenchTest {
  @Test
  void selectionKeepsAdamFirstSinceEveryRatioIsToAdam() {
    List<StepBench.Entry> chosen = StepBench.select("frog,SGD+momentum");
    assertEquals(
        List.of("Adam", "SGD+momentum", "FROG"),
        chosen.stream().map(StepBench.Entry::label).toList());
    assertEquals(
        StepBench.ENTRIES.stream().filter(e -> !e.xla()).toList(), StepBench.select("all"));
    assertTrue(StepBench.select("FROG XLA").get(1).xla());
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> StepBench.select("sgd"))
            .getMessage()
            .contains("unknown entry 'sgd'"));
  }

  @Test
  void flopModelPutsAdaFisherAtAdamsCostAndFrogsRowSpaceSolveAtAboutThirtyExamples() {
    StepBench.Entry adaFisher = StepBench.select("AdaFisher").get(1);
    StepBench.Entry frog = StepBench.select("FROG").get(1);
    StepBench.Entry momentum = StepBench.select("SGD+momentum").get(1);
    assertEquals(1.00, FlopModel.stepRatio(adaFisher, 1024, 512), 0.005);
    // By hand: 156 FLOPs per parameter (momentum, QᵀM, Q(QᵀM), the map back, the step) plus QR,
    // W' = XQ', CG on [25, n] coordinates and row weights: 0.323 GFLOP, the forward+backward of
    // about 29 examples.
    assertEquals(0.323e9, FlopModel.update(frog, 1024, 512), 0.001e9);
    assertEquals(1.055, FlopModel.stepRatio(frog, momentum, 1024, 512), 0.001);
    assertEquals(1.441, FlopModel.stepRatio(frog, momentum, 1024, 64), 0.001);
  }
}
