package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class NewtonSchulzTest {
  @ParameterizedTest(name = "{0}x{1}")
  @CsvSource({"6,8", "8,6", "1,5", "16,16", "27,5"})
  void loopMatchesTheIterationWrittenOut(int rows, int cols) {
    double[][] m = RandomArrays.gaussian(rows * 31L + cols, rows, cols);
    double[][] expected =
        DenseMatrices.newtonSchulz(
            m, 5, NewtonSchulz.A_DEFAULT, NewtonSchulz.B_DEFAULT, NewtonSchulz.C_DEFAULT);
    double[][] actual =
        Tensors.evaluateMatrix(
            tf -> NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat64.class, m)));
    assertTrue(
        DenseMatrices.maxAbsDifference(actual, expected) < 1e-12,
        "float64 graph loop differs from the direct iteration");
    double[][] actual32 =
        Tensors.evaluateMatrix(
            tf -> NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat32.class, m)));
    assertTrue(
        DenseMatrices.maxAbsDifference(actual32, expected) < 1e-5,
        "float32 graph loop differs from the direct iteration");
  }

  @Test
  void stepsAndCoefficientsAreParameters() {
    double[][] m = RandomArrays.gaussian(7, 4, 9);
    double[][] cubic = DenseMatrices.newtonSchulz(m, 12, 1.5, -0.5, 0.0);
    double[][] actual =
        Tensors.evaluateMatrix(
            tf ->
                NewtonSchulz.polar(
                    tf, Tensors.constant(tf, TFloat64.class, m), 12, 1.5, -0.5, 0.0));
    assertTrue(DenseMatrices.maxAbsDifference(actual, cubic) < 1e-12);
    // The classic cubic converges to the exact polar factor: rows become orthonormal.
    double[][] gram = DenseMatrices.multiply(actual, DenseMatrices.transpose(actual));
    assertTrue(
        DenseMatrices.maxAbsDifference(gram, DenseMatrices.identity(4)) < 1e-6,
        "12 cubic steps should orthonormalise a 4x9 matrix");
  }

  @Test
  void scheduleLoopUsesOneRowPerIteration() {
    double[][] m = RandomArrays.gaussian(11, 6, 9);
    double[][] schedule = {{3, -3.2, 1.2}, {2.5, -2, 0.5}, {1.875, -1.25, 0.375}};
    double[][] expected = DenseMatrices.newtonSchulz(m, schedule, 1.01);
    double[][] actual =
        Tensors.evaluateMatrix(
            tf -> NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat64.class, m), schedule, 1.01));
    assertTrue(DenseMatrices.maxAbsDifference(actual, expected) < 1e-13);
    double[][] tall = DenseMatrices.transpose(m);
    double[][] actualTall =
        Tensors.evaluateMatrix(
            tf ->
                NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat64.class, tall), schedule, 1.01));
    assertTrue(
        DenseMatrices.maxAbsDifference(actualTall, DenseMatrices.transpose(expected)) < 1e-13);
  }

  @Test
  void scheduleOfMuonsQuinticIsTheFixedIteration() {
    double[][] m = RandomArrays.gaussian(12, 5, 8);
    double[][] schedule = new double[5][];
    for (int t = 0; t < 5; t++) {
      schedule[t] =
          new double[] {NewtonSchulz.A_DEFAULT, NewtonSchulz.B_DEFAULT, NewtonSchulz.C_DEFAULT};
    }
    double[][] fixed =
        Tensors.evaluateMatrix(
            tf -> NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat64.class, m)));
    double[][] scheduled =
        Tensors.evaluateMatrix(
            tf -> NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat64.class, m), schedule, 1));
    assertEquals(0.0, DenseMatrices.maxAbsDifference(fixed, scheduled), 1e-15);
  }

  @Test
  void rejectsMalformedSchedules() {
    double[][] m = {{1, 2}, {3, 4}};
    IllegalArgumentException empty =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Tensors.evaluateMatrix(
                    tf ->
                        NewtonSchulz.polar(
                            tf, Tensors.constant(tf, TFloat64.class, m), new double[0][], 1)));
    assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
    IllegalArgumentException row =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Tensors.evaluateMatrix(
                    tf ->
                        NewtonSchulz.polar(
                            tf,
                            Tensors.constant(tf, TFloat64.class, m),
                            new double[][] {{1, 0, 0}, {1, Double.NaN, 0}},
                            1)));
    assertTrue(row.getMessage().contains("row 1"), row.getMessage());
  }

  @Test
  void tallInputGivesTheTransposeOfTheWideResult() {
    double[][] m = RandomArrays.gaussian(3, 10, 4);
    double[][] tall =
        Tensors.evaluateMatrix(
            tf -> NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat64.class, m)));
    double[][] wide =
        Tensors.evaluateMatrix(
            tf ->
                NewtonSchulz.polar(
                    tf, Tensors.constant(tf, TFloat64.class, DenseMatrices.transpose(m))));
    assertEquals(0.0, DenseMatrices.maxAbsDifference(tall, DenseMatrices.transpose(wide)), 1e-15);
  }

  @Test
  void zeroMatrixMapsToZero() {
    double[][] zero = new double[3][5];
    double[][] out =
        Tensors.evaluateMatrix(
            tf -> NewtonSchulz.polar(tf, Tensors.constant(tf, TFloat64.class, zero)));
    assertEquals(0.0, DenseMatrices.frobenius(out));
  }

  @Test
  void rejectsNonMatricesAndZeroSteps() {
    IllegalArgumentException steps =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Tensors.evaluateMatrix(
                    tf ->
                        NewtonSchulz.polar(
                            tf,
                            Tensors.constant(tf, TFloat64.class, new double[][] {{1}}),
                            0,
                            1,
                            0,
                            0)));
    assertTrue(steps.getMessage().contains("steps"), steps.getMessage());
    IllegalArgumentException rank =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                Tensors.evaluateMatrix(
                    tf -> NewtonSchulz.polar(tf, tf.constant(new double[] {1, 2, 3}))));
    assertTrue(rank.getMessage().contains("matrix"), rank.getMessage());
  }
}
