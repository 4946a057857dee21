package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.Tensors;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat64;

class FactorEmaTest {
  @Test
  void blendsThenRenormalisesToTraceDimensionAndSymmetrises() {
    double[][] previous = DenseMatrices.identity(4);
    double[][] observation = DenseMatrices.spd(3, 4, 0.2);
    observation[0][1] += 1e-3; // a little asymmetry, as rounding leaves in G Q⁻¹ Gᵀ
    double[][] out =
        Tensors.evaluateMatrix(
            tf ->
                FactorEma.traceNormalized(
                    tf,
                    Tensors.constant(tf, TFloat64.class, previous),
                    Tensors.constant(tf, TFloat64.class, observation),
                    tf.constant(0.9)));
    double trace = 0;
    double expectedTrace = 0;
    for (int i = 0; i < 4; i++) {
      trace += out[i][i];
      expectedTrace += 0.9 + 0.1 * observation[i][i];
    }
    assertEquals(4.0, trace, 1e-14);
    assertTrue(
        DenseMatrices.maxAbsDifference(out, DenseMatrices.transpose(out)) == 0.0,
        "result must be exactly symmetric");
    double scale = 4.0 / expectedTrace;
    double expected01 = scale * 0.1 * (observation[0][1] + observation[1][0]) / 2;
    assertEquals(expected01, out[0][1], 1e-15);
  }

  @Test
  void decayOneKeepsThePreviousFactor() {
    double[][] previous = DenseMatrices.spd(4, 3, 0.5);
    double trace = previous[0][0] + previous[1][1] + previous[2][2];
    for (double[] row : previous) {
      for (int j = 0; j < 3; j++) {
        row[j] *= 3 / trace;
      }
    }
    double[][] out =
        Tensors.evaluateMatrix(
            tf ->
                FactorEma.traceNormalized(
                    tf,
                    Tensors.constant(tf, TFloat64.class, previous),
                    Tensors.constant(tf, TFloat64.class, DenseMatrices.spd(9, 3, 1.0)),
                    tf.constant(1.0)));
    assertTrue(DenseMatrices.maxAbsDifference(out, previous) < 1e-15);
  }
}
