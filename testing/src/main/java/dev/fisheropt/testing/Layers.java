package dev.fisheropt.testing;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Mean;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/** Layers the tests' models build that no module provides. */
public final class Layers {
  private Layers() {}

  /** γ ⊙ (h − mean) / √(var + ε) + β over the last axis (biased variance, as PyTorch's). */
  public static <T extends TFloating> Operand<T> layerNorm(
      Ops tf, Operand<T> h, Operand<T> gamma, Operand<T> beta, double epsilon) {
    Operand<TInt32> last = tf.constant(-1);
    Operand<T> centered = tf.math.sub(h, tf.math.mean(h, last, Mean.keepDims(true)));
    Operand<T> variance = tf.math.mean(tf.math.square(centered), last, Mean.keepDims(true));
    Operand<T> normalized =
        tf.math.mul(centered, tf.math.rsqrt(tf.math.add(variance, tf.constant(h.type(), epsilon))));
    return tf.math.add(tf.math.mul(normalized, gamma), beta);
  }
}
