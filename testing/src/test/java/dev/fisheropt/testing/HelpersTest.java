package dev.fisheropt.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * The shared helpers do what their names say, so that a test failing through them fails for its own
 * reason.
 */
class HelpersTest {
  @Test
  void assertCloseNamesTheWorstIndexAndBothValues() {
    Close.assertClose(1e-3, "near", new double[] {1, 2.001}, new double[] {1, 2});
    AssertionFailedError e =
        assertThrows(
            AssertionFailedError.class,
            () -> Close.assertClose(1e-3, "far", new double[] {1, 2.5, 3}, new double[] {1, 2, 3}));
    assertTrue(e.getMessage().startsWith("far: relative error "), e.getMessage());
    assertTrue(
        e.getMessage().endsWith("largest difference at index 1: actual 2.5, expected 2.0"),
        e.getMessage());
    AssertionFailedError nan =
        assertThrows(
            AssertionFailedError.class,
            () -> Close.assertClose(1, "nan", new double[] {5, Double.NaN}, new double[] {1, 2}));
    assertTrue(nan.getMessage().contains("index 1: actual NaN"), nan.getMessage());
    assertThrows(
        AssertionFailedError.class,
        () -> Close.assertClose(1, "length", new double[] {1}, new double[] {1, 2}));
    assertEquals(1.0, Close.relativeError(new double[] {0, 0}, new double[] {0, 0.5}), 0.0);
    assertEquals(
        0.5,
        Close.relativeError(new double[] {0.5}, new double[] {0}),
        0.0,
        "absolute error against zero");
  }

  @Test
  void scalarAssertCloseIsRelativeToTheExpectedValue() {
    Close.assertClose(1e-3, "loss", 1000.5, 1000.0);
    Close.assertClose(0, "zero", 0.0, 0.0);
    AssertionFailedError e =
        assertThrows(AssertionFailedError.class, () -> Close.assertClose(1e-3, "loss", 1.01, 1.0));
    assertTrue(
        e.getMessage().startsWith("loss: actual 1.01, expected 1.0, relative error "),
        e.getMessage());
  }

  @Test
  void solveInvertsAMatrixWithKnownEigenvalues() {
    double[][] q = DenseMatrices.orthogonal(new Random(1), 6);
    assertTrue(
        DenseMatrices.maxAbsDifference(
                DenseMatrices.multiply(q, DenseMatrices.transpose(q)), DenseMatrices.identity(6))
            < 1e-14);
    double[][] a = DenseMatrices.withEigenvalues(q, new double[] {1, 2, 3, 4, 5, 6});
    double[] b = RandomArrays.gaussian(2, 6);
    double[] x = DenseMatrices.solve(a, b);
    assertTrue(Close.relativeError(DenseMatrices.multiply(a, x), b) < 1e-14);
    double[][] h = DenseMatrices.householder(new double[] {1, 2, 2});
    assertTrue(
        DenseMatrices.maxAbsDifference(DenseMatrices.multiply(h, h), DenseMatrices.identity(3))
            < 1e-15);
    assertArrayEquals(
        new double[] {1, -1}, DenseMatrices.subtract(new double[] {3, 1}, new double[] {2, 2}));
  }

  @Test
  void newtonSchulzOrthonormalisesTheRowsOfAWideMatrix() {
    double[][] m = RandomArrays.gaussian(7, 4, 9);
    double[][] x = DenseMatrices.newtonSchulz(m, 12, 1.5, -0.5, 0.0);
    assertTrue(
        DenseMatrices.maxAbsDifference(
                DenseMatrices.multiply(x, DenseMatrices.transpose(x)), DenseMatrices.identity(4))
            < 1e-6);
    double[][] tall = DenseMatrices.newtonSchulz(DenseMatrices.transpose(m), 12, 1.5, -0.5, 0.0);
    assertTrue(
        DenseMatrices.maxAbsDifference(tall, DenseMatrices.transpose(x)) < 1e-14,
        "the tall input gives the transposed result");
  }

  @Test
  void arraysGoIntoTensorsAndComeBackUnchanged() {
    double[][] m = RandomArrays.gaussian(3, 2, 5);
    assertEquals(
        0.0,
        DenseMatrices.maxAbsDifference(
            Tensors.evaluateMatrix(tf -> Tensors.constant(tf, TFloat64.class, m)), m));
    double[][] m32 = Tensors.evaluateMatrix(tf -> Tensors.constant(tf, TFloat32.class, m));
    for (int i = 0; i < 2; i++) {
      for (int j = 0; j < 5; j++) {
        assertEquals((float) m[i][j], m32[i][j], 0.0);
      }
    }
    double[] data = Tensors.flatten(m);
    try (TFloat32 t = Tensors.tensorOf(TFloat32.class, new long[] {5, 2}, data)) {
      assertArrayEquals(Tensors.toFloats(data), Tensors.toFloats(Tensors.toDoubles(t)));
      assertEquals(5, Tensors.toMatrix(t).length);
    }
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> x = Tensors.constant(tf, TFloat64.class, new long[] {1, 2, 5}, data);
      double[][] both =
          Tensors.fetch(s, List.of(x, tf.constant(new long[] {4, 5}), tf.constant(7)));
      assertArrayEquals(data, both[0]);
      assertArrayEquals(new double[] {4, 5}, both[1]);
      assertEquals(7.0, Tensors.scalar(s, tf.constant(7)));
      assertArrayEquals(data, Tensors.fetch(g, x)[0]);
    }
  }

  @Test
  void variablesAreListedAndReadByName() {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      tf.withName("b").variable(tf.withInitScope().constant(new double[] {1, 2}));
      tf.withName("a").variable(tf.withInitScope().constant(3f));
      s.initialize();
      assertEquals(List.of("b", "a"), Graphs.variableNames(g));
      Map<String, double[]> values = Graphs.variableValues(g, s);
      assertEquals(List.of("a", "b"), List.copyOf(values.keySet()));
      assertArrayEquals(new double[] {1, 2}, values.get("b"));
      assertEquals(2, Graphs.countOps(g, "VariableV2"));
    }
  }
}
