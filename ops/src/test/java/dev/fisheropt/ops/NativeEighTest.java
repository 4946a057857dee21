package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * {@code FisheroptSymmetricEigh} (LAPACK's {@code ?syevd}) decomposes what {@code SelfAdjointEigV2}
 * decomposes: the same ascending eigenvalues, orthonormal eigenvectors with A·V = V·Λ, and the same
 * inverse roots; bad input gives NaNs or a build-time error, and a missing library falls back to
 * {@code SelfAdjointEigV2}.
 */
class NativeEighTest {
  @BeforeAll
  static void libraryIsPresentUnlessTheNativeBuildWasSkipped() {
    NativeLibrary.requireUnlessSkipped();
    assertTrue(NativeEigh.buildsOp());
  }

  /** A symmetric positive definite n×n matrix X Xᵀ/n + 0.01 I with a spread spectrum. */
  private static double[] spd(int n, long seed) {
    double[] x = RandomArrays.gaussian(new Random(seed), n * n);
    double[] a = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int k = 0; k < n; k++) {
          s += x[i * n + k] * x[j * n + k] * (k + 1);
        }
        a[i * n + j] = s / n + (i == j ? 0.01 : 0);
      }
    }
    return a;
  }

  @ParameterizedTest(name = "n = {0}, float64 {1}")
  @CsvSource({"1, true", "7, true", "64, true", "200, true", "7, false", "64, false"})
  void matchesSelfAdjointEigAndItsInverseRoots(int n, boolean float64) {
    if (float64) {
      check(n, TFloat64.class, 1e-11);
    } else {
      check(n, TFloat32.class, 2e-4);
    }
  }

  private static <T extends TFloating> void check(int n, Class<T> type, double tolerance) {
    double[] a = spd(n, n);
    double[][] out;
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<T> matrix = Tensors.constant(tf, type, new long[] {n, n}, a);
      NativeEigh.Decomposition<T> lapack = NativeEigh.decompose(tf, matrix);
      SelfAdjointEig<T> eigen = tf.linalg.selfAdjointEig(matrix, SelfAdjointEig.computeV(true));
      InverseRoots.Roots<T> nativeRoots = InverseRoots.nativeEigh(tf, matrix);
      InverseRoots.Roots<T> graphRoots = InverseRoots.eigh(tf, matrix);
      Operand<T> v = lapack.vectors();
      out =
          Tensors.fetch(
              session,
              List.of(
                  lapack.values(),
                  eigen.e(),
                  tf.linalg.matMul(matrix, v),
                  tf.math.mul(v, lapack.values()),
                  tf.linalg.matMul(tf.linalg.transpose(v, tf.constant(new int[] {1, 0})), v),
                  nativeRoots.inverseSqrt(),
                  graphRoots.inverseSqrt(),
                  nativeRoots.inverse(),
                  graphRoots.inverse()));
    }
    Close.assertClose(tolerance, "eigenvalues", out[0], out[1]);
    for (int i = 1; i < n; i++) {
      assertTrue(out[0][i - 1] <= out[0][i], "ascending at " + i);
    }
    Close.assertClose(tolerance, "A·V = V·Λ", out[2], out[3]);
    double[] identity = new double[n * n];
    for (int i = 0; i < n; i++) {
      identity[i * n + i] = 1;
    }
    Close.assertClose(tolerance, "VᵀV = I", out[4], identity);
    Close.assertClose(tolerance, "A^{-1/2}", out[5], out[6]);
    Close.assertClose(tolerance * 10, "A^{-1}", out[7], out[8]);
  }

  @Test
  void nonFiniteMatrixGivesNaNsInsteadOfFailingTheRun() {
    double[] a = spd(5, 3);
    a[7] = Double.NaN;
    double[][] out;
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      NativeEigh.Decomposition<TFloat64> d =
          NativeEigh.decompose(tf, Tensors.constant(tf, TFloat64.class, new long[] {5, 5}, a));
      out = Tensors.fetch(session, List.of(d.values(), d.vectors()));
    }
    for (double[] values : out) {
      for (double x : values) {
        assertTrue(Double.isNaN(x), "expected NaN, got " + x);
      }
    }
  }

  @Test
  void rejectsNonSquareInputWhenTheGraphIsBuilt() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> wide = tf.zeros(tf.constant(new long[] {3, 4}), TFloat64.class);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> NativeEigh.decompose(tf, wide));
      assertTrue(e.getMessage().contains("3x4"), e.getMessage());
    }
  }

  @Test
  void missingLibraryBuildsSelfAdjointEig() {
    CustomOps missing = CustomOps.loadFile(Path.of("/nonexistent/libfisheropt_ops.so"));
    assertFalse(NativeEigh.buildsOp(missing));
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      NativeEigh.Decomposition<TFloat64> d =
          NativeEigh.decompose(
              tf, tf.zeros(tf.constant(new long[] {4, 4}), TFloat64.class), missing);
      assertEquals("SelfAdjointEigV2", g.operation(d.values().op().name()).type());
    }
  }
}
