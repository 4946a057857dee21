package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class InverseRootsTest {
  @Test
  void rootsInvertTheMatrix() {
    double[][] a = Dense.spd(21, 12, 0.1);
    double[][] invSqrt = GraphRunner.run(tf -> InverseRoots.eigh(tf, GraphRunner.constant(tf, a, TFloat64.class)).inverseSqrt());
    double[][] inv = GraphRunner.run(tf -> InverseRoots.eigh(tf, GraphRunner.constant(tf, a, TFloat64.class)).inverse());
    double[][] whitened = Dense.multiply(Dense.multiply(invSqrt, a), invSqrt);
    assertTrue(Dense.maxAbsDifference(whitened, Dense.identity(12)) < 1e-12, "A^{-1/2} A A^{-1/2} must be I");
    assertTrue(Dense.maxAbsDifference(Dense.multiply(inv, a), Dense.identity(12)) < 1e-12, "A^{-1} A must be I");
    assertTrue(Dense.maxAbsDifference(invSqrt, Dense.transpose(invSqrt)) < 1e-14, "A^{-1/2} must be symmetric");
  }

  @Test
  void float32RootsAreAccurateForWellConditionedInput() {
    double[][] a = Dense.spd(22, 8, 0.5);
    double[][] inv64 = GraphRunner.run(tf -> InverseRoots.eigh(tf, GraphRunner.constant(tf, a, TFloat64.class)).inverse());
    double[][] inv32 = GraphRunner.run(tf -> InverseRoots.eigh(tf, GraphRunner.constant(tf, a, TFloat32.class)).inverse());
    assertTrue(Dense.maxAbsDifference(inv64, inv32) < 1e-4);
  }

  @Test
  void singularMatrixGetsFiniteRootsThroughTheFloor() {
    double[][] rankOne = {{1, 1}, {1, 1}};
    double[][] inv = GraphRunner.run(tf -> InverseRoots.eigh(tf, GraphRunner.constant(tf, rankOne, TFloat64.class)).inverse());
    for (double[] row : inv) {
      for (double v : row) {
        assertFalse(Double.isNaN(v) || Double.isInfinite(v), "floor must keep the inverse finite");
      }
    }
  }

  @Test
  void rejectsNonSquareInput() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> GraphRunner.run(tf -> InverseRoots.eigh(tf, GraphRunner.constant(tf, new double[2][3], TFloat64.class)).inverse()));
    assertTrue(e.getMessage().contains("square"), e.getMessage());
  }
}
