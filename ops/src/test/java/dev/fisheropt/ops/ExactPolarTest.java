package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class ExactPolarTest {
  @Test
  void fullRankWideMatrixGetsOrthonormalRowsAndMatchesPolarDecomposition() {
    double[][] m = RandomArrays.gaussian(11, 5, 8);
    double[][] u =
        Tensors.evaluateMatrix(tf -> ExactPolar.polar(tf, Tensors.constant(tf, TFloat64.class, m)));
    assertTrue(
        DenseMatrices.maxAbsDifference(
                DenseMatrices.multiply(u, DenseMatrices.transpose(u)), DenseMatrices.identity(5))
            < 1e-12);
    // M = U H with H = UᵀM symmetric positive semidefinite.
    double[][] h = DenseMatrices.multiply(DenseMatrices.transpose(u), m);
    assertTrue(
        DenseMatrices.maxAbsDifference(h, DenseMatrices.transpose(h)) < 1e-12,
        "UᵀM must be symmetric");
    assertTrue(
        DenseMatrices.maxAbsDifference(DenseMatrices.multiply(u, h), m) < 1e-12,
        "U·(UᵀM) must rebuild M");
  }

  @Test
  void rankDeficientMatrixGivesThePartialIsometryOnItsRange() {
    // Rows sum to zero across columns: M·1 = 0, exactly as softmax cross-entropy gradients.
    double[][] m = RandomArrays.gaussian(5, 6, 4);
    for (double[] row : m) {
      double mean = (row[0] + row[1] + row[2] + row[3]) / 4;
      for (int j = 0; j < 4; j++) {
        row[j] -= mean;
      }
    }
    double[][] u =
        Tensors.evaluateMatrix(tf -> ExactPolar.polar(tf, Tensors.constant(tf, TFloat64.class, m)));
    double[][] ones = {{1}, {1}, {1}, {1}};
    assertTrue(
        DenseMatrices.frobenius(DenseMatrices.multiply(u, ones)) < 1e-12,
        "the null direction must stay null");
    double[][] uu = DenseMatrices.multiply(DenseMatrices.transpose(u), u);
    double[][] projector = DenseMatrices.multiply(uu, uu);
    assertTrue(
        DenseMatrices.maxAbsDifference(projector, uu) < 1e-12, "UᵀU must be a projector (rank 3)");
  }

  @Test
  void float32AgreesWithFloat64() {
    double[][] m = RandomArrays.gaussian(13, 7, 3);
    double[][] u64 =
        Tensors.evaluateMatrix(tf -> ExactPolar.polar(tf, Tensors.constant(tf, TFloat64.class, m)));
    double[][] u32 =
        Tensors.evaluateMatrix(tf -> ExactPolar.polar(tf, Tensors.constant(tf, TFloat32.class, m)));
    assertTrue(DenseMatrices.maxAbsDifference(u64, u32) < 1e-5);
  }
}
