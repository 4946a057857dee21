package dev.fisheropt.ops;

import java.util.List;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.If;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.While;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A^{-1/2} and A^{-1} of a symmetric positive definite matrix, by a symmetric eigendecomposition
 * ({@link #eigh}) or by a matmul-only coupled Newton iteration ({@link #newton}).
 *
 * <p>{@link #eigh}: eigenvalues are clamped from below at {@code floor = max(λ_max·ε·n, tiny)} before
 * the roots are taken: for a well-conditioned SPD matrix the clamp never binds, and a matrix that
 * rounding made numerically singular (or slightly indefinite) gets a bounded inverse instead of Inf
 * or NaN.
 *
 * <p>{@link #newton}: the coupled Newton–Schulz iteration (Higham, <i>Functions of Matrices</i>,
 * 2008, §6.7): with c = ‖A‖_F ≥ λ_max, Y₀ = A/c, Z₀ = I,
 * <pre>
 *   T = (3I − Z Y)/2,   Y ← Y T,   Z ← T Z
 * </pre>
 * gives Y → (A/c)^{1/2} and Z → (A/c)^{-1/2}, so A^{-1/2} = Z/√c and A^{-1} = Z²/c. Every eigenvalue of
 * A/c lies in (0, 1], where the iteration converges: quadratically near 1, and by a factor 2.25 per
 * step for a tiny eigenvalue, so the step count grows like log κ(A). It is built from matrix
 * products only, so XLA compiles it whole (the auto-clusterer never takes {@code SelfAdjointEigV2}).
 * If the residual misses the acceptance tolerance, the iteration is run once more on
 * A + n·ε·(‖A‖²_F/tr A)·I, the level of {@link #eigh}'s eigenvalue floor (‖A‖²_F/tr A is at most
 * λ_max, and close to it when a few eigenvalues dominate): FISMO's float32 factors reach
 * κ ≈ 1e8 and even λ_min ≈ −3ε·λ_max under large gradients, where the unshifted iteration cannot
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
  public record NewtonRoots<T extends TFloating>(Operand<T> inverseSqrt, Operand<T> inverse, Operand<T> residual,
      Operand<TInt32> iterations, Operand<TBool> converged) {
    public Roots<T> roots() {
      return new Roots<>(inverseSqrt, inverse);
    }
  }

  /** Upper bound on the iterations of {@link #newton}: enough for a condition number of about 1e12. */
  public static final int NEWTON_MAX_ITERATIONS_DEFAULT = 50;

  /** Absolute lower bound on the eigenvalue floor, so that a zero matrix still has finite roots. */
  public static final double TINY = 1e-30;

  private InverseRoots() {}

  /** A^{-1/2} and A^{-1} of the square matrix {@code a} through {@code SelfAdjointEigV2}. */
  public static <T extends TFloating> Roots<T> eigh(Ops tf, Operand<T> a) {
    long[] shape = Matrices.matrixShape(a, "inverse-root input");
    if (shape[0] != shape[1]) {
      throw new IllegalArgumentException("inverse-root input must be square, got " + shape[0] + "x" + shape[1]);
    }
    Class<T> type = a.type();
    SelfAdjointEig<T> eig = tf.linalg.selfAdjointEig(a, SelfAdjointEig.computeV(true));
    double relative = shape[0] * Matrices.epsilon(type);
    Operand<T> floor = tf.math.maximum(
        tf.math.mul(tf.max(eig.e(), tf.constant(0)), Matrices.scalar(tf, relative, type)),
        Matrices.scalar(tf, TINY, type));
    Operand<T> lambda = tf.math.maximum(eig.e(), floor);
    Operand<T> v = eig.v();
    Operand<T> inverseSqrt = Matrices.matmulTransposeB(tf, tf.math.mul(v, tf.math.rsqrt(lambda)), v);
    Operand<T> inverse = Matrices.matmulTransposeB(tf, tf.math.mul(v, tf.math.reciprocal(lambda)), v);
    return new Roots<>(inverseSqrt, inverse);
  }

  /**
   * The residual below which {@link #newton} stops early: 1e-6 for float32, 1e-13 for float64 (a few
   * hundred ulps of 1; below that the residual is rounding noise).
   */
  public static double newtonStopTolerance(Class<? extends TFloating> type) {
    return Matrices.epsilon(type) < 1e-10 ? 1e-13 : 1e-6;
  }

  /**
   * The residual at or below which {@link #newton} reports convergence: 1e-4 for float32, 1e-9 for
   * float64. A root that misses it is still bounded (see {@link #newton}) but less accurate.
   */
  public static double newtonAcceptTolerance(Class<? extends TFloating> type) {
    return Matrices.epsilon(type) < 1e-10 ? 1e-9 : 1e-4;
  }

  /** {@link #newton(Ops, Operand, int)} with {@link #NEWTON_MAX_ITERATIONS_DEFAULT} iterations at most. */
  public static <T extends TFloating> NewtonRoots<T> newton(Ops tf, Operand<T> a) {
    return newton(tf, a, NEWTON_MAX_ITERATIONS_DEFAULT);
  }

  /**
   * A^{-1/2} and A^{-1} of the symmetric positive definite matrix {@code a} by the coupled Newton
   * iteration.
   *
   * <p>Each run of the iteration (the plain one, and the shifted retry when the plain one misses
   * the tolerance) is a {@code StatelessWhile} loop. Each iteration measures the residual r = ‖I − Z Y‖_F/√n of the pair it starts from; the loop
   * stops after {@code maxIterations}, once r falls to {@link #newtonStopTolerance}, or when r stops
   * decreasing (it decreases monotonically in exact arithmetic, so a rise means rounding has taken
   * over). The reported residual is that of the last pair measured, one step before the returned
   * one, so it errs high. {@code converged} is r ≤ {@link #newtonAcceptTolerance}; callers flag
   * or replace a root that misses it. For a positive semidefinite (shifted) input the result stays
   * bounded either way: Z multiplies an eigendirection by at most 1.5 per step, so an eigenvalue too
   * small to converge in time is under-amplified, as if the spectrum had a higher floor, never turned
   * into Inf or NaN. An input indefinite beyond the retry's shift makes the residual rise, which
   * stops the loop and fails the tolerance. {@code iterations} counts both runs. A zero matrix gives large finite roots (c is floored at
   * {@link #TINY}), as {@link #eigh} does.
   *
   * @throws IllegalArgumentException if {@code a} is not a square matrix of static shape or
   *     {@code maxIterations < 1}
   */
  public static <T extends TFloating> NewtonRoots<T> newton(Ops tf, Operand<T> a, int maxIterations) {
    long[] shape = Matrices.matrixShape(a, "inverse-root input");
    if (shape[0] != shape[1]) {
      throw new IllegalArgumentException("inverse-root input must be square, got " + shape[0] + "x" + shape[1]);
    }
    if (maxIterations < 1) {
      throw new IllegalArgumentException("Newton iterations must be at least 1, got " + maxIterations);
    }
    Class<T> type = a.type();
    Shape square = Shape.of(shape[0], shape[1]);
    Attempt<T> plain = attempt(tf, a, 0.0, maxIterations);
    Operand<T> accept = Matrices.scalar(tf, newtonAcceptTolerance(type), type);
    ConcreteFunction keep = retryBranch("newton_root_keep", type, square, maxIterations,
        (fn, in) -> new Attempt<>(in.get(1), in.get(2), in.get(3), fn.dtypes.cast(in.get(4), TInt32.class)));
    ConcreteFunction retry = retryBranch("newton_root_retry", type, square, maxIterations, (fn, in) -> {
      Attempt<T> shifted = attempt(fn, in.get(0), shape[0] * Matrices.epsilon(type), maxIterations);
      return new Attempt<>(shifted.inverseSqrt(), shifted.inverse(), shifted.residual(),
          fn.math.add(shifted.iterations(), fn.dtypes.cast(in.get(4), TInt32.class)));
    });
    If chosen = tf.statelessIf(tf.math.lessEqual(plain.residual(), accept),
        List.of(a, plain.inverseSqrt(), plain.inverse(), plain.residual(), tf.dtypes.cast(plain.iterations(), type)),
        List.of(type, type, type, TInt32.class), keep, retry, If.outputShapes(square, square, Shape.scalar(), Shape.scalar()));
    @SuppressWarnings("unchecked")
    Operand<T> inverseSqrt = tf.ensureShape((Operand<T>) chosen.output().get(0), square);
    @SuppressWarnings("unchecked")
    Operand<T> inverse = tf.ensureShape((Operand<T>) chosen.output().get(1), square);
    @SuppressWarnings("unchecked")
    Operand<T> residual = (Operand<T>) chosen.output().get(2);
    @SuppressWarnings("unchecked")
    Operand<TInt32> iterations = (Operand<TInt32>) chosen.output().get(3);
    return new NewtonRoots<>(inverseSqrt, inverse, residual, iterations, tf.math.lessEqual(residual, accept));
  }

  /** One run of the iteration on A + s·I, s = shift·‖A‖²_F/tr A. */
  private record Attempt<T extends TFloating>(Operand<T> inverseSqrt, Operand<T> inverse, Operand<T> residual, Operand<TInt32> iterations) {}

  private static <T extends TFloating> Attempt<T> attempt(Ops tf, Operand<T> a, double shift, int maxIterations) {
    Class<T> type = a.type();
    long n = a.shape().size(0);
    Operand<T> shifted = a;
    if (shift > 0) {
      // ‖A‖²_F / tr A lies in [λ_min, λ_max] and is close to λ_max when a few eigenvalues dominate,
      // which is when rounding leaves a computed factor slightly indefinite.
      Operand<T> dominant = tf.math.div(tf.math.square(Matrices.frobeniusNorm(tf, a)),
          tf.math.maximum(Matrices.trace(tf, a), Matrices.scalar(tf, TINY, type)));
      shifted = Matrices.addToDiagonal(tf, a, tf.math.mul(dominant, Matrices.scalar(tf, shift, type)));
    }
    Operand<T> c = tf.math.maximum(Matrices.frobeniusNorm(tf, shifted), Matrices.scalar(tf, TINY, type));
    Operand<T> y0 = tf.math.div(shifted, c);
    Operand<T> z0 = Matrices.identity(tf, n, type);
    // r starts below `previous` so that the first iteration always runs.
    Operand<T> huge = Matrices.scalar(tf, Float.MAX_VALUE, type);
    Operand<T> infinity = Matrices.scalar(tf, Double.POSITIVE_INFINITY, type);
    Shape square = Shape.of(n, n);
    While loop = tf.whileOp(List.of(tf.constant(0), y0, z0, huge, infinity),
        newtonCondition(type, square, maxIterations, newtonStopTolerance(type)), newtonBody(type, square));
    @SuppressWarnings("unchecked")
    Operand<T> z = Matrices.symmetrize(tf, tf.ensureShape((Operand<T>) loop.output().get(2), square));
    @SuppressWarnings("unchecked")
    Operand<T> residual = (Operand<T>) loop.output().get(3);
    @SuppressWarnings("unchecked")
    Operand<TInt32> iterations = (Operand<TInt32>) loop.output().get(0);
    Operand<T> inverseSqrt = tf.math.div(z, tf.math.sqrt(c));
    Operand<T> inverse = Matrices.symmetrize(tf, tf.math.div(Matrices.matmul(tf, z, z), c));
    return new Attempt<>(inverseSqrt, inverse, residual, iterations);
  }

  private interface RetryBody<T extends TFloating> {
    Attempt<T> build(Ops fn, List<Operand<T>> inputs);
  }

  /** A branch taking (A, A^{-1/2}, A^{-1}, residual, iterations as T) and returning the four results. */
  private static <T extends TFloating> ConcreteFunction retryBranch(String name, Class<T> type, Shape square, int maxIterations,
      RetryBody<T> body) {
    return ConcreteFunction.create(fn -> {
      Shape[] shapes = {square, square, square, Shape.scalar(), Shape.scalar()};
      Signature.Builder sig = Signature.builder(FunctionKeys.of(name, type, shapes, maxIterations));
      List<Operand<T>> inputs = new java.util.ArrayList<>();
      for (int i = 0; i < shapes.length; i++) {
        Placeholder<T> in = fn.placeholder(type, Placeholder.shape(shapes[i]));
        inputs.add(in);
        sig.input("in" + i, in);
      }
      Attempt<T> out = body.build(fn, inputs);
      // Identity keeps each output a distinct node where the branch passes an input through.
      return sig.output("inverse_sqrt", fn.identity(out.inverseSqrt())).output("inverse", fn.identity(out.inverse()))
          .output("residual", fn.identity(out.residual())).output("iterations", fn.identity(out.iterations())).build();
    });
  }

  private static <T extends TFloating> ConcreteFunction newtonCondition(Class<T> type, Shape shape, int maxIterations, double stop) {
    return ConcreteFunction.create(fn -> {
      Placeholder<TInt32> i = fn.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<T> y = fn.placeholder(type, Placeholder.shape(shape));
      Placeholder<T> z = fn.placeholder(type, Placeholder.shape(shape));
      Placeholder<T> r = fn.placeholder(type, Placeholder.shape(Shape.scalar()));
      Placeholder<T> previous = fn.placeholder(type, Placeholder.shape(Shape.scalar()));
      Operand<TBool> more = fn.math.logicalAnd(fn.math.less(i, fn.constant(maxIterations)),
          fn.math.logicalAnd(fn.math.greater(r, Matrices.scalar(fn, stop, type)), fn.math.less(r, previous)));
      return Signature.builder(FunctionKeys.of("newton_root_cond", type, new Shape[] {shape}, maxIterations, stop))
          .input("i", i).input("y", y).input("z", z).input("r", r).input("previous", previous)
          .output("more", more).build();
    });
  }

  private static <T extends TFloating> ConcreteFunction newtonBody(Class<T> type, Shape shape) {
    return ConcreteFunction.create(fn -> {
      Placeholder<TInt32> i = fn.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<T> y = fn.placeholder(type, Placeholder.shape(shape));
      Placeholder<T> z = fn.placeholder(type, Placeholder.shape(shape));
      Placeholder<T> r = fn.placeholder(type, Placeholder.shape(Shape.scalar()));
      Placeholder<T> previous = fn.placeholder(type, Placeholder.shape(Shape.scalar()));
      // E = I − ZY measures how far the pair is from (A/c)^{1/2}, (A/c)^{-1/2}; T = I + E/2.
      Operand<T> error = Matrices.addToDiagonal(fn, fn.math.neg(Matrices.matmul(fn, z, y)), Matrices.scalar(fn, 1.0, type));
      Operand<T> t = Matrices.addToDiagonal(fn, fn.math.mul(Matrices.scalar(fn, 0.5, type), error), Matrices.scalar(fn, 1.0, type));
      Operand<T> residual = fn.math.div(Matrices.frobeniusNorm(fn, error), Matrices.scalar(fn, Math.sqrt(shape.size(0)), type));
      return Signature.builder(FunctionKeys.of("newton_root_body", type, new Shape[] {shape}))
          .input("i", i).input("y", y).input("z", z).input("r", r).input("previous", previous)
          .output("i_next", fn.math.add(i, fn.constant(1)))
          .output("y_next", Matrices.matmul(fn, y, t)).output("z_next", Matrices.matmul(fn, t, z))
          .output("r_next", residual).output("previous_next", r)
          .build();
    });
  }
}
