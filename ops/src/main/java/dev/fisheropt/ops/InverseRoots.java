package dev.fisheropt.ops;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A^{-1/2} and A^{-1} of a symmetric positive definite matrix, by a symmetric eigendecomposition
 * ({@link #eigh}, or {@link #nativeEigh} through LAPACK) or by a matmul-only coupled Newton
 * iteration ({@link #newton}).
 *
 * <p>{@link #eigh}: eigenvalues are clamped from below at {@code floor = max(λ_max·ε·n, tiny)}
 * before the roots are taken: for a well-conditioned SPD matrix the clamp never binds, and a matrix
 * that rounding made numerically singular (or slightly indefinite) gets a bounded inverse instead
 * of Inf or NaN.
 *
 * <p>{@link #newton}: the coupled Newton–Schulz iteration (Higham, <i>Functions of Matrices</i>,
 * 2008, §6.7): with c = ‖A‖_F ≥ λ_max, Y₀ = A/c, Z₀ = I,
 *
 * <pre>
 *   T = (3I − Z Y)/2,   Y ← Y T,   Z ← T Z
 * </pre>
 *
 * gives Y → (A/c)^{1/2} and Z → (A/c)^{-1/2}, so A^{-1/2} = Z/√c and A^{-1} = Z²/c. Every
 * eigenvalue of A/c lies in (0, 1], where the iteration converges: quadratically near 1, and by a
 * factor 2.25 per step for a tiny eigenvalue, so the step count grows like log κ(A). It is built
 * from matrix products only, so XLA compiles it whole (the auto-clusterer never takes {@code
 * SelfAdjointEigV2}). If the residual misses the acceptance tolerance, the iteration is run once
 * more on A + n·ε·(‖A‖²_F/tr A)·I, the level of {@link #eigh}'s eigenvalue floor (‖A‖²_F/tr A is at
 * most λ_max, and close to it when a few eigenvalues dominate): FISMO's float32 factors reach κ ≈
 * 1e8 and even λ_min ≈ −3ε·λ_max under large gradients, where the unshifted iteration cannot
 * converge. The retry sits in a {@code StatelessIf}, so a well-conditioned matrix pays for one run
 * and gets unshifted roots.
 */
public final class InverseRoots {
  /** Both roots of one matrix. */
  public record Roots<T extends TFloating>(Operand<T> inverseSqrt, Operand<T> inverse) {}

  /**
   * The roots from {@link #newton}, with the iteration's final residual r = ‖I − Z Y‖_F/√n, the
   * number of iterations run, and whether r met the acceptance tolerance.
   */
  public record NewtonRoots<T extends TFloating>(
      Operand<T> inverseSqrt,
      Operand<T> inverse,
      Operand<T> residual,
      Operand<TInt32> iterations,
      Operand<TBool> converged) {
    public Roots<T> roots() {
      return new Roots<>(inverseSqrt, inverse);
    }
  }

  /**
   * Upper bound on the iterations of {@link #newton}: enough for a condition number of about 1e12.
   */
  public static final int NEWTON_MAX_ITERATIONS_DEFAULT = 50;

  /** Absolute lower bound on the eigenvalue floor, so that a zero matrix still has finite roots. */
  public static final double TINY = 1e-30;

  private InverseRoots() {}

  /** A^{-1/2} and A^{-1} of the square matrix {@code a} through {@code SelfAdjointEigV2}. */
  public static <T extends TFloating> Roots<T> eigh(Ops tf, Operand<T> a) {
    long n = Matrices.squareSide(a, "inverse-root input");
    SelfAdjointEig<T> eig = tf.linalg.selfAdjointEig(a, SelfAdjointEig.computeV(true));
    return fromEigen(tf, eig.e(), eig.v(), n);
  }

  /**
   * {@link #eigh}'s roots from the eigendecomposition of {@link NativeEigh} (LAPACK's {@code
   * ?syevd}; {@code SelfAdjointEigV2} where the native library is unavailable).
   */
  public static <T extends TFloating> Roots<T> nativeEigh(Ops tf, Operand<T> a) {
    long n = Matrices.squareSide(a, "inverse-root input");
    NativeEigh.Decomposition<T> eig = NativeEigh.decompose(tf, a);
    return fromEigen(tf, eig.values(), eig.vectors(), n);
  }

  /** V·diag(λ^{-1/2})·Vᵀ and V·diag(λ⁻¹)·Vᵀ over the eigenvalues clamped at the floor. */
  private static <T extends TFloating> Roots<T> fromEigen(
      Ops tf, Operand<T> e, Operand<T> v, long n) {
    Class<T> type = e.type();
    double relative = n * Matrices.epsilon(type);
    Operand<T> floor =
        tf.math.maximum(
            tf.math.mul(tf.max(e, tf.constant(0)), Matrices.scalar(tf, relative, type)),
            Matrices.scalar(tf, TINY, type));
    Operand<T> lambda = tf.math.maximum(e, floor);
    Operand<T> inverseSqrt =
        Matrices.matmulTransposeB(tf, tf.math.mul(v, tf.math.rsqrt(lambda)), v);
    Operand<T> inverse =
        Matrices.matmulTransposeB(tf, tf.math.mul(v, tf.math.reciprocal(lambda)), v);
    return new Roots<>(inverseSqrt, inverse);
  }

  /**
   * The residual below which {@link #newton} stops early: 1e-6 for float32, 1e-13 for float64 (a
   * few hundred ulps of 1; below that the residual is rounding noise).
   */
  static double newtonStopTolerance(Class<? extends TFloating> type) {
    return Matrices.epsilon(type) < 1e-10 ? 1e-13 : 1e-6;
  }

  /**
   * The residual at or below which {@link #newton} reports convergence: 1e-4 for float32, 1e-9 for
   * float64. A root that misses it is still bounded (see {@link #newton}) but less accurate.
   */
  static double newtonAcceptTolerance(Class<? extends TFloating> type) {
    return Matrices.epsilon(type) < 1e-10 ? 1e-9 : 1e-4;
  }

  /**
   * {@link #newton(Ops, Operand, int)} with {@link #NEWTON_MAX_ITERATIONS_DEFAULT} iterations at
   * most.
   */
  public static <T extends TFloating> NewtonRoots<T> newton(Ops tf, Operand<T> a) {
    return newton(tf, a, NEWTON_MAX_ITERATIONS_DEFAULT);
  }

  /**
   * A^{-1/2} and A^{-1} of the symmetric positive definite matrix {@code a} by the coupled Newton
   * iteration.
   *
   * <p>Each run of the iteration (the plain one, and the shifted retry when the plain one misses
   * the tolerance) is a {@code StatelessWhile} loop. Each iteration measures the residual r = ‖I −
   * Z Y‖_F/√n of the pair it starts from; the loop stops after {@code maxIterations}, once r falls
   * to {@link #newtonStopTolerance}, or when r stops decreasing (it decreases monotonically in
   * exact arithmetic, so a rise means rounding has taken over). The reported residual is that of
   * the last pair measured, one step before the returned one, so it errs high. {@code converged} is
   * r ≤ {@link #newtonAcceptTolerance}; callers flag or replace a root that misses it. For a
   * positive semidefinite (shifted) input the result stays bounded either way: Z multiplies an
   * eigendirection by at most 1.5 per step, so an eigenvalue too small to converge in time is
   * under-amplified, as if the spectrum had a higher floor, never turned into Inf or NaN. An input
   * indefinite beyond the retry's shift makes the residual rise, which stops the loop and fails the
   * tolerance. {@code iterations} counts both runs. A zero matrix gives large finite roots (c is
   * floored at {@link #TINY}), as {@link #eigh} does.
   *
   * @throws IllegalArgumentException if {@code a} is not a square matrix of static shape or {@code
   *     maxIterations < 1}
   */
  public static <T extends TFloating> NewtonRoots<T> newton(
      Ops tf, Operand<T> a, int maxIterations) {
    long n = Matrices.squareSide(a, "inverse-root input");
    if (maxIterations < 1) {
      throw new IllegalArgumentException(
          "Newton iterations must be at least 1, got " + maxIterations);
    }
    Class<T> type = a.type();
    Attempt<T> plain = attempt(tf, a, 0.0, maxIterations);
    Operand<T> accept = Matrices.scalar(tf, newtonAcceptTolerance(type), type);
    GraphFunctions.Values chosen =
        GraphFunctions.ifThenElse(
            tf,
            tf.math.lessEqual(plain.residual(), accept),
            GraphFunctions.name("newton_root_retry", maxIterations),
            List.of(a, plain.inverseSqrt(), plain.inverse(), plain.residual(), plain.iterations()),
            (fn, in) -> in.subList(1, 5),
            (fn, in) -> {
              Attempt<T> shifted =
                  attempt(fn, in.get(0), n * Matrices.epsilon(type), maxIterations);
              return List.of(
                  shifted.inverseSqrt(),
                  shifted.inverse(),
                  shifted.residual(),
                  fn.math.add(shifted.iterations(), in.<TInt32>get(4)));
            });
    Operand<T> residual = chosen.get(2);
    return new NewtonRoots<>(
        chosen.get(0), chosen.get(1), residual, chosen.get(3), tf.math.lessEqual(residual, accept));
  }

  /** One run of the iteration on A + s·I, s = shift·‖A‖²_F/tr A. */
  private record Attempt<T extends TFloating>(
      Operand<T> inverseSqrt,
      Operand<T> inverse,
      Operand<T> residual,
      Operand<TInt32> iterations) {}

  private static <T extends TFloating> Attempt<T> attempt(
      Ops tf, Operand<T> a, double shift, int maxIterations) {
    Class<T> type = a.type();
    long n = a.shape().size(0);
    Operand<T> shifted = a;
    if (shift > 0) {
      // ‖A‖²_F / tr A lies in [λ_min, λ_max] and is close to λ_max when a few eigenvalues dominate,
      // which is when rounding leaves a computed factor slightly indefinite.
      Operand<T> dominant =
          tf.math.div(
              tf.math.square(Matrices.frobeniusNorm(tf, a)),
              tf.math.maximum(Matrices.trace(tf, a), Matrices.scalar(tf, TINY, type)));
      shifted =
          Matrices.addToDiagonal(tf, a, tf.math.mul(dominant, Matrices.scalar(tf, shift, type)));
    }
    Operand<T> c =
        tf.math.maximum(Matrices.frobeniusNorm(tf, shifted), Matrices.scalar(tf, TINY, type));
    Operand<T> y0 = tf.math.div(shifted, c);
    Operand<T> z0 = Matrices.identity(tf, n, type);
    // r starts below `previous` so that the first iteration always runs.
    Operand<T> huge = Matrices.scalar(tf, Float.MAX_VALUE, type);
    Operand<T> infinity = Matrices.scalar(tf, Double.POSITIVE_INFINITY, type);
    double stop = newtonStopTolerance(type);
    GraphFunctions.Values loop =
        GraphFunctions.whileLoop(
            tf,
            GraphFunctions.name("newton_root", maxIterations, stop),
            List.of(tf.constant(0), y0, z0, huge, infinity),
            (fn, in) -> {
              Operand<T> r = in.get(3);
              return fn.math.logicalAnd(
                  fn.math.less(in.<TInt32>get(0), fn.constant(maxIterations)),
                  fn.math.logicalAnd(
                      fn.math.greater(r, Matrices.scalar(fn, stop, type)),
                      fn.math.less(r, in.get(4))));
            },
            (fn, in) -> newtonStep(fn, in.get(0), in.get(1), in.get(2), in.get(3)));
    Operand<T> z = Matrices.symmetrize(tf, loop.get(2));
    Operand<T> residual = loop.get(3);
    Operand<TInt32> iterations = loop.get(0);
    Operand<T> inverseSqrt = tf.math.div(z, tf.math.sqrt(c));
    Operand<T> inverse = Matrices.symmetrize(tf, tf.math.div(Matrices.matmul(tf, z, z), c));
    return new Attempt<>(inverseSqrt, inverse, residual, iterations);
  }

  /**
   * One iteration from (i, Y, Z, r, previous r): E = I − ZY measures how far the pair is from
   * (A/c)^{1/2}, (A/c)^{-1/2}; T = I + E/2, Y ← YT, Z ← TZ, and r ← ‖E‖_F/√n.
   */
  private static <T extends TFloating> List<Operand<?>> newtonStep(
      Ops fn, Operand<TInt32> i, Operand<T> y, Operand<T> z, Operand<T> r) {
    Class<T> type = y.type();
    Operand<T> error =
        Matrices.addToDiagonal(
            fn, fn.math.neg(Matrices.matmul(fn, z, y)), Matrices.scalar(fn, 1.0, type));
    Operand<T> t =
        Matrices.addToDiagonal(
            fn, fn.math.mul(Matrices.scalar(fn, 0.5, type), error), Matrices.scalar(fn, 1.0, type));
    Operand<T> residual =
        fn.math.div(
            Matrices.frobeniusNorm(fn, error),
            Matrices.scalar(fn, Math.sqrt(y.shape().size(0)), type));
    return List.of(
        fn.math.add(i, fn.constant(1)),
        Matrices.matmul(fn, y, t),
        Matrices.matmul(fn, t, z),
        residual,
        r);
  }
}
