package dev.fisheropt.optimizers;

import dev.fisheropt.ops.GraphFunctions;
import dev.fisheropt.ops.KroneckerDiagonals;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * The AdaFisher step that {@link AdaFisher} and {@link AdaFisherW} share; they differ only in where
 * the weight decay κ enters ({@link #regularizedGradient} and {@link #decayedStep}).
 *
 * <p>Per registered layer the kernel carries two slots, {@code H_D} (length fan-in, plus one for
 * the bias) and {@code S_D} (length fan-out), both starting at ones. On refresh steps
 *
 * <pre>
 *   Ĥ_D = Σ h² / N     (h: layer inputs, or zero-padded conv patches divided further by kh·kw·cin,
 *                       with a ones feature appended when the layer has a bias)
 *   Ŝ_D = Σ s² / N     (s = dLoss/dZ of the mean loss; N = batch, or batch·positions for conv
 *                       and for dense layers on [batch, time, features] inputs)
 *   H_D ← γ₁·H_D + γ₂·MinMax(Ĥ_D),  S_D ← γ₁·S_D + γ₂·MinMax(Ŝ_D)
 *   MinMax(v) = (v − min v) / (max v − min v + 1e-6)  after +inf → 1, −inf → 0
 * </pre>
 *
 * A registered layer norm (scale and shift [c]) follows the authors' code instead: H_D has two
 * entries, the scale's and the shift's, from {@link KroneckerDiagonals#layerNormInputs}, and S_D
 * [c] is the square of the summed output gradient over the batch size ({@link
 * KroneckerDiagonals#layerNormOutputs}); the scale divides by H_D[0]·S_D + λ, the shift by
 * H_D[1]·S_D + λ.
 *
 * <p>Every step, for every trained parameter θ with gradient g and slot {@code exp_avg} m:
 *
 * <pre>
 *   F̃ = H_D ⊗ S_D + λ  (the kernel's rows and the bias entry; F̃ = 1 for unregistered parameters)
 *   m ← βm + (1−β)g,   θ ← θ − η·(m / (1 − βᵗ)) / F̃
 * </pre>
 */
abstract class AdaFisherBase extends GuardedOptimizer {
  /**
   * The refresh branch's inputs: H_D, S_D, the two EMA weights, the two reduction keys, then x, z
   * and dZ of every shard; this is where the shards' start.
   */
  private static final int FIRST_SHARD_INPUT = 6;

  private final LayerCollection layers;
  private final int fisherInterval;

  /** F̃ of one layer's kernel and bias. */
  private record LayerFisher<T extends TFloating>(Operand<T> kernel, Operand<T> bias) {}

  AdaFisherBase(Graph graph, Builder<?> b) {
    super(graph, b);
    this.layers = b.layers;
    this.fisherInterval = b.fisherInterval;
    hyperparameter("beta", b.beta, Settings.Range.DECAY);
    hyperparameter("factor_ema_old", b.factorEmaOld, Settings.Range.CLOSED_DECAY);
    hyperparameter("factor_ema_new", b.factorEmaNew, Settings.Range.CLOSED_DECAY);
    hyperparameter("damping", b.damping, Settings.Range.POSITIVE);
    hyperparameter("weight_decay", b.weightDecay, Settings.Range.NON_NEGATIVE);
  }

  /** The gradient that enters the momentum: g, or g + κθ for L2 regularisation. */
  abstract <T extends TFloating> Operand<T> regularizedGradient(
      Ops tf, Operand<T> gradient, Operand<T> parameter, Operand<T> weightDecay);

  /** The new parameter from θ, η and the preconditioned direction (m / (1 − βᵗ)) / F̃. */
  abstract <T extends TFloating> Operand<T> decayedStep(
      Ops tf,
      Operand<T> parameter,
      Operand<T> learningRate,
      Operand<T> direction,
      Operand<T> weightDecay);

  /** Every registered pre-activation, differentiated together with the parameters. */
  @Override
  protected List<Operand<?>> auxiliaryGradientTargets() {
    List<Operand<?>> targets = new ArrayList<>();
    layers.layers().forEach(l -> layers.shardsOf(l).forEach(s -> targets.add(s.preactivations())));
    return targets;
  }

  @Override
  protected <T extends TFloating> void update(
      StepContext step, Operand<T> gradient, Variable<T> variable) {
    Ops tf = step.tf();
    Ops init = step.init();
    Class<T> type = variable.type();
    Shape shape = variable.shape();
    if (shape.isUnknown() || shape.hasUnknownDimension()) {
      throw new IllegalArgumentException(
          "variable '" + variable.op().name() + "' needs a static shape, got " + shape);
    }
    Variable<T> expAvg =
        step.slot(variable, "exp_avg", init.zeros(init.constant(shape.asArray()), type));
    Operand<T> one = tf.constant(type, 1.0);
    Operand<T> beta = step.hyperparameter("beta", type);
    Operand<T> kappa = step.hyperparameter("weight_decay", type);
    Operand<T> g = regularizedGradient(tf, gradient, variable, kappa);
    Operand<T> m = tf.math.add(tf.math.mul(beta, expAvg), tf.math.mul(tf.math.sub(one, beta), g));
    Operand<T> direction =
        tf.math.div(m, tf.math.sub(one, tf.math.pow(beta, step.stepNumber(type))));
    Optional<LayerCollection.Layer> layer = layers.layerOf(variable);
    if (layer.isPresent()) {
      LayerFisher<T> fisher = fisher(step, layer.get(), type);
      boolean isKernel = layer.get().kernel().op().name().equals(variable.op().name());
      direction = tf.math.div(direction, isKernel ? fisher.kernel() : fisher.bias());
    }
    step.set(expAvg, m);
    step.set(
        variable,
        decayedStep(tf, variable, step.hyperparameter("learning_rate", type), direction, kappa));
  }

  /** F̃ of the layer, built once per step so that kernel and bias share one factor refresh. */
  private <T extends TFloating> LayerFisher<T> fisher(
      StepContext step, LayerCollection.Layer layer, Class<T> type) {
    return step.shared(layer, () -> buildFisher(step, layer, type));
  }

  /** Refreshes (or keeps) the layer's H_D and S_D and returns F̃ for its kernel and bias. */
  @SuppressWarnings("unchecked")
  private <T extends TFloating> LayerFisher<T> buildFisher(
      StepContext step, LayerCollection.Layer layer, Class<T> type) {
    Ops tf = step.tf();
    Ops init = step.init();
    Variable<T> kernel = (Variable<T>) layer.kernel();
    long[] kernelShape = kernel.shape().asArray();
    int rank = kernelShape.length;
    long fanOut = kernelShape[rank - 1];
    long fanIn = kernel.shape().size() / fanOut;
    boolean hasBias = layer.bias() != null;
    // A layer norm's H_D always has two entries, γ's and β's (fanIn is 1 for its γ [c]).
    boolean norm = layer.kind() == LayerCollection.Kind.LAYER_NORM;
    long hLength = norm ? 2 : fanIn + (hasBias ? 1 : 0);
    Variable<T> hD =
        step.slot(
            kernel,
            "H_D",
            init.fill(init.constant(new long[] {hLength}), init.constant(type, 1.0)));
    Variable<T> sD =
        step.slot(
            kernel, "S_D", init.fill(init.constant(new long[] {fanOut}), init.constant(type, 1.0)));

    Replicas replicas = step.replicas();
    List<LayerCollection.Layer> shards = layers.shardsOf(layer, step.shards());
    List<Operand<?>> inputs =
        new ArrayList<>(
            List.of(
                hD,
                sD,
                step.hyperparameter("factor_ema_old", type),
                step.hyperparameter("factor_ema_new", type)));
    // Keys made here: the refresh branch is a function shared by layers of equal shapes.
    inputs.add(replicas.distributed() ? replicas.newKey(tf) : tf.constant(0));
    inputs.add(replicas.distributed() ? replicas.newKey(tf) : tf.constant(0));
    for (LayerCollection.Layer shard : shards) {
      inputs.add(shard.inputs());
      inputs.add(shard.preactivations());
      inputs.add(step.gradientOf((Operand<T>) shard.preactivations()));
    }
    // Between refreshes the statistics (for a conv layer a filter gradient over its whole input)
    // are not computed at all. Ĥ_D and Ŝ_D are means over the batch, so over shards and replicas
    // (equal shares, dZ of the global loss) the mean of theirs is the global batch's, before
    // MinMax.
    GraphFunctions.Values factors =
        GraphFunctions.every(
            tf,
            fisherInterval,
            step.completedSteps(),
            GraphFunctions.name(
                "adafisher_"
                    + layer.kind()
                    + "_"
                    + layer.padding()
                    + (replicas.distributed() ? "_replicated" : ""),
                geometry(layer)),
            inputs,
            (fn, in) -> {
              List<Operand<T>> fresh = statistics(fn, step, layer, in, shards.size());
              return List.of(
                  KroneckerDiagonals.blend(fn, in.get(0), fresh.get(0), in.get(2), in.get(3)),
                  KroneckerDiagonals.blend(fn, in.get(1), fresh.get(1), in.get(2), in.get(3)));
            },
            (fn, in) -> in.subList(0, 2));
    Operand<T> hNew = factors.get(0);
    Operand<T> sNew = factors.get(1);
    step.set(hD, hNew);
    step.set(sD, sNew);

    Operand<T> lambda = step.hyperparameter("damping", type);
    long[] column = kernelShape.clone();
    column[rank - 1] = 1;
    Operand<T> hKernel =
        tf.reshape(
            tf.slice(hNew, tf.constant(new long[] {0}), tf.constant(new long[] {fanIn})),
            tf.constant(column));
    Operand<T> kernelFisher = tf.math.add(tf.math.mul(hKernel, sNew), lambda);
    Operand<T> biasFisher = null;
    if (hasBias) {
      Operand<T> hBias =
          tf.slice(hNew, tf.constant(new long[] {fanIn}), tf.constant(new long[] {1}));
      biasFisher = tf.math.add(tf.math.mul(hBias, sNew), lambda);
    }
    return new LayerFisher<>(kernelFisher, biasFisher);
  }

  /**
   * Ĥ_D and Ŝ_D of the global batch before MinMax, from the refresh branch's inputs: each shard's
   * statistics, averaged over the shards and replicas. A layer norm's are squares of batch sums,
   * whose mean over shards would be another statistic: there the shards average the sums (as means)
   * and the squares are taken after, unless there is one shard on one replica, which keeps the
   * authors' formulas as they are.
   */
  private static <T extends TFloating> List<Operand<T>> statistics(
      Ops fn, StepContext step, LayerCollection.Layer layer, GraphFunctions.Values in, int shards) {
    Replicas replicas = step.replicas();
    boolean normOfSums =
        layer.kind() == LayerCollection.Kind.LAYER_NORM && (replicas.distributed() || shards > 1);
    List<Operand<T>> h = new ArrayList<>();
    List<Operand<T>> s = new ArrayList<>();
    List<Operand<T>> rows = new ArrayList<>();
    for (int k = 0; k < shards; k++) {
      Operand<T> x = in.get(FIRST_SHARD_INPUT + 3 * k);
      Operand<T> z = in.get(FIRST_SHARD_INPUT + 3 * k + 1);
      Operand<T> dz = in.get(FIRST_SHARD_INPUT + 3 * k + 2);
      if (normOfSums) {
        h.add(KroneckerDiagonals.layerNormInputMean(fn, x));
        s.add(KroneckerDiagonals.layerNormOutputMean(fn, dz));
        rows.add(KroneckerDiagonals.batchSize(fn, x));
      } else {
        h.add(inputStatistics(fn, layer, x, z));
        s.add(outputStatistics(fn, layer, dz));
      }
    }
    Operand<T> hMean = step.meanOverShards(fn, h, in.get(4));
    Operand<T> sMean = step.meanOverShards(fn, s, in.get(5));
    if (!normOfSums) {
      return List.of(hMean, sMean);
    }
    Operand<T> x0 = in.get(FIRST_SHARD_INPUT);
    Operand<T> globalBatch =
        fn.math.mul(
            CrossReplica.sumInOrder(fn, rows),
            fn.dtypes.cast(fn.constant((double) replicas.count()), x0.type()));
    return List.of(
        KroneckerDiagonals.layerNormInputsFromMean(
            fn, hMean, KroneckerDiagonals.axisOneSize(fn, x0), globalBatch),
        KroneckerDiagonals.layerNormOutputsFromMean(fn, sMean, globalBatch));
  }

  /** What a layer's statistics depend on beyond its tensors' shapes: the conv window and steps. */
  private static double[] geometry(LayerCollection.Layer layer) {
    long[] s = layer.strides();
    long[] d = layer.dilations();
    long[] k = layer.kernel().shape().asArray();
    return s == null ? new double[0] : new double[] {k[0], k[1], s[1], s[2], d[1], d[2]};
  }

  /**
   * Ĥ_D before normalisation, from the layer's inputs (and, for conv, its pre-activations' shape).
   */
  static <T extends TFloating> Operand<T> inputStatistics(
      Ops tf, LayerCollection.Layer layer, Operand<T> x, Operand<T> z) {
    boolean withBias = layer.bias() != null;
    return switch (layer.kind()) {
      case FULLY_CONNECTED -> KroneckerDiagonals.denseInputs(tf, x, withBias);
      case LAYER_NORM -> KroneckerDiagonals.layerNormInputs(tf, x);
      case CONV2D ->
          KroneckerDiagonals.conv2dInputs(
              tf,
              x,
              z,
              layer.kernel().shape().asArray(),
              layer.strides(),
              layer.padding(),
              layer.dilations(),
              withBias);
    };
  }

  /** Ŝ_D before normalisation, from the gradient of the layer's pre-activations (or outputs). */
  static <T extends TFloating> Operand<T> outputStatistics(
      Ops tf, LayerCollection.Layer layer, Operand<T> dz) {
    return layer.kind() == LayerCollection.Kind.LAYER_NORM
        ? KroneckerDiagonals.layerNormOutputs(tf, dz)
        : KroneckerDiagonals.outputs(tf, dz);
  }

  /** Settings AdaFisher and AdaFisherW share; every setter validates its value at once. */
  abstract static class Builder<B extends Builder<B>> extends GuardedOptimizer.Builder<B> {
    private LayerCollection layers = new LayerCollection();
    private double beta = AdaFisher.BETA_DEFAULT;
    private double factorEmaOld = AdaFisher.FACTOR_EMA_OLD_DEFAULT;
    private double factorEmaNew = AdaFisher.FACTOR_EMA_NEW_DEFAULT;
    private double damping = AdaFisher.DAMPING_DEFAULT;
    private int fisherInterval = AdaFisher.FISHER_INTERVAL_DEFAULT;
    private double weightDecay = AdaFisher.WEIGHT_DECAY_DEFAULT;

    Builder(String defaultName) {
      super(defaultName, AdaFisher.LEARNING_RATE_DEFAULT);
    }

    /**
     * The layers to precondition; parameters of other layers get F̃ = 1 (bias-corrected momentum).
     * Layers registered later, up to {@code minimize}, are included.
     */
    public B layers(LayerCollection layers) {
      if (layers == null) {
        throw new IllegalArgumentException(
            "layers must not be null; pass an empty LayerCollection to precondition nothing");
      }
      this.layers = layers;
      return self();
    }

    /** β ∈ [0, 1), the EMA coefficient of the momentum {@code exp_avg}. */
    public B beta(double beta) {
      this.beta = Settings.decay("beta", beta);
      return self();
    }

    /**
     * The factor refresh D ← oldWeight·D + newWeight·MinMax(D̂), each weight in [0, 1] (the
     * authors' code runs 0.1γ and 0.01γ with γ = 0.8).
     */
    public B factorEma(double oldWeight, double newWeight) {
      this.factorEmaOld = Settings.closedDecay("factorEma oldWeight", oldWeight);
      this.factorEmaNew = Settings.closedDecay("factorEma newWeight", newWeight);
      return self();
    }

    /** λ &gt; 0, added to every entry of H_D ⊗ S_D. */
    public B damping(double damping) {
      this.damping = Settings.positive("damping", damping);
      return self();
    }

    /**
     * Refresh H_D and S_D on the steps whose count of completed steps is a multiple of {@code k}.
     */
    public B fisherInterval(int k) {
      this.fisherInterval = Settings.atLeastOne("fisherInterval", k);
      return self();
    }

    /** κ ≥ 0: L2 for {@link AdaFisher}, decoupled decay for {@link AdaFisherW}. */
    public B weightDecay(double weightDecay) {
      this.weightDecay = Settings.nonNegative("weightDecay", weightDecay);
      return self();
    }
  }
}
