package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * The Kronecker-factored empirical Fisher P ⊗ Q of a matrix parameter with gradient G [m, n], as
 * FISMO estimates it: each factor's statistic is G weighted by the inverse of the other factor, so
 * that the pair is the fixed point of the Kronecker approximation (a flip-flop estimate), damped
 * relative to the factor's own trace.
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
    Operand<T> l = tf.math.div(Matrices.matmulTransposeB(tf, Matrices.matmul(tf, g, qInverse), g), size(tf, shape[1], g));
    return Matrices.addToDiagonal(tf, l, tf.math.div(tf.math.mul(damping, Matrices.trace(tf, p)), size(tf, shape[0], g)));
  }

  /** R = Gᵀ P⁻¹ G / m + μ·tr(Q)/n·I, the statistic of the right (column) factor Q. */
  public static <T extends TFloating> Operand<T> rightStatistic(
      Ops tf, Operand<T> g, Operand<T> pInverse, Operand<T> q, Operand<T> damping) {
    long[] shape = Matrices.matrixShape(g, "gradient");
    Operand<T> r = tf.math.div(Matrices.matmul(tf, Matrices.matmulTransposeA(tf, g, pInverse), g), size(tf, shape[0], g));
    return Matrices.addToDiagonal(tf, r, tf.math.div(tf.math.mul(damping, Matrices.trace(tf, q)), size(tf, shape[1], g)));
  }

  /** A·X·B: a matrix seen through a left and a right factor (whitening, or mapping back). */
  public static <T extends TFloating> Operand<T> sandwich(Ops tf, Operand<T> a, Operand<T> x, Operand<T> b) {
    return Matrices.matmul(tf, Matrices.matmul(tf, a, x), b);
  }

  private static <T extends TFloating> Operand<T> size(Ops tf, long n, Operand<T> like) {
    return tf.constant(like.type(), (double) n);
  }
}
