package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class ExactPolarTest {
  @Test
  void fullRankWideMatrixGetsOrthonormalRowsAndMatchesPolarDecomposition() {
    double[][] m = GraphRunner.gaussian(11, 5, 8);
    double[][] u = GraphRunner.run(tf -> ExactPolar.polar(tf, GraphRunner.constant(tf, m, TFloat64.class)));
    assertTrue(Dense.maxAbsDifference(Dense.multiply(u, Dense.transpose(u)), Dense.identity(5)) < 1e-12);
    // M = U H with H = UᵀM symmetric positive semidefinite.
    double[][] h = Dense.multiply(Dense.transpose(u), m);
    assertTrue(Dense.maxAbsDifference(h, Dense.transpose(h)) < 1e-12, "UᵀM must be symmetric");
    assertTrue(Dense.maxAbsDifference(Dense.multiply(u, h), m) < 1e-12, "U·(UᵀM) must rebuild M");
  }

  @Test
  void rankDeficientMatrixGivesThePartialIsometryOnItsRange() {
    // Rows sum to zero across columns: M·1 = 0, exactly as softmax cross-entropy gradients.
    double[][] m = GraphRunner.gaussian(5, 6, 4);
    for (double[] row : m) {
      double mean = (row[0] + row[1] + row[2] + row[3]) / 4;
      for (int j = 0; j < 4; j++) {
        row[j] -= mean;
      }
    }
    double[][] u = GraphRunner.run(tf -> ExactPolar.polar(tf, GraphRunner.constant(tf, m, TFloat64.class)));
    double[][] ones = {{1}, {1}, {1}, {1}};
    assertTrue(Dense.frobenius(Dense.multiply(u, ones)) < 1e-12, "the null direction must stay null");
    double[][] uu = Dense.multiply(Dense.transpose(u), u);
    double[][] projector = Dense.multiply(uu, uu);
    assertTrue(Dense.maxAbsDifference(projector, uu) < 1e-12, "UᵀU must be a projector (rank 3)");
  }

  @Test
  void float32AgreesWithFloat64() {
    double[][] m = GraphRunner.gaussian(13, 7, 3);
    double[][] u64 = GraphRunner.run(tf -> ExactPolar.polar(tf, GraphRunner.constant(tf, m, TFloat64.class)));
    double[][] u32 = GraphRunner.run(tf -> ExactPolar.polar(tf, GraphRunner.constant(tf, m, TFloat32.class)));
    assertTrue(Dense.maxAbsDifference(u64, u32) < 1e-5);
  }
}
