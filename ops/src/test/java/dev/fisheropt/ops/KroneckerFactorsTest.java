package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat64;

/**
 * FISMO's factor statistics: the paper's (absolute damping) and the normalised, scale-free ones.
 */
class KroneckerFactorsTest {
  private static final double MU = 1e-3;
  private static final double[][] G = RandomArrays.gaussian(5, 4, 3);
  private static final double[][] Q_INVERSE = DenseMatrices.spd(6, 3, 0.5);
  private static final double[][] P_INVERSE = DenseMatrices.spd(7, 4, 0.5);

  @Test
  void normalizedLeftStatisticIsUnitTraceStatisticPlusRelativeDamping() {
    double[][] s =
        DenseMatrices.multiply(DenseMatrices.multiply(G, Q_INVERSE), DenseMatrices.transpose(G));
    assertMatches(expected(s), left(G));
  }

  @Test
  void normalizedRightStatisticIsUnitTraceStatisticPlusRelativeDamping() {
    double[][] s =
        DenseMatrices.multiply(DenseMatrices.multiply(DenseMatrices.transpose(G), P_INVERSE), G);
    assertMatches(expected(s), right(G));
  }

  @Test
  void normalizedStatisticsDoNotDependOnTheGradientScale() {
    double[][] leftAtOne = left(G);
    double[][] rightAtOne = right(G);
    for (double scale : new double[] {1e-3, 1e3, 1e6, -2.0}) {
      double[][] scaled = scaled(G, scale);
      assertTrue(
          DenseMatrices.maxAbsDifference(left(scaled), leftAtOne) < 1e-14,
          "left statistic at scale " + scale);
      assertTrue(
          DenseMatrices.maxAbsDifference(right(scaled), rightAtOne) < 1e-14,
          "right statistic at scale " + scale);
    }
  }

  @Test
  void paperStatisticGrowsWithTheSquaredGradientScale() {
    // What normalizedStatistics fixes: with tr P = m the damping μ·I is absolute, so at scale s the
    // statistic is s²·G Q⁻¹ Gᵀ/n + μ·I and its trace grows like s².
    double[][] p = DenseMatrices.identity(4);
    double atOne =
        trace(
            Tensors.evaluateMatrix(
                tf ->
                    KroneckerFactors.leftStatistic(
                        tf,
                        constant(tf, G),
                        constant(tf, Q_INVERSE),
                        constant(tf, p),
                        tf.constant(MU))));
    double atThousand =
        trace(
            Tensors.evaluateMatrix(
                tf ->
                    KroneckerFactors.leftStatistic(
                        tf,
                        constant(tf, scaled(G, 1e3)),
                        constant(tf, Q_INVERSE),
                        constant(tf, p),
                        tf.constant(MU))));
    assertEquals(1e6, (atThousand - 4 * MU) / (atOne - 4 * MU), 1e-6);
  }

  @Test
  void zeroGradientGivesTheIdentity() {
    double[][] zero = new double[4][3];
    assertMatches(DenseMatrices.identity(4), left(zero));
    assertMatches(DenseMatrices.identity(3), right(zero));
  }

  /** (d·S/tr S + μ·I)/(1 + μ). */
  private static double[][] expected(double[][] s) {
    int d = s.length;
    double trace = trace(s);
    double[][] out = new double[d][d];
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        out[i][j] = (d * s[i][j] / trace + (i == j ? MU : 0.0)) / (1 + MU);
      }
    }
    assertEquals(d, trace(out), 1e-12);
    return out;
  }

  private static double[][] left(double[][] g) {
    return Tensors.evaluateMatrix(
        tf ->
            KroneckerFactors.normalizedLeftStatistic(
                tf, constant(tf, g), constant(tf, Q_INVERSE), tf.constant(MU)));
  }

  private static double[][] right(double[][] g) {
    return Tensors.evaluateMatrix(
        tf ->
            KroneckerFactors.normalizedRightStatistic(
                tf, constant(tf, g), constant(tf, P_INVERSE), tf.constant(MU)));
  }

  private static org.tensorflow.Operand<TFloat64> constant(org.tensorflow.op.Ops tf, double[][] m) {
    return Tensors.constant(tf, TFloat64.class, m);
  }

  private static double[][] scaled(double[][] m, double s) {
    double[][] out = new double[m.length][];
    for (int i = 0; i < m.length; i++) {
      out[i] = new double[m[i].length];
      for (int j = 0; j < m[i].length; j++) {
        out[i][j] = s * m[i][j];
      }
    }
    return out;
  }

  private static double trace(double[][] m) {
    double t = 0;
    for (int i = 0; i < m.length; i++) {
      t += m[i][i];
    }
    return t;
  }

  private static void assertMatches(double[][] expected, double[][] actual) {
    double diff = DenseMatrices.maxAbsDifference(actual, expected);
    assertTrue(diff < 1e-13, "max |difference| " + diff);
  }
}
