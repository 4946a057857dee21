package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.Tensors;
import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class InverseRootsTest {
  @Test
  void rootsInvertTheMatrix() {
    double[][] a = DenseMatrices.spd(21, 12, 0.1);
    double[][] invSqrt =
        Tensors.evaluateMatrix(
            tf -> InverseRoots.eigh(tf, Tensors.constant(tf, TFloat64.class, a)).inverseSqrt());
    double[][] inv =
        Tensors.evaluateMatrix(
            tf -> InverseRoots.eigh(tf, Tensors.constant(tf, TFloat64.class, a)).inverse());
    double[][] whitened = DenseMatrices.multiply(DenseMatrices.multiply(invSqrt, a), invSqrt);
    assertTrue(
        DenseMatrices.maxAbsDifference(whitened, DenseMatrices.identity(12)) < 1e-12,
        "A^{-1/2} A A^{-1/2} must be I");
    assertTrue(
        DenseMatrices.maxAbsDifference(DenseMatrices.multiply(inv, a), DenseMatrices.identity(12))
            < 1e-12,
        "A^{-1} A must be I");
    assertTrue(
        DenseMatrices.maxAbsDifference(invSqrt, DenseMatrices.transpose(invSqrt)) < 1e-14,
        "A^{-1/2} must be symmetric");
  }

  @Test
  void float32RootsAreAccurateForWellConditionedInput() {
    double[][] a = DenseMatrices.spd(22, 8, 0.5);
    double[][] inv64 =
        Tensors.evaluateMatrix(
            tf -> InverseRoots.eigh(tf, Tensors.constant(tf, TFloat64.class, a)).inverse());
    double[][] inv32 =
        Tensors.evaluateMatrix(
            tf -> InverseRoots.eigh(tf, Tensors.constant(tf, TFloat32.class, a)).inverse());
    assertTrue(DenseMatrices.maxAbsDifference(inv64, inv32) < 1e-4);
  }

  @Test
  void singularMatrixGetsFiniteRootsThroughTheFloor() {
    double[][] rankOne = {{1, 1}, {1, 1}};
    double[][] inv =
        Tensors.evaluateMatrix(
            tf -> InverseRoots.eigh(tf, Tensors.constant(tf, TFloat64.class, rankOne)).inverse());
    for (double[] row : inv) {
      for (double v : row) {
        assertFalse(Double.isNaN(v) || Double.isInfinite(v), "floor must keep the inverse finite");
      }
    }
  }

  @Test
  void rejectsNonSquareInput() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Tensors.evaluateMatrix(
                    tf ->
                        InverseRoots.eigh(
                                tf, Tensors.constant(tf, TFloat64.class, new double[2][3]))
                            .inverse()));
    assertTrue(e.getMessage().contains("square"), e.getMessage());
  }
}
