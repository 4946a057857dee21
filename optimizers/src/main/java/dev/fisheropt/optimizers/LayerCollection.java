package dev.fisheropt.optimizers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.OperationAttributeInspector;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.core.Variable;

/**
 * The layers whose inputs and pre-activations a curvature-aware optimizer reads, registered once
 * (the idea of K-FAC's {@code LayerCollection}: TF-Java has no module hooks, so the model says
 * which tensors belong to which parameters).
 *
 * <p>Shapes follow TensorFlow: a fully-connected layer computes Z = X·W (+ b) with W [in, out], X
 * [batch, in] or [batch, time, in] (the matmul over the last axis, every position a row of the
 * statistics), Z [batch, out] or [batch, time, out]; a conv layer computes Z = conv2d(X, W) (+ b)
 * in NHWC with W [kh, kw, cin, cout]; a layer norm computes Y = γ ⊙ normalize(X) + β over the last
 * axis of X [batch, ..., c] with γ, β [c]. Every registration is checked against the static shapes
 * it can see and rejected with an {@link IllegalArgumentException} that says what does not match.
 */
public final class LayerCollection {
  /** The kind of a registered layer. */
  public enum Kind {
    FULLY_CONNECTED,
    CONV2D,
    /**
     * A layer norm over the last axis: {@link Layer#kernel} is its scale γ, {@link Layer#bias} its
     * shift β (or null), {@link Layer#preactivations} its output γ ⊙ normalize(X) + β.
     */
    LAYER_NORM
  }

  /**
   * One registered layer. For {@link Kind#FULLY_CONNECTED} and {@link Kind#LAYER_NORM} the strides,
   * padding and dilations are null; for a layer norm the kernel is the scale γ, the bias the shift
   * β and the pre-activations the norm's output.
   */
  public record Layer(
      Kind kind,
      Variable<?> kernel,
      Variable<?> bias,
      Operand<?> inputs,
      Operand<?> preactivations,
      long[] strides,
      String padding,
      long[] dilations) {
    public Layer {
      strides = strides == null ? null : strides.clone();
      dilations = dilations == null ? null : dilations.clone();
    }

    /** {1, sh, sw, 1} of a conv layer (a copy), null for a fully-connected one. */
    @Override
    public long[] strides() {
      return strides == null ? null : strides.clone();
    }

    /** {1, dh, dw, 1} of a conv layer (a copy), null for a fully-connected one. */
    @Override
    public long[] dilations() {
      return dilations == null ? null : dilations.clone();
    }

    /** The kernel's name, by which the layer is known. */
    public String name() {
      return kernel.op().name();
    }
  }

  private final List<Layer> layers = new ArrayList<>();
  private final Map<String, Layer> byVariable = new HashMap<>();
  private final Map<String, List<Layer>> shardsByKernel = new HashMap<>();

  /**
   * Registers Z = X·W (+ b), on rank-2 inputs or on rank-3 inputs with the matmul over the last
   * axis (a dense layer applied at every position of a sequence, every position one row of the
   * layer's statistics).
   *
   * @param kernel W [in, out]
   * @param bias b [out], or null
   * @param inputs X [batch, in] or [batch, time, in]
   * @param preactivations Z [batch, out] or [batch, time, out], the tensor the activation function
   *     is applied to
   */
  public LayerCollection registerFullyConnected(
      Variable<?> kernel, Variable<?> bias, Operand<?> inputs, Operand<?> preactivations) {
    return add(fullyConnected(kernel, bias, inputs, preactivations));
  }

