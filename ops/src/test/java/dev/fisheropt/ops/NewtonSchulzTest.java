package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class NewtonSchulzTest {
  @ParameterizedTest(name = "{0}x{1}")
  @CsvSource({"6,8", "8,6", "1,5", "16,16", "27,5"})
  void loopMatchesTheIterationWrittenOut(int rows, int cols) {
    double[][] m = GraphRunner.gaussian(rows * 31L + cols, rows, cols);
    double[][] expected = Dense.newtonSchulz(m, 5, NewtonSchulz.A_DEFAULT, NewtonSchulz.B_DEFAULT, NewtonSchulz.C_DEFAULT);
    double[][] actual = GraphRunner.run(tf -> NewtonSchulz.polar(tf, GraphRunner.constant(tf, m, TFloat64.class)));
    assertTrue(Dense.maxAbsDifference(actual, expected) < 1e-12, "float64 graph loop differs from the direct iteration");
    double[][] actual32 = GraphRunner.run(tf -> NewtonSchulz.polar(tf, GraphRunner.constant(tf, m, TFloat32.class)));
    assertTrue(Dense.maxAbsDifference(actual32, expected) < 1e-5, "float32 graph loop differs from the direct iteration");
  }

  @Test
  void stepsAndCoefficientsAreParameters() {
    double[][] m = GraphRunner.gaussian(7, 4, 9);
    double[][] cubic = Dense.newtonSchulz(m, 12, 1.5, -0.5, 0.0);
    double[][] actual = GraphRunner.run(tf -> NewtonSchulz.polar(tf, GraphRunner.constant(tf, m, TFloat64.class), 12, 1.5, -0.5, 0.0));
    assertTrue(Dense.maxAbsDifference(actual, cubic) < 1e-12);
    // The classic cubic converges to the exact polar factor: rows become orthonormal.
    double[][] gram = Dense.multiply(actual, Dense.transpose(actual));
    assertTrue(Dense.maxAbsDifference(gram, Dense.identity(4)) < 1e-6, "12 cubic steps should orthonormalise a 4x9 matrix");
  }

  @Test
  void tallInputGivesTheTransposeOfTheWideResult() {
    double[][] m = GraphRunner.gaussian(3, 10, 4);
    double[][] tall = GraphRunner.run(tf -> NewtonSchulz.polar(tf, GraphRunner.constant(tf, m, TFloat64.class)));
    double[][] wide = GraphRunner.run(tf -> NewtonSchulz.polar(tf, GraphRunner.constant(tf, Dense.transpose(m), TFloat64.class)));
    assertEquals(0.0, Dense.maxAbsDifference(tall, Dense.transpose(wide)), 1e-15);
  }

  @Test
  void zeroMatrixMapsToZero() {
    double[][] zero = new double[3][5];
    double[][] out = GraphRunner.run(tf -> NewtonSchulz.polar(tf, GraphRunner.constant(tf, zero, TFloat64.class)));
    assertEquals(0.0, Dense.frobenius(out));
  }

  @Test
  void rejectsNonMatricesAndZeroSteps() {
    IllegalArgumentException steps = assertThrows(IllegalArgumentException.class,
        () -> GraphRunner.run(tf -> NewtonSchulz.polar(tf, GraphRunner.constant(tf, new double[][] {{1}}, TFloat64.class), 0, 1, 0, 0)));
    assertTrue(steps.getMessage().contains("steps"), steps.getMessage());
    IllegalArgumentException rank = assertThrows(IllegalArgumentException.class,
        () -> GraphRunner.run(tf -> NewtonSchulz.polar(tf, tf.constant(new double[] {1, 2, 3}))));
    assertTrue(rank.getMessage().contains("matrix"), rank.getMessage());
  }
}
