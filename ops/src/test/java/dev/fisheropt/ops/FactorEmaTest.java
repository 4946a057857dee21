package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat64;

class FactorEmaTest {
  @Test
  void blendsThenRenormalisesToTraceDimensionAndSymmetrises() {
    double[][] previous = Dense.identity(4);
    double[][] observation = Dense.spd(3, 4, 0.2);
    observation[0][1] += 1e-3; // a little asymmetry, as rounding leaves in G Q⁻¹ Gᵀ
    double[][] out = GraphRunner.run(tf -> FactorEma.traceNormalized(tf, GraphRunner.constant(tf, previous, TFloat64.class),
        GraphRunner.constant(tf, observation, TFloat64.class), tf.constant(0.9)));
    double trace = 0;
    double expectedTrace = 0;
    for (int i = 0; i < 4; i++) {
      trace += out[i][i];
      expectedTrace += 0.9 + 0.1 * observation[i][i];
    }
    assertEquals(4.0, trace, 1e-14);
    assertTrue(Dense.maxAbsDifference(out, Dense.transpose(out)) == 0.0, "result must be exactly symmetric");
    double scale = 4.0 / expectedTrace;
    double expected01 = scale * 0.1 * (observation[0][1] + observation[1][0]) / 2;
    assertEquals(expected01, out[0][1], 1e-15);
  }

  @Test
  void decayOneKeepsThePreviousFactor() {
    double[][] previous = Dense.spd(4, 3, 0.5);
    double trace = previous[0][0] + previous[1][1] + previous[2][2];
    for (double[] row : previous) {
      for (int j = 0; j < 3; j++) {
        row[j] *= 3 / trace;
      }
    }
    double[][] out = GraphRunner.run(tf -> FactorEma.traceNormalized(tf, GraphRunner.constant(tf, previous, TFloat64.class),
        GraphRunner.constant(tf, Dense.spd(9, 3, 1.0), TFloat64.class), tf.constant(1.0)));
    assertTrue(Dense.maxAbsDifference(out, previous) < 1e-15);
  }
}