  private static Layer fullyConnected(
      Variable<?> kernel, Variable<?> bias, Operand<?> inputs, Operand<?> preactivations) {
    String what = "fully-connected layer '" + nameOf(kernel) + "'";
    Shape k = requireRank(what + " kernel", kernel, 2);
    Shape x = requireRank(what + " inputs", inputs, 2, 3);
    Shape z = requireRank(what + " preactivations", preactivations, 2, 3);
    int rank = x.numDimensions();
    if (z.numDimensions() != rank) {
      throw new IllegalArgumentException(
          what
              + ": preactivations have rank "
              + z.numDimensions()
              + " but inputs have rank "
              + rank
              + " (got shapes "
              + z
              + " and "
              + x
              + ")");
    }
    requireEqual(what + ": inputs feature size", x.size(rank - 1), "kernel rows", k.size(0));
    requireEqual(
        what + ": preactivations feature size", z.size(rank - 1), "kernel columns", k.size(1));
    requireEqual(what + ": preactivations batch size", z.size(0), "inputs batch size", x.size(0));
    if (rank == 3) {
      requireEqual(what + ": preactivations time steps", z.size(1), "inputs time steps", x.size(1));
    }
    checkBiasAndTypes(what, kernel, bias, inputs, preactivations, k.size(1));
    return new Layer(Kind.FULLY_CONNECTED, kernel, bias, inputs, preactivations, null, null, null);
  }

  /**
   * Registers a layer norm Y = γ ⊙ (X − mean) / √(var + ε) + β over the last axis of X (the mean
   * and variance per position). AdaFisher preconditions γ and β with the diagonal Fisher of the
   * authors' code, built from X and the gradient of Y; FROG, FISMO and Muon send them to their
   * fallback.
   *
   * @param gamma γ [c], the scale
   * @param beta β [c], the shift, or null
   * @param inputs X [batch, ..., c], what the norm normalizes (rank 2 or more)
   * @param outputs Y, shaped like X
   */
  public LayerCollection registerLayerNorm(
      Variable<?> gamma, Variable<?> beta, Operand<?> inputs, Operand<?> outputs) {
    return add(layerNorm(gamma, beta, inputs, outputs));
  }

  private static Layer layerNorm(
      Variable<?> gamma, Variable<?> beta, Operand<?> inputs, Operand<?> outputs) {
    if (gamma == null) {
      throw new IllegalArgumentException("layer norm gamma must not be null");
    }
    String what = "layer norm '" + gamma.op().name() + "'";
    Shape g = requireRank(what + " gamma", gamma, 1);
    Shape x = requireAtLeastRank(what + " inputs", inputs, 2);
    Shape y = requireAtLeastRank(what + " outputs", outputs, 2);
    if (y.numDimensions() != x.numDimensions()) {
      throw new IllegalArgumentException(
          what + ": outputs shape " + y + " has another rank than inputs shape " + x);
    }
    for (int axis = 0; axis < x.numDimensions(); axis++) {
      requireEqual(
          what + ": outputs size on axis " + axis, y.size(axis), "inputs size", x.size(axis));
    }
    requireEqual(
        what + ": inputs feature size (last axis)",
        x.size(x.numDimensions() - 1),
        "gamma length",
        g.size(0));
    if (beta != null) {
      Shape b = requireRank(what + " beta", beta, 1);
      requireEqual(what + ": beta length", b.size(0), "gamma length", g.size(0));
      requireSameType(what + " beta", beta, gamma, "gamma");
    }
    requireSameType(what + " inputs", inputs, gamma, "gamma");
    requireSameType(what + " outputs", outputs, gamma, "gamma");
    return new Layer(Kind.LAYER_NORM, gamma, beta, inputs, outputs, null, null, null);
  }

  /** Registers Z = conv2d(X, W) (+ b), NHWC, without dilation. */
  public LayerCollection registerConv2d(
      Variable<?> kernel,
      Variable<?> bias,
      long[] strides,
      String padding,
      Operand<?> inputs,
      Operand<?> preactivations) {
    return registerConv2d(
        kernel, bias, strides, padding, new long[] {1, 1, 1, 1}, inputs, preactivations);
  }

