package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * FISMO's Kronecker-factor update: an exponential moving average renormalised to a fixed trace.
 *
 * <p>P̃ = γ·P + (1−γ)·L, then P ← sym(d·P̃ / tr P̃) with d the dimension. Fixing tr P = d removes
 * the scale ambiguity of a Kronecker product (P ⊗ Q = cP ⊗ Q/c); the symmetrisation removes the
 * rounding asymmetry of the products that built L. If P and L are SPD, so is the result.
 */
public final class FactorEma {
  private FactorEma() {}

  /**
   * sym(d·P̃ / tr P̃) with P̃ = decay·previous + (1 − decay)·observation.
   *
   * @param decay a scalar operand of the factors' dtype, γ ∈ [0, 1)
   */
  public static <T extends TFloating> Operand<T> traceNormalized(
      Ops tf, Operand<T> previous, Operand<T> observation, Operand<T> decay) {
    long[] shape = Matrices.matrixShape(previous, "factor");
    Class<T> type = previous.type();
    Operand<T> one = Matrices.scalar(tf, 1.0, type);
    Operand<T> blended =
        tf.math.add(
            tf.math.mul(decay, previous), tf.math.mul(tf.math.sub(one, decay), observation));
    Operand<T> scale =
        tf.math.div(Matrices.scalar(tf, shape[0], type), Matrices.trace(tf, blended));
    return Matrices.symmetrize(tf, tf.math.mul(scale, blended));
  }
}
