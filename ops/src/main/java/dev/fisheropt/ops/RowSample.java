package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.nn.TopK;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * A reproducible uniform sample of batch rows, the same on every backend: the rows with the largest
 * of per-row hash keys (SplitMix64 of a seed, a counter and the row index). The keys are integer
 * arithmetic, which CPU, GPU and XLA compute identically, unlike {@code StatelessRandomUniform},
 * with which XLA and plain runs picked different rows.
 */
public final class RowSample {
  private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;
  private static final long COUNTER_MULTIPLIER = 0xD1B54A32D192ED03L;

  private RowSample() {}

  /**
   * A seed for the {@code index}-th of several independent samples drawn from one user seed (one
   * per layer, say).
   */
  public static long stream(long seed, int index) {
    return seed ^ (GOLDEN_GAMMA * (index + 1));
  }

  /**
   * min({@code size}, rows) distinct row indices in ascending order, uniformly random given {@code
   * seed} and {@code counter}; with {@code size} ≥ rows, every row in order.
   *
   * @param counter advances the sample, e.g. the optimizer's count of completed steps
   * @param rows the number of rows to choose from
   */
  public static Operand<TInt32> indices(
      Ops tf, long seed, Operand<TInt64> counter, Operand<TInt32> rows, int size) {
    if (size < 1) {
      throw new IllegalArgumentException("sample size must be at least 1, got " + size);
    }
    Operand<TInt64> row =
        tf.dtypes.cast(tf.range(tf.constant(0), rows, tf.constant(1)), TInt64.class);
    Operand<TInt64> z =
        tf.math.add(
            tf.math.add(tf.constant(seed), tf.math.mul(counter, tf.constant(COUNTER_MULTIPLIER))),
            tf.math.mul(row, tf.constant(GOLDEN_GAMMA)));
    z =
        tf.math.mul(
            tf.bitwise.bitwiseXor(z, unsignedShift(tf, z, 30)), tf.constant(0xBF58476D1CE4E5B9L));
    z =
        tf.math.mul(
            tf.bitwise.bitwiseXor(z, unsignedShift(tf, z, 27)), tf.constant(0x94D049BB133111EBL));
    z = tf.bitwise.bitwiseXor(z, unsignedShift(tf, z, 31));
    Operand<TInt32> keys = tf.dtypes.cast(unsignedShift(tf, z, 33), TInt32.class);
    Operand<TInt32> count = tf.math.minimum(rows, tf.constant(size));
    Operand<TInt32> chosen = tf.nn.topK(keys, count, new TopK.Options[0]).indices();
    return tf.math.neg(tf.nn.topK(tf.math.neg(chosen), count, new TopK.Options[0]).values());
  }

  /** z >>> bits on int64 (TensorFlow's RightShift is arithmetic for signed types). */
  private static Operand<TInt64> unsignedShift(Ops tf, Operand<TInt64> z, int bits) {
    return tf.bitwise.bitwiseAnd(
        tf.bitwise.rightShift(z, tf.constant((long) bits)), tf.constant(-1L >>> bits));
  }
}