  /**
   * Registers Z = conv2d(X, W, strides, padding, dilations) (+ b) in NHWC.
   *
   * @param kernel W [kh, kw, cin, cout]
   * @param bias b [cout], or null
   * @param strides {1, sh, sw, 1}
   * @param padding "SAME" or "VALID"
   * @param dilations {1, dh, dw, 1}
   * @param inputs X [batch, h, w, cin]
   * @param preactivations Z [batch, h', w', cout]
   */
  public LayerCollection registerConv2d(
      Variable<?> kernel,
      Variable<?> bias,
      long[] strides,
      String padding,
      long[] dilations,
      Operand<?> inputs,
      Operand<?> preactivations) {
    return add(conv2d(kernel, bias, strides, padding, dilations, inputs, preactivations));
  }

  private static Layer conv2d(
      Variable<?> kernel,
      Variable<?> bias,
      long[] strides,
      String padding,
      long[] dilations,
      Operand<?> inputs,
      Operand<?> preactivations) {
    String what = "conv2d layer '" + nameOf(kernel) + "'";
    Shape k = requireRank(what + " kernel", kernel, 4);
    Shape x = requireRank(what + " inputs", inputs, 4);
    Shape z = requireRank(what + " preactivations", preactivations, 4);
    requireNhwcVector(what + " strides", strides);
    requireNhwcVector(what + " dilations", dilations);
    if (!"SAME".equals(padding) && !"VALID".equals(padding)) {
      throw new IllegalArgumentException(
          what + ": padding must be \"SAME\" or \"VALID\", got " + padding);
    }
    requireEqual(what + ": inputs channels", x.size(3), "kernel input channels", k.size(2));
    requireEqual(
        what + ": preactivations channels", z.size(3), "kernel output channels", k.size(3));
    requireEqual(what + ": preactivations batch size", z.size(0), "inputs batch size", x.size(0));
    for (int axis = 1; axis <= 2; axis++) {
      long in = x.size(axis);
      if (in >= 0) {
        long effectiveKernel = (k.size(axis - 1) - 1) * dilations[axis] + 1;
        long expected =
            "SAME".equals(padding)
                ? ceilDiv(in, strides[axis])
                : ceilDiv(in - effectiveKernel + 1, strides[axis]);
        requireEqual(
            what + ": preactivations " + (axis == 1 ? "height" : "width"),
            z.size(axis),
            "the size " + padding + " padding and stride " + strides[axis] + " give",
            expected);
      }
    }
    checkBiasAndTypes(what, kernel, bias, inputs, preactivations, k.size(3));
    checkAgainstConvOp(what, kernel, preactivations, strides, padding, dilations);
    return new Layer(
        Kind.CONV2D, kernel, bias, inputs, preactivations, strides, padding, dilations);
  }

  /**
   * Registers the layer of {@code kernel} once more, on another shard of the batch: one more copy
   * of the model in this graph, sharing its variables, applied to other rows. A step built from one
   * loss per shard ({@link GuardedOptimizer#minimize(List, Replicas)}) takes every layer's
   * statistics shard by shard and averages them as data-parallel replicas do, so one process on S
   * shards reduces exactly as S workers on one shard each. The kind, bias and conv geometry are
   * those of the first registration; the tensors are checked as it checked its own.
   *
   * @param kernel the kernel (a layer norm's γ) of a layer registered before
   * @param inputs the layer's inputs on this shard
   * @param preactivations its pre-activations (a layer norm's outputs) on this shard
   */
  public LayerCollection registerShard(
      Variable<?> kernel, Operand<?> inputs, Operand<?> preactivations) {
    Layer first = byVariable.get(nameOf(kernel));
    if (first == null || !first.name().equals(kernel.op().name())) {
      throw new IllegalArgumentException(
          "'"
              + kernel.op().name()
              + "' is not the kernel of a registered layer: register the layer before its other"
              + " shards");
    }
    Layer shard =
        switch (first.kind()) {
          case FULLY_CONNECTED -> fullyConnected(kernel, first.bias(), inputs, preactivations);
          case LAYER_NORM -> layerNorm(kernel, first.bias(), inputs, preactivations);
          case CONV2D ->
              conv2d(
                  kernel,
                  first.bias(),
                  first.strides(),
                  first.padding(),
                  first.dilations(),
                  inputs,
                  preactivations);
        };
    List<Layer> shards = shardsByKernel.get(first.name());
    for (Layer other : shards) {
      if (other.preactivations().asOutput().equals(preactivations.asOutput())) {
        throw new IllegalArgumentException(
            "layer '"
                + first.name()
                + "': '"
                + preactivations.asOutput().name()
                + "' is already registered as the pre-activations of one of its shards");
      }
    }
    shards.add(shard);
    return this;
  }

