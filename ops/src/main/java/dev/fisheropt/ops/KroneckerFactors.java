package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * The Kronecker-factored empirical Fisher P ⊗ Q of a matrix parameter with gradient G [m, n], as
 * FISMO estimates it: each factor's statistic is G weighted by the inverse of the other factor, so
 * that the pair is the fixed point of the Kronecker approximation (a flip-flop estimate), damped
 * relative to the factor's own trace.
 *
 * <p>Two forms of the statistics exist. {@link #leftStatistic} and {@link #rightStatistic} are the
 * paper's: the damping μ·tr(P)/m is absolute (tr P = m always), so the statistic's size, and with
 * it the relative weight of the damping and of the factor's history in the EMA, grows with the
 * squared scale of G. {@link #normalizedLeftStatistic} and {@link #normalizedRightStatistic} damp
 * relative to the statistic itself and normalise it to the factor's trace, so they are unchanged
 * when G is multiplied by any s ≠ 0.
 */
public final class KroneckerFactors {
  private KroneckerFactors() {}

  /** The n×n identity, every factor's initial value. */
  public static <T extends TFloating> Operand<T> identity(Ops tf, long n, Class<T> type) {
    return Matrices.identity(tf, n, type);
  }

  /** L = G Q⁻¹ Gᵀ / n + μ·tr(P)/m·I, the statistic of the left (row) factor P. */
  public static <T extends TFloating> Operand<T> leftStatistic(
      Ops tf, Operand<T> g, Operand<T> qInverse, Operand<T> p, Operand<T> damping) {
    long[] shape = Matrices.matrixShape(g, "gradient");
    Operand<T> l =
        tf.math.div(
            Matrices.matmulTransposeB(tf, Matrices.matmul(tf, g, qInverse), g),
            size(tf, shape[1], g));
    return Matrices.addToDiagonal(
        tf, l, tf.math.div(tf.math.mul(damping, Matrices.trace(tf, p)), size(tf, shape[0], g)));
  }

  /** R = Gᵀ P⁻¹ G / m + μ·tr(Q)/n·I, the statistic of the right (column) factor Q. */
  public static <T extends TFloating> Operand<T> rightStatistic(
      Ops tf, Operand<T> g, Operand<T> pInverse, Operand<T> q, Operand<T> damping) {
    long[] shape = Matrices.matrixShape(g, "gradient");
    Operand<T> r =
        tf.math.div(
            Matrices.matmul(tf, Matrices.matmulTransposeA(tf, g, pInverse), g),
            size(tf, shape[0], g));
    return Matrices.addToDiagonal(
        tf, r, tf.math.div(tf.math.mul(damping, Matrices.trace(tf, q)), size(tf, shape[1], g)));
  }

  /**
   * m·L/tr(L) with L = S + μ·tr(S)/m·I and S = G Q⁻¹ Gᵀ: the left statistic damped relative to its
   * own mean eigenvalue and normalised to P's trace m, i.e. (m·S/tr(S) + μ·I)/(1 + μ). It is the
   * same for G and s·G (any s ≠ 0), and where S = 0 (a zero gradient) it is I.
   */
  public static <T extends TFloating> Operand<T> normalizedLeftStatistic(
      Ops tf, Operand<T> g, Operand<T> qInverse, Operand<T> damping) {
    Matrices.matrixShape(g, "gradient");
    return normalized(
        tf, Matrices.matmulTransposeB(tf, Matrices.matmul(tf, g, qInverse), g), damping);
  }

  /**
   * n·R/tr(R) with R = S + μ·tr(S)/n·I and S = Gᵀ P⁻¹ G: the right statistic damped relative to its
   * own mean eigenvalue and normalised to Q's trace n; the same for G and s·G, and I where S = 0.
   */
  public static <T extends TFloating> Operand<T> normalizedRightStatistic(
      Ops tf, Operand<T> g, Operand<T> pInverse, Operand<T> damping) {
    Matrices.matrixShape(g, "gradient");
    return normalized(
        tf, Matrices.matmul(tf, Matrices.matmulTransposeA(tf, g, pInverse), g), damping);
  }

  /** (d·S/tr(S) + μ·I)/(1 + μ) for the d×d PSD matrix S, or I where tr(S) is not positive. */
  private static <T extends TFloating> Operand<T> normalized(
      Ops tf, Operand<T> s, Operand<T> damping) {
    long d = Matrices.matrixShape(s, "statistic")[0];
    Class<T> type = s.type();
    Operand<T> one = Matrices.scalar(tf, 1.0, type);
    Operand<T> trace = Matrices.trace(tf, s);
    Operand<T> positive =
        tf.dtypes.cast(tf.math.greater(trace, Matrices.scalar(tf, 0.0, type)), type);
    // Where tr(S) = 0 the division uses 1 instead and the result is discarded, so no NaN appears.
    Operand<T> divisor = tf.math.add(tf.math.mul(positive, trace), tf.math.sub(one, positive));
    Operand<T> unitTrace =
        Matrices.addToDiagonal(
            tf, tf.math.mul(tf.math.div(Matrices.scalar(tf, d, type), divisor), s), damping);
    Operand<T> statistic = tf.math.div(unitTrace, tf.math.add(one, damping));
    Operand<T> identity = Matrices.identity(tf, d, type);
    return tf.math.add(
        tf.math.mul(positive, statistic), tf.math.mul(tf.math.sub(one, positive), identity));
  }

  /** A·X·B: a matrix seen through a left and a right factor (whitening, or mapping back). */
  public static <T extends TFloating> Operand<T> sandwich(
      Ops tf, Operand<T> a, Operand<T> x, Operand<T> b) {
    return Matrices.matmul(tf, Matrices.matmul(tf, a, x), b);
  }

  private static <T extends TFloating> Operand<T> size(Ops tf, long n, Operand<T> like) {
    return tf.constant(like.type(), (double) n);
  }
}
