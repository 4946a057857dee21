package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TNumber;

/**
 * Mean softmax cross-entropy built from ops that have gradients in TF-Java 1.1.0, in float32 and
 * float64: −mean_b Σ_k onehot(y_b)_k · logSoftmax(z_b)_k.
 *
 * <p>TF-Java 1.1.0 registers no gradient for {@code SparseSoftmaxCrossEntropyWithLogits}, and the
 * gradient of {@code SoftmaxCrossEntropyWithLogits} fails in float64, so training code that calls
 * {@code graph.addGradients} on those losses cannot run; this formulation can.
 */
public final class SoftmaxCrossEntropy {
  private SoftmaxCrossEntropy() {}

  /**
   * @param logits [batch, classes]
   * @param labels [batch] integer class ids
   * @param classes number of classes
   */
  public static <T extends TFloating> Operand<T> mean(
      Ops tf, Operand<T> logits, Operand<? extends TNumber> labels, int classes) {
    Class<T> type = logits.type();
    Operand<T> onehot =
        tf.oneHot(
            tf.dtypes.cast(labels, TInt32.class),
            tf.constant(classes),
            Matrices.scalar(tf, 1.0, type),
            Matrices.scalar(tf, 0.0, type));
    Operand<T> perExample =
        tf.reduceSum(tf.math.mul(onehot, tf.nn.logSoftmax(logits)), tf.constant(1));
    return tf.math.neg(tf.math.mean(perExample, tf.constant(0)));
  }
}