  /** Every registered layer, in registration order (each by its first shard's registration). */
  public List<Layer> layers() {
    return Collections.unmodifiableList(layers);
  }

  /** The layer whose kernel or bias is {@code variable}, if any. */
  public Optional<Layer> layerOf(Variable<?> variable) {
    return Optional.ofNullable(byVariable.get(variable.op().name()));
  }

  /**
   * The registrations of {@code layer} on each shard of the batch, in order ({@link
   * #registerShard}), the layer itself first.
   */
  public List<Layer> shardsOf(Layer layer) {
    List<Layer> all = shardsByKernel.get(layer.name());
    if (all == null) {
      throw new IllegalArgumentException("layer '" + layer.name() + "' is not registered here");
    }
    return Collections.unmodifiableList(all);
  }

  /**
   * {@link #shardsOf(Layer)}, checked against the step's shard count.
   *
   * @throws IllegalArgumentException unless there are {@code shards} of them
   */
  public List<Layer> shardsOf(Layer layer, int shards) {
    List<Layer> all = shardsOf(layer);
    if (all.size() != shards) {
      throw new IllegalArgumentException(
          "layer '"
              + layer.name()
              + "' is registered on "
              + all.size()
              + (all.size() == 1 ? " shard" : " shards")
              + " of the batch but the step has "
              + shards
              + (shards == 1 ? " loss" : " losses, one per shard")
              + ": register it on every shard (registerShard) and give the step one loss per"
              + " shard");
    }
    return all;
  }

  private LayerCollection add(Layer layer) {
    claim(layer.kernel(), layer);
    if (layer.bias() != null) {
      claim(layer.bias(), layer);
    }
    layers.add(layer);
    shardsByKernel.put(layer.name(), new ArrayList<>(List.of(layer)));
    return this;
  }

  private void claim(Variable<?> v, Layer layer) {
    Layer previous = byVariable.get(v.op().name());
    if (previous != null) {
      throw new IllegalArgumentException(
          "variable '"
              + v.op().name()
              + "' is already registered with layer '"
              + previous.name()
              + "'");
    }
    byVariable.put(v.op().name(), layer);
  }

  private static void checkBiasAndTypes(
      String what,
      Variable<?> kernel,
      Variable<?> bias,
      Operand<?> inputs,
      Operand<?> preactivations,
      long outputs) {
    if (bias != null) {
      Shape b = requireRank(what + " bias", bias, 1);
      requireEqual(what + ": bias length", b.size(0), "kernel output size", outputs);
      requireSameType(what + " bias", bias, kernel);
    }
    requireSameType(what + " inputs", inputs, kernel);
    requireSameType(what + " preactivations", preactivations, kernel);
  }

