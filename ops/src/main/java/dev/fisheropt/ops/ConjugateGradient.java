package dev.fisheropt.ops;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Batched conjugate gradient: solves A_j x_j = b_j for every column j of an [n, m] right-hand side
 * at once, for a symmetric positive definite {@link ColumnOperator}, as one {@code StatelessWhile}
 * loop.
 *
 * <p>From x₀ = 0, r₀ = p₀ = b, every step computes, column by column,
 *
 * <pre>
 *   q = A p,   α = ⟨r, r⟩ / (⟨p, q⟩ + ε),   x ← x + αp,   r ← r − αq,
 *   β = ⟨r', r'⟩ / (⟨r, r⟩ + ε),   p ← βp + r'
 * </pre>
 *
 * (Hestenes and Stiefel, 1952). The guard ε (default 1e-10, as in the FROG authors' code) keeps a
 * column whose residual is already zero at x instead of turning it into NaN; a zero right-hand side
 * gives x = 0. The loop runs a fixed number of steps, or, with a tolerance τ &gt; 0, stops early
 * once every column has ‖r_j‖ ≤ τ‖b_j‖. After k steps x_k minimises the A-norm error over the
 * Krylov space span{b, Ab, …, A^{k−1}b}, so a column whose A_j has d distinct eigenvalues is solved
 * exactly (up to rounding) in d steps, and ‖x_k − x*‖_A ≤ 2((√κ−1)/(√κ+1))^k ‖x*‖_A.
 */
public final class ConjugateGradient {
  public static final double DENOMINATOR_GUARD_DEFAULT = 1e-10;

  private final int iterations;
  private final double tolerance;
  private final double denominatorGuard;

  private ConjugateGradient(int iterations, double tolerance, double denominatorGuard) {
    this.iterations = iterations;
    this.tolerance = tolerance;
    this.denominatorGuard = denominatorGuard;
  }

  /**
   * At most {@code iterations} steps, no early stop, guard {@value #DENOMINATOR_GUARD_DEFAULT}.
   *
   * @throws IllegalArgumentException if {@code iterations < 1}
   */
  public static ConjugateGradient steps(int iterations) {
    if (iterations < 1) {
      throw new IllegalArgumentException(
          "conjugate gradient iterations must be at least 1, got " + iterations);
    }
    return new ConjugateGradient(iterations, 0.0, DENOMINATOR_GUARD_DEFAULT);
  }

  /**
   * Stops once every column has ‖r_j‖ ≤ {@code relativeTolerance}·‖b_j‖; 0 runs every step.
   *
   * @throws IllegalArgumentException if the tolerance is negative or not finite
   */
  public ConjugateGradient tolerance(double relativeTolerance) {
    if (!(relativeTolerance >= 0) || Double.isInfinite(relativeTolerance)) {
      throw new IllegalArgumentException(
          "conjugate gradient tolerance must be a finite number ≥ 0, got " + relativeTolerance);
    }
    return new ConjugateGradient(iterations, relativeTolerance, denominatorGuard);
  }

  /**
   * ε added to both denominators, ⟨p, Ap⟩ and ⟨r, r⟩.
   *
   * @throws IllegalArgumentException if the guard is negative or not finite
   */
  public ConjugateGradient denominatorGuard(double guard) {
    if (!(guard >= 0) || Double.isInfinite(guard)) {
      throw new IllegalArgumentException(
          "conjugate gradient denominator guard must be a finite number ≥ 0, got " + guard);
    }
    return new ConjugateGradient(iterations, tolerance, guard);
  }

  /**
   * The solution, the residual norm ‖r_j‖ of every column and the number of steps taken.
   *
   * @param <T> the dtype of the system
   */
  public record Solution<T extends TFloating>(
      Operand<T> x, Operand<T> residualNorms, Operand<TInt32> iterations) {}

  /**
   * Builds the loop solving {@code a}(X) = {@code b} column by column.
   *
   * @param b the right-hand sides, an [n, m] matrix of static shape
   */
  public <T extends TFloating> Solution<T> solve(Ops tf, ColumnOperator<T> a, Operand<T> b) {
    Matrices.matrixShape(b, "conjugate gradient right-hand side");
    if (!a.key().matches("[A-Za-z0-9_]+")) {
      throw new IllegalArgumentException(
          "operator key must hold only letters, digits and '_', got '" + a.key() + "'");
    }
    Operand<T> rs = columnDot(tf, b, b);
    Operand<T> stop = tf.math.mul(rs, tf.constant(b.type(), tolerance * tolerance));
    List<Operand<?>> initial =
        new ArrayList<>(List.of(tf.constant(0), tf.zerosLike(b), b, b, rs, stop));
    initial.addAll(a.operands());
    GraphFunctions.Values out =
        GraphFunctions.whileLoop(
            tf,
            GraphFunctions.name("cg_" + a.key(), iterations, tolerance, denominatorGuard),
            initial,
            this::more,
            (fn, in) -> step(fn, a, in));
    return new Solution<>(out.get(1), tf.math.sqrt(out.get(4)), out.get(0));
  }

  /**
   * Whether to run another step: below the step limit and, with a tolerance, some column
   * unconverged.
   */
  private Operand<TBool> more(Ops fn, GraphFunctions.Values in) {
    Operand<TBool> more = fn.math.less(in.<TInt32>get(0), fn.constant(iterations));
    if (tolerance > 0) {
      Operand<TBool> unconverged = fn.math.greater(in.<TFloating>get(4), in.<TFloating>get(5));
      more = fn.math.logicalAnd(more, fn.reduceAny(unconverged, fn.constant(0)));
    }
    return more;
  }

  /**
   * One step on (i, x, r, p, ⟨r, r⟩, stop, operands…); the stop level and the operands pass
   * through.
   */
  private <T extends TFloating> List<Operand<?>> step(
      Ops fn, ColumnOperator<T> a, GraphFunctions.Values in) {
    Operand<T> x = in.get(1);
    Operand<T> r = in.get(2);
    Operand<T> p = in.get(3);
    Operand<T> rs = in.get(4);
    Operand<T> guard = fn.constant(x.type(), denominatorGuard);
    Operand<T> ap = a.apply(fn, in.subList(6, in.size()), p);
    Operand<T> alpha = fn.math.div(rs, fn.math.add(columnDot(fn, p, ap), guard));
    Operand<T> xNext = fn.math.add(x, fn.math.mul(p, alpha));
    Operand<T> rNext = fn.math.sub(r, fn.math.mul(ap, alpha));
    Operand<T> rsNext = columnDot(fn, rNext, rNext);
    Operand<T> beta = fn.math.div(rsNext, fn.math.add(rs, guard));
    Operand<T> pNext = fn.math.add(fn.math.mul(p, beta), rNext);
    List<Operand<?>> next =
        new ArrayList<>(
            List.of(fn.math.add(in.<TInt32>get(0), fn.constant(1)), xNext, rNext, pNext, rsNext));
    next.addAll(in.subList(5, in.size()));
    return next;
  }

  /** ⟨u_j, v_j⟩ for every column j. */
  private static <T extends TFloating> Operand<T> columnDot(Ops tf, Operand<T> u, Operand<T> v) {
    return tf.reduceSum(tf.math.mul(u, v), tf.constant(0));
  }
}
