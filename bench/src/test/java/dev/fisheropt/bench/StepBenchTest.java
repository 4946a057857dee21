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
  void flopModelPutsAdaFisherAtAdamsCostAndFrogsCgStepsAtAboutSeventyExamples() {
    StepBench.Entry adaFisher = StepBench.select("AdaFisher").get(1);
    StepBench.Entry frog = StepBench.select("FROG").get(1);
    StepBench.Entry momentum = StepBench.select("SGD+momentum").get(1);
    assertEquals(1.00, FlopModel.stepRatio(adaFisher, 1024, 512), 0.005);
    assertEquals(1.14, FlopModel.stepRatio(frog, momentum, 1024, 512), 0.005);
    assertEquals(2.11, FlopModel.stepRatio(frog, momentum, 1024, 64), 0.005);
    assertEquals(0.805e9, FlopModel.update(frog, 1024, 512), 0.001e9);
  }
}