  /**
   * Where the pre-activations come from a Conv2D of the kernel (directly, or through a bias add),
   * its strides, padding and dilations must be the registered ones: with SAME padding a wrong
   * dilation still gives matching shapes, and the statistics would be silently wrong.
   */
  private static void checkAgainstConvOp(
      String what,
      Variable<?> kernel,
      Operand<?> preactivations,
      long[] strides,
      String padding,
      long[] dilations) {
    GraphOperation conv = convOf(preactivations);
    if (conv == null || !conv.input(1).op().name().equals(kernel.op().name())) {
      return;
    }
    OperationAttributeInspector attrs = conv.attributes();
    requireSameAttribute(
        what,
        conv,
        "strides",
        Arrays.toString(strides),
        Arrays.toString(attrs.getAttrIntList("strides")));
    requireSameAttribute(what, conv, "padding", padding, attrs.getAttrString("padding"));
    requireSameAttribute(
        what,
        conv,
        "dilations",
        Arrays.toString(dilations),
        Arrays.toString(attrs.getAttrIntList("dilations")));
  }

  private static GraphOperation convOf(Operand<?> preactivations) {
    if (!(preactivations.op() instanceof GraphOperation op)) {
      return null;
    }
    if (op.type().equals("Conv2D")) {
      return op;
    }
    if (Set.of("BiasAdd", "Add", "AddV2").contains(op.type())) {
      for (int i = 0; i < op.numInputs(); i++) {
        if (op.input(i).op() instanceof GraphOperation in && in.type().equals("Conv2D")) {
          return in;
        }
      }
    }
    return null;
  }

  private static void requireSameAttribute(
      String what, GraphOperation conv, String attribute, String registered, String actual) {
    if (!registered.equals(actual)) {
      throw new IllegalArgumentException(
          what
              + ": registered "
              + attribute
              + " "
              + registered
              + " but the Conv2D op '"
              + conv.name()
              + "' uses "
              + actual);
    }
  }

  private static String nameOf(Variable<?> kernel) {
    if (kernel == null) {
      throw new IllegalArgumentException("kernel must not be null");
    }
    return kernel.op().name();
  }

  private static Shape requireRank(String what, Operand<?> operand, int rank) {
    return requireRank(what, operand, rank, rank);
  }

  /** The static shape of {@code operand}, whose rank must lie in [lowest, highest]. */
  private static Shape requireRank(String what, Operand<?> operand, int lowest, int highest) {
    if (operand == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    Shape s = operand.shape();
    if (s.isUnknown() || s.numDimensions() < lowest || s.numDimensions() > highest) {
      String ranks = lowest == highest ? "rank " + lowest : "rank " + lowest + " or " + highest;
      throw new IllegalArgumentException(what + " must have " + ranks + ", got shape " + s);
    }
    return s;
  }

  private static Shape requireAtLeastRank(String what, Operand<?> operand, int lowest) {
    if (operand == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    Shape s = operand.shape();
    if (s.isUnknown() || s.numDimensions() < lowest) {
      throw new IllegalArgumentException(
          what + " must have rank " + lowest + " or more, got shape " + s);
    }
    return s;
  }

  private static void requireEqual(String what, long actual, String against, long expected) {
    if (actual >= 0 && expected >= 0 && actual != expected) {
      throw new IllegalArgumentException(
          what + " is " + actual + " but " + against + " is " + expected);
    }
  }

  private static void requireSameType(String what, Operand<?> operand, Operand<?> kernel) {
    requireSameType(what, operand, kernel, "kernel");
  }

  private static void requireSameType(
      String what, Operand<?> operand, Operand<?> reference, String referenceName) {
    if (operand.type() != reference.type()) {
      throw new IllegalArgumentException(
          what
              + " has dtype "
              + operand.asOutput().dataType()
              + " but the "
              + referenceName
              + " has "
              + reference.asOutput().dataType());
    }
  }

  private static void requireNhwcVector(String what, long[] v) {
    if (v == null || v.length != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1) {
      throw new IllegalArgumentException(
          what + " must be {1, h, w, 1} with h, w ≥ 1, got " + Arrays.toString(v));
    }
  }

  private static long ceilDiv(long a, long b) {
    return a <= 0 ? 0 : (a + b - 1) / b;
  }
}
