package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.types.family.TFloating;

/**
 * A^{-1/2} and A^{-1} of a symmetric positive definite matrix from one symmetric eigendecomposition
 * ({@code SelfAdjointEigV2}).
 *
 * <p>Eigenvalues are clamped from below at {@code floor = max(λ_max·ε·n, tiny)} before the roots are
 * taken: for a well-conditioned SPD matrix the clamp never binds, and a matrix that rounding made
 * numerically singular (or slightly indefinite) gets a bounded inverse instead of Inf or NaN.
 */
public final class InverseRoots {
  /** Both roots of one matrix. */
  public record Roots<T extends TFloating>(Operand<T> inverseSqrt, Operand<T> inverse) {}

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
}
