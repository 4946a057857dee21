package dev.fisheropt.ops;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Polar factor of a matrix by a Newton–Schulz iteration, built as one {@code StatelessWhile} loop.
 *
 * <p>With X₀ = M/(‖M‖_F + 1e-7), each step computes A = XXᵀ, B = bA + cA², X ← aX + BX. The default
 * quintic (a, b, c) = (3.4445, −4.7750, 2.0315) from Muon pushes every singular value of X into
 * roughly [0.7, 1.2] in five steps without ever driving it to exactly one; a zero singular value
 * stays zero, so a rank-deficient M gives a partial isometry. The iteration runs on the wide
 * orientation (rows ≤ cols), where XXᵀ is the smaller Gram matrix.
 */
public final class NewtonSchulz {
  /** Muon's quintic coefficients (a, b, c). */
  public static final double A_DEFAULT = 3.4445;

  public static final double B_DEFAULT = -4.7750;
  public static final double C_DEFAULT = 2.0315;
  public static final int STEPS_DEFAULT = 5;

  /** Added to the Frobenius norm so that a zero matrix maps to zero instead of NaN. */
  public static final double NORM_EPSILON = 1e-7;

  private NewtonSchulz() {}

  /** The polar factor of {@code m} with the default quintic and five steps. */
  public static <T extends TFloating> Operand<T> polar(Ops tf, Operand<T> m) {
    return polar(tf, m, STEPS_DEFAULT, A_DEFAULT, B_DEFAULT, C_DEFAULT);
  }

  /**
   * The polar factor of the matrix {@code m} after {@code steps} iterations with coefficients (a,
   * b, c).
   *
   * @throws IllegalArgumentException if {@code steps < 1} or {@code m} is not a matrix of static
   *     shape
   */
  public static <T extends TFloating> Operand<T> polar(
      Ops tf, Operand<T> m, int steps, double a, double b, double c) {
    if (steps < 1) {
      throw new IllegalArgumentException("Newton–Schulz steps must be at least 1, got " + steps);
    }
    long[] shape = Matrices.matrixShape(m, "Newton–Schulz input");
    boolean tall = shape[0] > shape[1];
    Class<T> type = m.type();
    Operand<T> x =
        tf.math.div(
            m, tf.math.add(Matrices.frobeniusNorm(tf, m), Matrices.scalar(tf, NORM_EPSILON, type)));
    if (tall) {
      x = transpose(tf, x);
    }
    String name = GraphFunctions.name("newton_schulz", steps, a, b, c);
    Operand<T> result =
        GraphFunctions.whileLoop(
                tf,
                name,
                List.of(tf.constant(0), x),
                (fn, in) -> fn.math.less(in.<TInt32>get(0), fn.constant(steps)),
                (fn, in) ->
                    List.of(
                        fn.math.add(in.<TInt32>get(0), fn.constant(1)),
                        step(fn, in.get(1), a, b, c)))
            .get(1);
    return tall ? transpose(tf, result) : result;
  }

