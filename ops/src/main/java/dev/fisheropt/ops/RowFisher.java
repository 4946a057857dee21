package dev.fisheropt.ops;

import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.index.Indices;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.types.family.TFloating;

/**
 * The row-wise Fisher operators of FROG as {@link ColumnOperator}s: for every output column j of a
 * layer, A_j = Σ_i Λ_ij x_i x_iᵀ + τ_jI over the rows x_i of the layer's input, applied to all
 * columns at once without forming any A_j. The damping is one τ for every column or a [1, m] row of
 * them.
 *
 * <p>Fully-connected, with X [r, d] and V [d, m]: A(V) = Xᵀ(Λ ⊙ (XV)) + τV. Conv2d, with V the
 * kernel [kh, kw, cin, cout] seen as [kh·kw·cin, cout]: the rows are the receptive-field patches of
 * every sample and output position, XV is the layer's convolution of its input with V and Xᵀ(·) the
 * matching filter gradient ({@code Conv2DBackpropFilter}), with the layer's strides, padding and
 * dilations.
 */
public final class RowFisher {
  private RowFisher() {}

  /** A column operator from its key, its operands and the map it builds from stand-ins for them. */
  private record Operator<T extends TFloating>(String key, List<Operand<?>> operands, Map<T> map)
      implements ColumnOperator<T> {
    interface Map<T extends TFloating> {
      Operand<T> build(Ops tf, List<Operand<?>> operands, Operand<T> v);
    }

    @Override
    public Operand<T> apply(Ops tf, List<Operand<?>> operands, Operand<T> v) {
      return map.build(tf, operands, v);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> Operand<T> cast(Operand<?> operand) {
    return (Operand<T>) operand;
  }

  /**
   * A(V) = Xᵀ(Λ ⊙ (XV)) + τV.
   *
   * @param x the layer's inputs [r, d]
   * @param lambda the row weights Λ [r, m]
   * @param tau the damping τ: a scalar, or a [1, m] row with one τ_j per column
   */
  public static <T extends TFloating> ColumnOperator<T> fullyConnected(
      Operand<T> x, Operand<T> lambda, Operand<T> tau) {
    return new Operator<>(
        "row_fisher_dense",
        List.of(x, lambda, tau),
        (tf, in, v) -> {
          Operand<T> xs = cast(in.get(0));
          Operand<T> weighted = tf.math.mul(cast(in.get(1)), Matrices.matmul(tf, xs, v));
          return tf.math.add(
              Matrices.matmulTransposeA(tf, xs, weighted), tf.math.mul(cast(in.get(2)), v));
        });
  }

  /**
   * The fully-connected systems A_j v_j = b_j of {@link #fullyConnected}, written in coordinates of
   * the r-dimensional row space of X plus one direction per column, so that conjugate gradient on
   * them touches [q+1, m] matrices (q = min(r, d)) instead of [d, m] ones.
   *
   * <p>With Q [d, q] an orthonormal basis of the span of the rows x_i (QR of Xᵀ) and b⊥_j = b_j −
   * QQᵀb_j, every A_j maps span(Q) into itself and is τ_j on b⊥_j, because Xb⊥_j = 0. So the Krylov
   * spaces of conjugate gradient from 0 lie in span(Q) ⊕ span(b⊥_j), and in the orthonormal
   * coordinates c = (Qᵀv, ⟨v, b⊥_j⟩/‖b⊥_j‖) the systems are A'_j c_j = (Qᵀb_j, ‖b⊥_j‖) with A'(C) =
   * W'ᵀ(Λ ⊙ (W'C)) + τC, the same kind of operator with X replaced by W' = [XQ, 0] [r, q+1]. Inner
   * products are the same in both coordinates, so conjugate gradient takes the same steps (the same
   * α, β, guards included), up to rounding. Building the reduction and mapping a solution back cost
   * three passes of [d, m] matrix products with q columns; each CG step then costs O(r·q·m) instead
   * of two [r, d]·[d, m] products and a dozen passes over [d, m] data.
   *
   * @param <T> the dtype
   * @param operator A' on the coordinates [q+1, m]
   * @param rhs the right-hand sides in coordinates, [q+1, m]
   * @param basis Q' = [Q, 0], [d, q+1]
   * @param outside b⊥, [d, m]
   * @param outsideNorms ‖b⊥_j‖, [1, m]
   */
  public record RowSpaceSystem<T extends TFloating>(
      ColumnOperator<T> operator,
      Operand<T> rhs,
      Operand<T> basis,
      Operand<T> outside,
      Operand<T> outsideNorms) {
    /** The [d, m] matrix v_j = Qc_j + c_{q,j}·b⊥_j/‖b⊥_j‖ (0 where b⊥_j = 0) of coordinates c. */
    public Operand<T> expand(Ops tf, Operand<T> coordinates) {
      long q = basis.shape().size(1) - 1;
      Operand<T> along =
          tf.math.divNoNan(
              tf.slice(
                  coordinates, tf.constant(new long[] {q, 0}), tf.constant(new long[] {1, -1})),
              outsideNorms);
      return tf.math.add(Matrices.matmul(tf, basis, coordinates), tf.math.mul(outside, along));
    }
  }

  /**
   * {@link #fullyConnected}'s systems with right-hand sides b, reduced to the row space of x.
   *
   * @param x the layer's inputs [r, d], r and d known statically
   * @param lambda the row weights Λ [r, m]
   * @param tau the damping τ: a scalar, or a [1, m] row with one τ_j per column
   * @param b the right-hand sides [d, m]
   */
  public static <T extends TFloating> RowSpaceSystem<T> fullyConnectedInRowSpace(
      Ops tf, Operand<T> x, Operand<T> lambda, Operand<T> tau, Operand<T> b) {
    long[] shape = Matrices.matrixShape(x, "row-space inputs");
    if (shape[0] < 0 || shape[1] < 0) {
      throw new IllegalArgumentException(
          "row-space reduction needs inputs of static shape, got " + x.shape());
    }
    Operand<T> q = tf.linalg.qr(tf.linalg.transpose(x, tf.constant(new int[] {1, 0}))).q();
    Operand<T> basis =
        tf.concat(
            List.of(q, tf.zeros(tf.constant(new long[] {shape[1], 1}), b.type())), tf.constant(1));
    Operand<T> inside = Matrices.matmulTransposeA(tf, q, b);
    Operand<T> outside = tf.math.sub(b, Matrices.matmul(tf, q, inside));
    Operand<T> outsideNorms =
        tf.math.sqrt(
            tf.reduceSum(tf.math.square(outside), tf.constant(0), ReduceSum.keepDims(true)));
    Operand<T> rhs = tf.concat(List.of(inside, outsideNorms), tf.constant(0));
    return new RowSpaceSystem<>(
        fullyConnected(Matrices.matmul(tf, x, basis), lambda, tau),
        rhs,
        basis,
        outside,
        outsideNorms);
  }

  /**
   * A(V) = conv2dᵀ(X, Λ ⊙ conv2d(X, V)) + τV for V [kh·kw·cin, cout].
   *
   * @param x the layer's inputs [r, h, w, cin] (NHWC)
   * @param lambda the weights Λ [r, h', w', cout], one per sample, output position and channel
   * @param tau the damping τ: a scalar, or a [1, m] row with one τ_j per column
   * @param kernelShape {kh, kw, cin, cout}
   * @param strides {1, sh, sw, 1}
   * @param padding "SAME" or "VALID"
   * @param dilations {1, dh, dw, 1}
   */
  public static <T extends TFloating> ColumnOperator<T> conv2d(
      Operand<T> x,
      Operand<T> lambda,
      Operand<T> tau,
      long[] kernelShape,
      long[] strides,
      String padding,
      long[] dilations) {
    long[] kernel = kernelShape.clone();
    List<Long> s = boxed(strides);
    List<Long> d = boxed(dilations);
    String key =
        "row_fisher_conv2d_k"
            + join(kernel)
            + "_s"
            + join(strides)
            + "_"
            + padding
            + "_d"
            + join(dilations);
    return new Operator<>(
        key,
        List.of(x, lambda, tau),
        (tf, in, v) -> {
          Operand<T> xs = cast(in.get(0));
          Operand<T> filter = tf.reshape(v, tf.constant(kernel));
          Operand<T> xv = tf.nn.conv2d(xs, filter, s, padding, Conv2d.dilations(d));
          Operand<T> weighted = tf.math.mul(cast(in.get(1)), xv);
          Operand<T> back = filterGradient(tf, xs, weighted, kernel, s, padding, dilations);
          return tf.math.add(tf.reshape(back, tf.shape(v)), tf.math.mul(cast(in.get(2)), v));
        });
  }

  /**
   * The gradient of Σ u ⊙ conv2d(x, V) with respect to V. TensorFlow's CPU kernel of {@code
   * Conv2DBackpropFilter} rejects dilations, so a dilated layer takes the gradient of the undilated
   * kernel that spans the same receptive field, (k−1)·d+1 wide, and keeps every d-th tap: the same
   * sums, with the zero taps computed and dropped.
   */
  private static <T extends TFloating> Operand<T> filterGradient(
      Ops tf,
      Operand<T> x,
      Operand<T> u,
      long[] kernel,
      List<Long> strides,
      String padding,
      long[] dilations) {
    if (dilations[1] == 1 && dilations[2] == 1) {
      return tf.nn.conv2dBackpropFilter(x, tf.constant(toInts(kernel)), u, strides, padding);
    }
    long[] spanned = {
      (kernel[0] - 1) * dilations[1] + 1, (kernel[1] - 1) * dilations[2] + 1, kernel[2], kernel[3]
    };
    Operand<T> full =
        tf.nn.conv2dBackpropFilter(x, tf.constant(toInts(spanned)), u, strides, padding);
    return tf.stridedSlice(
        full, Indices.step(dilations[1]), Indices.step(dilations[2]), Indices.all(), Indices.all());
  }

  /**
   * ‖patch‖² for every sample and output position of a conv layer, [r, h', w', 1]: the squared norm
   * of the zero-padded receptive field over all input channels.
   */
  public static <T extends TFloating> Operand<T> patchSquaredNorms(
      Ops tf, Operand<T> x, long[] kernelShape, long[] strides, String padding, long[] dilations) {
    Operand<T> ones =
        tf.fill(
            tf.constant(new long[] {kernelShape[0], kernelShape[1], kernelShape[2], 1}),
            tf.constant(x.type(), 1.0));
    return tf.nn.conv2d(
        tf.math.square(x), ones, boxed(strides), padding, Conv2d.dilations(boxed(dilations)));
  }

  private static List<Long> boxed(long[] v) {
    return Arrays.stream(v).boxed().toList();
  }

  private static int[] toInts(long[] v) {
    return Arrays.stream(v).mapToInt(Math::toIntExact).toArray();
  }

  private static String join(long[] v) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < v.length; i++) {
      b.append(i == 0 ? "" : "x").append(v[i]);
    }
    return b.toString();
  }
}
