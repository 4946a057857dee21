package dev.fisheropt.ops;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.While;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TType;

/**
 * Batched conjugate gradient: solves A_j x_j = b_j for every column j of an [n, m] right-hand side
 * at once, for a symmetric positive definite {@link ColumnOperator}, as one {@code StatelessWhile}
 * loop.
 *
 * <p>From x₀ = 0, r₀ = p₀ = b, every step computes, column by column,
 * <pre>
 *   q = A p,   α = ⟨r, r⟩ / (⟨p, q⟩ + ε),   x ← x + αp,   r ← r − αq,
 *   β = ⟨r', r'⟩ / (⟨r, r⟩ + ε),   p ← βp + r'
 * </pre>
 * (Hestenes and Stiefel, 1952). The guard ε (default 1e-10, as in the FROG authors' code) keeps a
 * column whose residual is already zero at x instead of turning it into NaN; a zero right-hand side
 * gives x = 0. The loop runs a fixed number of steps, or, with a tolerance τ &gt; 0, stops early once
 * every column has ‖r_j‖ ≤ τ‖b_j‖. After k steps x_k minimises the A-norm error over the Krylov space
 * span{b, Ab, …, A^{k−1}b}, so a column whose A_j has d distinct eigenvalues is solved exactly (up
 * to rounding) in d steps, and ‖x_k − x*‖_A ≤ 2((√κ−1)/(√κ+1))^k ‖x*‖_A.
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
      throw new IllegalArgumentException("conjugate gradient iterations must be at least 1, got " + iterations);
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
      throw new IllegalArgumentException("conjugate gradient tolerance must be a finite number ≥ 0, got " + relativeTolerance);
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
      throw new IllegalArgumentException("conjugate gradient denominator guard must be a finite number ≥ 0, got " + guard);
    }
    return new ConjugateGradient(iterations, tolerance, guard);
  }

  /**
   * The solution, the residual norm ‖r_j‖ of every column and the number of steps taken.
   *
   * @param <T> the dtype of the system
   */
  public record Solution<T extends TFloating>(Operand<T> x, Operand<T> residualNorms, Operand<TInt32> iterations) {}

  /**
   * Builds the loop solving {@code a}(X) = {@code b} column by column.
   *
   * @param b the right-hand sides, an [n, m] matrix of static shape
   */
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Solution<T> solve(Ops tf, ColumnOperator<T> a, Operand<T> b) {
    long[] shape = Matrices.matrixShape(b, "conjugate gradient right-hand side");
    Class<T> type = b.type();
    Shape matrix = Shape.of(shape[0], shape[1]);
    Shape vector = Shape.of(shape[1]);
    List<Operand<?>> operands = a.operands();
    List<LoopVar> vars = new ArrayList<>();
    vars.add(new LoopVar(TInt32.class, Shape.scalar()));
    vars.add(new LoopVar(type, matrix));
    vars.add(new LoopVar(type, matrix));
    vars.add(new LoopVar(type, matrix));
    vars.add(new LoopVar(type, vector));
    vars.add(new LoopVar(type, vector));
    for (Operand<?> o : operands) {
      vars.add(new LoopVar(o.type(), o.shape()));
    }
    String key = key(a, type, vars);

    Operand<T> rs = columnDot(tf, b, b);
    Operand<T> stop = tf.math.mul(rs, tf.constant(type, tolerance * tolerance));
    List<Operand<?>> initial = new ArrayList<>(List.of(tf.constant(0), tf.zerosLike(b), b, b, rs, stop));
    initial.addAll(operands);
    While loop = tf.whileOp(initial, condition(key, vars), body(key, vars, a));
    List<Output<?>> out = loop.output();
    Operand<T> x = tf.ensureShape((Operand<T>) out.get(1), matrix);
    Operand<T> residual = tf.math.sqrt(tf.ensureShape((Operand<T>) out.get(4), vector));
    return new Solution<>(x, residual, (Operand<TInt32>) out.get(0));
  }

  private record LoopVar(Class<? extends TType> type, Shape shape) {}

  private String key(ColumnOperator<?> a, Class<?> type, List<LoopVar> vars) {
    if (!a.key().matches("[A-Za-z0-9_]+")) {
      throw new IllegalArgumentException("operator key must hold only letters, digits and '_', got '" + a.key() + "'");
    }
    StringBuilder base = new StringBuilder("cg_").append(a.key());
    Shape[] shapes = new Shape[vars.size()];
    for (int i = 0; i < shapes.length; i++) {
      shapes[i] = vars.get(i).shape();
      base.append('_').append(vars.get(i).type().getSimpleName());
    }
    // An unknown dimension prints as -1, which a function name may not hold.
    return FunctionKeys.of(base.toString(), type, shapes, iterations, tolerance, denominatorGuard).replace('-', 'u');
  }

  private static List<Operand<?>> placeholders(Ops fn, List<LoopVar> vars, Signature.Builder sig) {
    List<Operand<?>> in = new ArrayList<>();
    // Zero-padded names sort in loop-variable order, should the signature order them by name.
    for (int i = 0; i < vars.size(); i++) {
      Placeholder<?> p = fn.placeholder(vars.get(i).type(), Placeholder.shape(vars.get(i).shape()));
      sig.input(String.format("in%03d", i), p);
      in.add(p);
    }
    return in;
  }

  @SuppressWarnings("unchecked")
  private ConcreteFunction condition(String key, List<LoopVar> vars) {
    return ConcreteFunction.create(fn -> {
      Signature.Builder sig = Signature.builder(key + "_cond");
      List<Operand<?>> in = placeholders(fn, vars, sig);
      Operand<TBool> more = fn.math.less((Operand<TInt32>) in.get(0), fn.constant(iterations));
      if (tolerance > 0) {
        Operand<TBool> unconverged = fn.math.greater((Operand<TFloating>) in.get(4), (Operand<TFloating>) in.get(5));
        more = fn.math.logicalAnd(more, fn.reduceAny(unconverged, fn.constant(0)));
      }
      return sig.output("more", more).build();
    });
  }

  @SuppressWarnings("unchecked")
  private <T extends TFloating> ConcreteFunction body(String key, List<LoopVar> vars, ColumnOperator<T> a) {
    return ConcreteFunction.create(fn -> {
      Signature.Builder sig = Signature.builder(key + "_body");
      List<Operand<?>> in = placeholders(fn, vars, sig);
      Operand<T> x = (Operand<T>) in.get(1);
      Operand<T> r = (Operand<T>) in.get(2);
      Operand<T> p = (Operand<T>) in.get(3);
      Operand<T> rs = (Operand<T>) in.get(4);
      Operand<T> guard = fn.constant(x.type(), denominatorGuard);
      Operand<T> ap = a.apply(fn, in.subList(6, in.size()), p);
      Operand<T> alpha = fn.math.div(rs, fn.math.add(columnDot(fn, p, ap), guard));
      Operand<T> xNext = fn.math.add(x, fn.math.mul(p, alpha));
      Operand<T> rNext = fn.math.sub(r, fn.math.mul(ap, alpha));
      Operand<T> rsNext = columnDot(fn, rNext, rNext);
      Operand<T> beta = fn.math.div(rsNext, fn.math.add(rs, guard));
      Operand<T> pNext = fn.math.add(fn.math.mul(p, beta), rNext);
      sig.output("out000", fn.math.add((Operand<TInt32>) in.get(0), fn.constant(1)))
          .output("out001", xNext).output("out002", rNext).output("out003", pNext).output("out004", rsNext)
          .output("out005", fn.identity(in.get(5)));
      for (int i = 6; i < in.size(); i++) {
        sig.output(String.format("out%03d", i), fn.identity(in.get(i)));
      }
      return sig.build();
    });
  }

  /** ⟨u_j, v_j⟩ for every column j. */
  private static <T extends TFloating> Operand<T> columnDot(Ops tf, Operand<T> u, Operand<T> v) {
    return tf.reduceSum(tf.math.mul(u, v), tf.constant(0));
  }
}
