package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.Tensors;
import java.util.Arrays;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The coupled Newton iteration gives A^{-1/2} and A^{-1} of SPD matrices with a known spectrum,
 * stops early once converged, flags a run that was cut short, and stays finite on degenerate input.
 */
class InverseRootsNewtonTest {
  private static final int N = 12;

  /** V diag(f(λ)) Vᵀ, row-major, with V a Householder reflection (orthogonal and symmetric). */
  private static double[] spectral(double[] lambda, DoubleUnaryOperator f) {
    double[] v = new double[N];
    for (int i = 0; i < N; i++) {
      v[i] = Math.sin(1.0 + 0.7 * i);
    }
    return Tensors.flatten(
        DenseMatrices.withEigenvalues(
            DenseMatrices.householder(v), Arrays.stream(lambda).map(f).toArray()));
  }

  /** Eigenvalues spread geometrically over [1/κ, 1], times a scale. */
  private static double[] spectrum(double condition, double scale) {
    double[] lambda = new double[N];
    for (int i = 0; i < N; i++) {
      lambda[i] = scale * Math.pow(condition, -i / (N - 1.0));
    }
    return lambda;
  }

  private record Run(
      double[] inverseSqrt, double[] inverse, double residual, int iterations, boolean converged) {}

  private static <T extends TFloating> Run newton(Class<T> type, double[] a, int maxIterations) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> a64 = tf.constant(Shape.of(N, N), DataBuffers.of(a, true, false));
      Operand<T> input = tf.dtypes.cast(a64, type);
      InverseRoots.NewtonRoots<T> r = InverseRoots.newton(tf, input, maxIterations);
      try (Result out =
          s.runner()
              .fetch(tf.dtypes.cast(r.inverseSqrt(), TFloat64.class))
              .fetch(tf.dtypes.cast(r.inverse(), TFloat64.class))
              .fetch(tf.dtypes.cast(r.residual(), TFloat64.class))
              .fetch(r.iterations())
              .fetch(r.converged())
              .run()) {
        return new Run(
            Tensors.toDoubles(out.get(0)),
            Tensors.toDoubles(out.get(1)),
            ((TFloat64) out.get(2)).getDouble(),
            ((TInt32) out.get(3)).getInt(),
            ((TBool) out.get(4)).getBoolean());
      }
    }
  }

  @Test
  void float64RootsOfAnIllConditionedMatrixAreExactToRounding() {
    double[] lambda = spectrum(1e6, 3.0);
    Run r =
        newton(
            TFloat64.class, spectral(lambda, x -> x), InverseRoots.NEWTON_MAX_ITERATIONS_DEFAULT);
    assertTrue(
        Close.relativeError(r.inverseSqrt(), spectral(lambda, x -> 1 / Math.sqrt(x))) < 1e-10,
        "A^-1/2");
    assertTrue(Close.relativeError(r.inverse(), spectral(lambda, x -> 1 / x)) < 1e-9, "A^-1");
    assertTrue(r.converged(), "residual " + r.residual());
    assertTrue(
        r.iterations() < InverseRoots.NEWTON_MAX_ITERATIONS_DEFAULT,
        "stopped early: " + r.iterations());
  }

  @Test
  void float32RootsMatchTheExactOnesToFloat32Rounding() {
    double[] lambda = spectrum(1e3, 0.02);
    Run r =
        newton(
            TFloat32.class, spectral(lambda, x -> x), InverseRoots.NEWTON_MAX_ITERATIONS_DEFAULT);
    assertTrue(
        Close.relativeError(r.inverseSqrt(), spectral(lambda, x -> 1 / Math.sqrt(x))) < 1e-5,
        "A^-1/2");
    assertTrue(Close.relativeError(r.inverse(), spectral(lambda, x -> 1 / x)) < 1e-4, "A^-1");
    assertTrue(r.converged(), "residual " + r.residual());
  }

  @Test
  void theIdentityIsRecoveredToRounding() {
    double[] lambda = spectrum(1.0, 1.0);
    Run r = newton(TFloat64.class, spectral(lambda, x -> x), 10);
    // c = ‖I‖_F = √n, so Y₀ = I/√n and the iteration has real work to do.
    assertTrue(r.converged());
    assertTrue(Close.relativeError(r.inverseSqrt(), spectral(lambda, x -> 1.0)) < 1e-12);
  }

  /**
   * Cut short, the iteration reports it and returns a bounded, under-amplified root, not Inf/NaN.
   */
  @Test
  void tooFewIterationsAreFlaggedAndStayBounded() {
    double[] lambda = spectrum(1e8, 1.0);
    Run r = newton(TFloat64.class, spectral(lambda, x -> x), 3);
    assertFalse(r.converged());
    // Three plain iterations, then three more on the shifted matrix, which is no better
    // conditioned.
    assertEquals(6, r.iterations());
    double largest = 0;
    for (double x : r.inverseSqrt()) {
      assertTrue(Double.isFinite(x));
      largest = Math.max(largest, Math.abs(x));
    }
    // Exact: 1e4 along the smallest eigenvector; three steps amplify Z by at most 1.5³ (times √c).
    assertTrue(largest < 1e3, "largest entry " + largest);
  }

  @Test
  void aZeroMatrixGivesFiniteRoots() {
    Run r = newton(TFloat64.class, new double[N * N], 5);
    for (double x : r.inverse()) {
      assertTrue(Double.isFinite(x));
    }
    assertFalse(r.converged());
  }

  @Test
  void rejectsANonSquareMatrixAndZeroIterations() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      IllegalArgumentException shape =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  InverseRoots.newton(
                      tf, tf.zeros(tf.constant(new long[] {2, 3}), TFloat32.class), 5));
      assertTrue(shape.getMessage().contains("2x3"), shape.getMessage());
      IllegalArgumentException steps =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  InverseRoots.newton(
                      tf, tf.zeros(tf.constant(new long[] {2, 2}), TFloat32.class), 0));
      assertTrue(steps.getMessage().contains("0"), steps.getMessage());
    }
  }
}
