package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.Svd;
import org.tensorflow.types.family.TFloating;

/**
 * The exact polar factor U_r V_rᵀ of a matrix through its thin SVD, for reference runs.
 *
 * <p>Only singular values above max(m, n)·ε·σ_max count (numpy's matrix-rank rule). For a
 * rank-deficient M the unique polar factor is the partial isometry on its range; keeping the
 * singular vectors of the numerically zero singular values would add an arbitrary rank-one term
 * made of rounding noise. Newton–Schulz maps those singular values to zero as well.
 */
public final class ExactPolar {
  private ExactPolar() {}

  /** The polar factor of the matrix {@code m} (static shape required). */
  public static <T extends TFloating> Operand<T> polar(Ops tf, Operand<T> m) {
    long[] shape = Matrices.matrixShape(m, "polar input");
    Class<T> type = m.type();
    Svd<T> svd = tf.linalg.svd(m, Svd.computeUv(true), Svd.fullMatrices(false));
    double relative = Math.max(shape[0], shape[1]) * Matrices.epsilon(type);
    Operand<T> threshold =
        tf.math.mul(tf.max(svd.s(), tf.constant(0)), Matrices.scalar(tf, relative, type));
    Operand<T> kept = tf.dtypes.cast(tf.math.greater(svd.s(), threshold), type);
    return Matrices.matmulTransposeB(tf, tf.math.mul(svd.u(), kept), svd.v());
  }
}
