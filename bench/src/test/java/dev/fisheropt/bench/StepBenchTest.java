package dev.fisheropt.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Choosing benchmark entries by label, the FLOP model's predictions that docs/benchmarks.md quotes,
 * and the step's counts and roofline against hand counts on small shapes.
 */
class StepBenchTest {
  @Test
  void selectionKeepsAdamFirstSinceEveryRatioIsToAdam() {
    List<StepBench.Entry> chosen = StepBench.select("frog,SGD+momentum");
    assertEquals(
        List.of("Adam", "SGD+momentum", "FROG"),
        chosen.stream().map(StepBench.Entry::label).toList());
    assertEquals(
        StepBench.ENTRIES.stream().filter(e -> !e.onRequest()).toList(), StepBench.select("all"));
    assertTrue(StepBench.select("FROG XLA").get(1).xla());
    assertTrue(
        assertThrows(IllegalArgumentException.class, () -> StepBench.select("sgd"))
            .getMessage()
            .contains("unknown entry 'sgd'"));
  }

  @Test
  void flopModelPutsAdaFisherAtAdamsCostAndFrogsRowSpaceSolveAtAboutThirtyFiveExamples() {
    StepBench.Entry adaFisher = StepBench.select("AdaFisher").get(1);
    StepBench.Entry frog = StepBench.select("FROG").get(1);
    StepBench.Entry momentum = StepBench.select("SGD+momentum").get(1);
    assertEquals(1.00, FlopModel.stepRatio(adaFisher, 1024, 512), 0.005);
    // By hand: 156 FLOPs per parameter (momentum, QᵀM, Q(QᵀM), the map back, the step) plus QR,
    // W' = XQ', CG on [25, n] coordinates and row weights: 0.323 GFLOP, the forward+backward of
    // about 34 examples.
    assertEquals(0.323e9, FlopModel.update(frog, 1024, 512), 0.001e9);
    double perExample = FlopModel.forwardBackward(1024, 512) / 512;
    assertEquals(34, FlopModel.update(frog, 1024, 512) / perExample, 0.5);
    assertEquals(1.065, FlopModel.stepRatio(frog, momentum, 1024, 512), 0.001);
    assertEquals(1.514, FlopModel.stepRatio(frog, momentum, 1024, 64), 0.001);
  }

  @Test
  void forwardBackwardCountsTheMatMulsThatRunOnTheMlp784To2To2To10AtBatch3() {
    List<long[]> products = FlopModel.matMuls(2, 3);
    List<long[]> byHand =
        List.of(
            new long[] {3, 784, 2}, // x·W₁
            new long[] {784, 3, 2}, // xᵀ·dZ₁; no dZ₁·W₁ᵀ, the images' gradient is pruned
            new long[] {3, 2, 2}, // h₁·W₂
            new long[] {2, 3, 2}, // h₁ᵀ·dZ₂
            new long[] {3, 2, 2}, // dZ₂·W₂ᵀ
            new long[] {3, 2, 10}, // h₂·W₃
            new long[] {2, 3, 10}, // h₂ᵀ·dZ₃
            new long[] {3, 10, 2}); // dZ₃·W₃ᵀ
    assertEquals(byHand.size(), products.size());
    for (int i = 0; i < byHand.size(); i++) {
      assertArrayEquals(byHand.get(i), products.get(i), "product " + i);
    }
    // forward and kernel gradients 2·3·(784·2 + 2·2 + 2·10) each, input gradients 2·3·(2·2 + 2·10)
    assertEquals(9552 + 9552 + 144, FlopModel.forwardBackward(2, 3));
  }

  @Test
  void rooflineChargesEachPieceAtItsOwnCeiling() {
    StepBench.Entry adam = StepBench.ENTRIES.get(0);
    // 1 FLOP/s and 4 bytes/s; the MLP 784→2→2→10 at batch 3, max(FLOPs, bytes ÷ 4) per piece:
    double matMuls =
        2 * Math.max(9408, 15704 / 4.0) // x·W₁ and xᵀ·dZ₁: 4·(3·784 + 784·2 + 3·2) bytes
            + 3 * Math.max(24, 64 / 4.0) // the three 2×2 products, 4·(6 + 4 + 6) bytes
            + 3 * Math.max(120, 224 / 4.0); // the three with the head, 4·(6 + 20 + 30) bytes
    // BiasAdd 8·6 + BiasAddGrad 4·6 + ReLU 8·6 + ReluGrad 12·6 per hidden layer; head 8·30 + 4·30
    double elementwise = (2 * 192 + 360) / 4.0;
    // Adam: 12 FLOPs and 207 bytes per parameter, 784·2 + 2·2 + 2·10 parameters
    double update = Math.max(12 * 1592, 207 * 1592 / 4.0);
    assertEquals(744, ByteModel.elementwiseForwardBackward(2, 3));
    assertEquals(matMuls + elementwise + update, new Roofline(1, 4).step(adam, 2, 3), 1e-9);
  }
}