  /**
   * The polar factor of the matrix {@code m} after one iteration per row (a, b, c) of {@code
   * coefficients}, the t-th iteration using the t-th row (e.g. {@link PolarExpress}'s schedule),
   * and X₀ = M/(s·‖M‖_F + 1e-7) with {@code normalizationSafety} s ≥ 1.
   *
   * @throws IllegalArgumentException if {@code coefficients} is empty or has a row that is not
   *     three finite numbers, {@code normalizationSafety < 1}, or {@code m} is not a matrix of
   *     static shape
   */
  public static <T extends TFloating> Operand<T> polar(
      Ops tf, Operand<T> m, double[][] coefficients, double normalizationSafety) {
    if (coefficients == null || coefficients.length == 0) {
      throw new IllegalArgumentException("Newton–Schulz coefficient schedule must not be empty");
    }
    if (!(normalizationSafety >= 1)) {
      throw new IllegalArgumentException(
          "Newton–Schulz normalization safety must be at least 1, got " + normalizationSafety);
    }
    int steps = coefficients.length;
    double[][] columns = new double[3][steps];
    double[] key = new double[3 * steps + 1];
    for (int t = 0; t < steps; t++) {
      if (coefficients[t] == null || coefficients[t].length != 3) {
        throw new IllegalArgumentException(
            "Newton–Schulz coefficient row " + t + " must hold three numbers (a, b, c)");
      }
      for (int i = 0; i < 3; i++) {
        double v = coefficients[t][i];
        if (!Double.isFinite(v)) {
          throw new IllegalArgumentException(
              "Newton–Schulz coefficient row " + t + " holds a non-finite value: " + v);
        }
        columns[i][t] = v;
        key[3 * t + i] = v;
      }
    }
    key[3 * steps] = normalizationSafety;
    long[] shape = Matrices.matrixShape(m, "Newton–Schulz input");
    boolean tall = shape[0] > shape[1];
    Class<T> type = m.type();
    Operand<T> norm =
        tf.math.mul(Matrices.frobeniusNorm(tf, m), Matrices.scalar(tf, normalizationSafety, type));
    Operand<T> x = tf.math.div(m, tf.math.add(norm, Matrices.scalar(tf, NORM_EPSILON, type)));
    if (tall) {
      x = transpose(tf, x);
    }
    Operand<T> result =
        GraphFunctions.whileLoop(
                tf,
                GraphFunctions.name("newton_schulz_schedule", key),
                List.of(tf.constant(0), x),
                (fn, in) -> fn.math.less(in.<TInt32>get(0), fn.constant(steps)),
                (fn, in) -> {
                  Operand<TInt32> t = in.get(0);
                  return List.of(
                      fn.math.add(t, fn.constant(1)),
                      step(
                          fn,
                          in.get(1),
                          coefficient(fn, columns[0], t, type),
                          coefficient(fn, columns[1], t, type),
                          coefficient(fn, columns[2], t, type)));
                })
            .get(1);
    return tall ? transpose(tf, result) : result;
  }

  /** The t-th entry of {@code values} as a scalar of {@code type}. */
  private static <T extends TFloating> Operand<T> coefficient(
      Ops fn, double[] values, Operand<TInt32> t, Class<T> type) {
    return fn.dtypes.cast(fn.gather(fn.constant(values), t, fn.constant(0)), type);
  }

  /** X ← aX + (bA + cA²)X with A = XXᵀ. */
  private static <T extends TFloating> Operand<T> step(
      Ops fn, Operand<T> x, Operand<T> a, Operand<T> b, Operand<T> c) {
    Operand<T> gram = Matrices.matmulTransposeB(fn, x, x);
    Operand<T> poly =
        fn.math.add(fn.math.mul(b, gram), fn.math.mul(c, Matrices.matmul(fn, gram, gram)));
    return fn.math.add(fn.math.mul(a, x), Matrices.matmul(fn, poly, x));
  }

  /** X ← aX + (bA + cA²)X with A = XXᵀ. */
  private static <T extends TFloating> Operand<T> step(
      Ops fn, Operand<T> x, double a, double b, double c) {
    Class<T> type = x.type();
    Operand<T> gram = Matrices.matmulTransposeB(fn, x, x);
    Operand<T> poly =
        fn.math.add(
            fn.math.mul(Matrices.scalar(fn, b, type), gram),
            fn.math.mul(Matrices.scalar(fn, c, type), Matrices.matmul(fn, gram, gram)));
    return fn.math.add(fn.math.mul(Matrices.scalar(fn, a, type), x), Matrices.matmul(fn, poly, x));
  }

  private static <T extends TFloating> Operand<T> transpose(Ops tf, Operand<T> x) {
    return tf.linalg.transpose(x, tf.constant(new int[] {1, 0}));
  }
}
