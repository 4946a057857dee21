package dev.fisheropt.ops;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.nn.Conv2dBackpropFilter;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The diagonal Kronecker factors of a layer's Fisher as AdaFisher (Gomes et al., ICLR 2025)
 * estimates them: Ĥ_D from the layer's inputs, Ŝ_D from the gradients of its pre-activations, each
 * normalised by {@link #minMax} and blended into a running value by {@link #blend}.
 */
public final class KroneckerDiagonals {
  /** The authors' Min-Max guard: absolute, so that the raw scale of tiny statistics survives. */
  public static final double MIN_MAX_EPSILON = 1e-6;

  private KroneckerDiagonals() {}

  /**
   * Ĥ_D of a fully-connected layer before normalisation: the mean of x² over the rows of its inputs
   * x [rows, fan-in] or [batch, time, fan-in] — every axis but the last, so every position is a row
   * — followed by a 1 for the bias when it has one.
   */
  public static <T extends TFloating> Operand<T> denseInputs(
      Ops tf, Operand<T> x, boolean withBias) {
    Operand<T> squares = tf.math.mean(tf.math.square(x), allButLast(tf, x.shape().numDimensions()));
    return withBias ? appendBiasEntry(tf, squares, 1.0) : squares;
  }

  /**
   * Ĥ_D of a conv2d layer before normalisation: per kernel entry (kh, kw, cin), the sum of squared
   * zero-padded patch entries over every sample and output position, divided by their count and by
   * kh·kw·cin, followed by 1/(kh·kw·cin) for the bias when it has one. The sums are the filter
   * gradient of the squared inputs against ones (no patches materialised); TensorFlow's CPU filter
   * gradient has no dilation, so dilated layers extract the patches instead.
   *
   * @param x the layer's inputs [batch, h, w, cin] (NHWC)
   * @param z the layer's pre-activations [batch, h', w', cout]
   * @param kernelShape {kh, kw, cin, cout}
   * @param strides {1, sh, sw, 1}
   * @param padding "SAME" or "VALID"
   * @param dilations {1, dh, dw, 1}
   */
  public static <T extends TFloating> Operand<T> conv2dInputs(
      Ops tf,
      Operand<T> x,
      Operand<T> z,
      long[] kernelShape,
      long[] strides,
      String padding,
      long[] dilations,
      boolean withBias) {
    Class<T> type = x.type();
    long[] k = kernelShape;
    long fanIn = k[0] * k[1] * k[2];
    Operand<TInt32> positionsShape =
        tf.slice(tf.shape(z), tf.constant(new int[] {0}), tf.constant(new int[] {3}));
    Operand<T> sums;
    if (dilations[1] == 1 && dilations[2] == 1) {
      Operand<T> ones =
          tf.fill(
              tf.concat(List.of(positionsShape, tf.constant(new int[] {1})), tf.constant(0)),
              tf.constant(type, 1.0));
      sums =
          tf.nn.conv2dBackpropFilter(
              tf.math.square(x),
              tf.constant(new int[] {(int) k[0], (int) k[1], (int) k[2], 1}),
              ones,
              boxed(strides),
              padding,
              Conv2dBackpropFilter.dataFormat("NHWC"));
    } else {
      Operand<T> patches =
          tf.image.extractImagePatches(
              x, List.of(1L, k[0], k[1], 1L), boxed(strides), boxed(dilations), padding);
      sums = tf.reduceSum(tf.math.square(patches), tf.constant(new int[] {0, 1, 2}));
    }
    Operand<T> rows = tf.dtypes.cast(tf.reduceProd(positionsShape, tf.constant(0)), type);
    Operand<T> squares =
        tf.math.div(
            tf.reshape(sums, tf.constant(new long[] {fanIn})),
            tf.math.mul(rows, tf.constant(type, (double) fanIn)));
    return withBias ? appendBiasEntry(tf, squares, 1.0 / fanIn) : squares;
  }

  /**
   * Ŝ_D of a fully-connected or conv layer before normalisation: the mean of dZ² over every axis
   * but the last (batch and positions).
   */
  public static <T extends TFloating> Operand<T> outputs(Ops tf, Operand<T> dz) {
    return tf.math.mean(tf.math.square(dz), allButLast(tf, dz.shape().numDimensions()));
  }

  /**
   * Ĥ_D of a layer norm before normalisation, as the authors' code builds it: two entries, the
   * first for the scale γ, the second for the shift β. With x the norm's inputs [B, d₁, d₂, ...]
   * summed over every axis but axis 1 and divided by (d₂·d₃·…)² (1 for rank 2), giving u [d₁],
   *
   * <pre>
   *   Ĥ_D = [Σ u², d₁] / B²
   * </pre>
   *
   * (for [batch, time, features] inputs: u per time step, summed over batch and features; for
   * [batch, features] inputs: u per feature).
   */
  public static <T extends TFloating> Operand<T> layerNormInputs(Ops tf, Operand<T> x) {
    Operand<T> h =
        tf.stack(
            List.of(
                tf.reduceSum(tf.math.square(layerNormSums(tf, x)), tf.constant(0)),
                axisOneSize(tf, x)));
    return tf.math.div(h, tf.math.square(batchSize(tf, x)));
  }

  /**
   * u / B of {@link #layerNormInputs} for the rows of {@code x}: what data-parallel replicas (or
   * shards) average, since Ĥ_D squares a sum over the batch and a mean of squares would be another
   * statistic. {@link #layerNormInputsFromMean} forms Ĥ_D from the mean over the global batch.
   */
  public static <T extends TFloating> Operand<T> layerNormInputMean(Ops tf, Operand<T> x) {
    return tf.math.div(layerNormSums(tf, x), batchSize(tf, x));
  }

  /**
   * Ĥ_D = [Σ u², d₁] / B² from ū = u / B over the global batch of B rows ({@link
   * #layerNormInputMean} averaged), as [Σ ū², d₁ / B²]; {@code axisOne} is d₁.
   */
  public static <T extends TFloating> Operand<T> layerNormInputsFromMean(
      Ops tf, Operand<T> mean, Operand<T> axisOne, Operand<T> globalBatch) {
    return tf.stack(
        List.of(
            tf.reduceSum(tf.math.square(mean), tf.constant(0)),
            tf.math.div(axisOne, tf.math.square(globalBatch))));
  }

  /** d₁ of x [B, d₁, …], in x's dtype. */
  public static <T extends TFloating> Operand<T> axisOneSize(Ops tf, Operand<T> x) {
    return tf.gather(tf.dtypes.cast(tf.shape(x), x.type()), tf.constant(1), tf.constant(0));
  }

  /** u of {@link #layerNormInputs}: x summed over every axis but axis 1, ÷ (d₂·d₃·…)². */
  private static <T extends TFloating> Operand<T> layerNormSums(Ops tf, Operand<T> x) {
    Class<T> type = x.type();
    int rank = x.shape().numDimensions();
    int[] axes = new int[rank - 1];
    axes[0] = 0;
    for (int i = 1; i < axes.length; i++) {
      axes[i] = i + 1;
    }
    Operand<T> shape = tf.dtypes.cast(tf.shape(x), type);
    Operand<T> normalized =
        rank == 2
            ? tf.constant(type, 1.0)
            : tf.reduceProd(
                tf.slice(shape, tf.constant(new int[] {2}), tf.constant(new int[] {rank - 2})),
                tf.constant(0));
    return tf.math.div(tf.reduceSum(x, tf.constant(axes)), tf.math.square(normalized));
  }

  /** B of x [B, …], in x's dtype. */
  public static <T extends TFloating> Operand<T> batchSize(Ops tf, Operand<T> x) {
    return tf.dtypes.cast(tf.gather(tf.shape(x), tf.constant(0), tf.constant(0)), x.type());
  }

  /**
   * Ŝ_D of a layer norm before normalisation, as the authors' code builds it: the square of the sum
   * of dY over every axis but the last (not a sum of squares), divided by the batch size B.
   */
  public static <T extends TFloating> Operand<T> layerNormOutputs(Ops tf, Operand<T> dy) {
    return tf.math.div(
        tf.math.square(tf.reduceSum(dy, allButLast(tf, dy.shape().numDimensions()))),
        batchSize(tf, dy));
  }

  /**
   * Σ dY / B over every axis but the last, for the rows of {@code dy}: what data-parallel replicas
   * (or shards) average before {@link #layerNormOutputsFromMean} squares it.
   */
  public static <T extends TFloating> Operand<T> layerNormOutputMean(Ops tf, Operand<T> dy) {
    return tf.math.div(
        tf.reduceSum(dy, allButLast(tf, dy.shape().numDimensions())), batchSize(tf, dy));
  }

  /** Ŝ_D = (Σ dY)² / B from the mean v̄ = Σ dY / B over the global batch of B rows, as B·v̄². */
  public static <T extends TFloating> Operand<T> layerNormOutputsFromMean(
      Ops tf, Operand<T> mean, Operand<T> globalBatch) {
    return tf.math.mul(globalBatch, tf.math.square(mean));
  }

  /**
   * (v − min v) / (max v − min v + {@value #MIN_MAX_EPSILON}) over the whole vector, after +inf → 1
   * and −inf → 0.
   */
  public static <T extends TFloating> Operand<T> minMax(Ops tf, Operand<T> v) {
    Class<T> type = v.type();
    Operand<T> infinityValue =
        tf.select(tf.math.greater(v, tf.zerosLike(v)), tf.onesLike(v), tf.zerosLike(v));
    Operand<T> finite = tf.select(tf.math.isInf(v), infinityValue, v);
    Operand<TInt32> all = tf.constant(0);
    Operand<T> lo = tf.reduceMin(finite, all);
    Operand<T> hi = tf.reduceMax(finite, all);
    return tf.math.div(
        tf.math.sub(finite, lo),
        tf.math.add(tf.math.sub(hi, lo), tf.constant(type, MIN_MAX_EPSILON)));
  }

  /** D ← oldWeight·D + newWeight·MinMax(D̂): the running factor after one refresh. */
  public static <T extends TFloating> Operand<T> blend(
      Ops tf, Operand<T> running, Operand<T> fresh, Operand<T> oldWeight, Operand<T> newWeight) {
    return tf.math.add(tf.math.mul(oldWeight, running), tf.math.mul(newWeight, minMax(tf, fresh)));
  }

  private static <T extends TFloating> Operand<T> appendBiasEntry(
      Ops tf, Operand<T> squares, double value) {
    return tf.concat(
        List.of(squares, tf.fill(tf.constant(new long[] {1}), tf.constant(squares.type(), value))),
        tf.constant(0));
  }

  private static Operand<TInt32> allButLast(Ops tf, int rank) {
    int[] axes = new int[rank - 1];
    for (int i = 0; i < axes.length; i++) {
      axes[i] = i;
    }
    return tf.constant(axes);
  }

  private static List<Long> boxed(long[] v) {
    return Arrays.stream(v).boxed().toList();
  }
}
