package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.Svd;
import org.tensorflow.types.TFloat64;

class PolarTest {
  private static final double[][] MOMENTUM = RandomArrays.gaussian(5, 24, 40);

  @Test
  void polarExpressIsCloserToTheExactFactorThanMuonsQuinticAtEqualCost() {
    Quality muon = quality(Polar.NEWTON_SCHULZ, 5);
    Quality express = quality(Polar.POLAR_EXPRESS, 5);
    // Gaussian 24x40: singular values spread over about a factor 10 after normalisation.
    assertTrue(
        express.maxSigmaError < muon.maxSigmaError / 2,
        "max |σ-1|: Polar Express " + express.maxSigmaError + ", NS5 " + muon.maxSigmaError);
    assertTrue(
        express.distanceToExact < muon.distanceToExact / 2,
        "‖X - UVᵀ‖_F: Polar Express " + express.distanceToExact + ", NS5 " + muon.distanceToExact);
  }

  @Test
  void aShortScheduleRepeatsItsLastRow() {
    double[][] two = {{3, -3.2, 1.2}, {1.875, -1.25, 0.375}};
    double[][] four = {two[0], two[1], two[1], two[1]};
    double[][] stretched = factor(Polar.schedule(two, 1.0), 4);
    double[][] written = factor(Polar.schedule(four, 1.0), 4);
    assertEquals(0.0, DenseMatrices.maxAbsDifference(stretched, written));
    double[][] cut = factor(Polar.schedule(four, 1.0), 1);
    double[][] first = factor(Polar.schedule(new double[][] {two[0]}, 1.0), 1);
    assertEquals(0.0, DenseMatrices.maxAbsDifference(cut, first));
  }

  @Test
  void scheduleIsCopiedAndChecked() {
    double[][] rows = {{3, -3.2, 1.2}};
    Polar polar = Polar.schedule(rows, 1.0);
    double[][] before = factor(polar, 2);
    rows[0][0] = 100;
    assertEquals(0.0, DenseMatrices.maxAbsDifference(before, factor(polar, 2)));
    IllegalArgumentException shape =
        assertThrows(
            IllegalArgumentException.class, () -> Polar.schedule(new double[][] {{1, 2}}, 1.0));
    assertTrue(shape.getMessage().contains("row 0"), shape.getMessage());
    IllegalArgumentException safety =
        assertThrows(IllegalArgumentException.class, () -> Polar.schedule(rows, 0.5));
    assertTrue(safety.getMessage().contains("safety"), safety.getMessage());
  }

  private record Quality(double maxSigmaError, double distanceToExact) {}

  private static Quality quality(Polar polar, int steps) {
    double[][] x = factor(polar, steps);
    double[][] exact = factor(Polar.EXACT, steps);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Svd<TFloat64> svd =
          tf.linalg.svd(Tensors.constant(tf, TFloat64.class, x), Svd.computeUv(false));
      double worst = 0;
      for (double sigma : Tensors.fetch(s, svd.s())) {
        worst = Math.max(worst, Math.abs(sigma - 1));
      }
      double[][] diff = new double[x.length][x[0].length];
      for (int i = 0; i < x.length; i++) {
        for (int j = 0; j < x[0].length; j++) {
          diff[i][j] = x[i][j] - exact[i][j];
        }
      }
      return new Quality(worst, DenseMatrices.frobenius(diff));
    }
  }

  private static double[][] factor(Polar polar, int steps) {
    return Tensors.evaluateMatrix(
        tf -> {
          Operand<TFloat64> m = Tensors.constant(tf, TFloat64.class, MOMENTUM);
          return polar.factor(tf, m, steps);
        });
  }
}
