package dev.fisheropt.optimizers;

import dev.fisheropt.ops.FunctionKeys;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.If;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.nn.Conv2dBackpropFilter;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The AdaFisher step that {@link AdaFisher} and {@link AdaFisherW} share; they differ only in where
 * the weight decay κ enters ({@link #regularizedGradient} and {@link #decayedStep}).
 *
 * <p>Per registered layer the kernel carries two slots, {@code H_D} (length fan-in, plus one for the
 * bias) and {@code S_D} (length fan-out), both starting at ones. On refresh steps
 * <pre>
 *   Ĥ_D = Σ h² / N     (h: layer inputs, or zero-padded conv patches divided further by kh·kw·cin,
 *                       with a ones feature appended when the layer has a bias)
 *   Ŝ_D = Σ s² / N     (s = dLoss/dZ of the mean loss; N = batch, or batch·positions for conv)
 *   H_D ← γ₁·H_D + γ₂·MinMax(Ĥ_D),  S_D ← γ₁·S_D + γ₂·MinMax(Ŝ_D)
 *   MinMax(v) = (v − min v) / (max v − min v + 1e-6)  after +inf → 1, −inf → 0
 * </pre>
 * and every step, for every trained parameter θ with gradient g and slot {@code exp_avg} m:
 * <pre>
 *   F̃ = H_D ⊗ S_D + λ  (the kernel's rows and the bias entry; F̃ = 1 for unregistered parameters)
 *   m ← βm + (1−β)g,   θ ← θ − η·(m / (1 − βᵗ)) / F̃
 * </pre>
 */
abstract class AdaFisherBase extends GuardedOptimizer {
  public static final double LEARNING_RATE_DEFAULT = 1e-3;
  public static final double BETA_DEFAULT = 0.9;
  public static final double FACTOR_EMA_OLD_DEFAULT = 0.08;
  public static final double FACTOR_EMA_NEW_DEFAULT = 0.008;
  public static final double DAMPING_DEFAULT = 1e-3;
  public static final int FISHER_INTERVAL_DEFAULT = 100;
  public static final double WEIGHT_DECAY_DEFAULT = 0.0;

  /** The authors' Min-Max guard: absolute, so that the raw scale of tiny statistics survives. */
  private static final double MIN_MAX_EPSILON = 1e-6;

  private final LayerCollection layers;
  private final int fisherInterval;

  /** F̃ per layer for the step being built, so that kernel and bias share one factor refresh. */
  private StepContext fisherStep;
  private final Map<String, LayerFisher<?>> fisherByLayer = new HashMap<>();

  private record LayerFisher<T extends TFloating>(Operand<T> kernel, Operand<T> bias) {}

  AdaFisherBase(Graph graph, Builder<?> b) {
    super(graph, b);
    this.layers = b.layers;
    this.fisherInterval = b.fisherInterval;
    hyperparameter("beta", b.beta);
    hyperparameter("factor_ema_old", b.factorEmaOld);
    hyperparameter("factor_ema_new", b.factorEmaNew);
    hyperparameter("damping", b.damping);
    hyperparameter("weight_decay", b.weightDecay);
  }

  /** The gradient that enters the momentum: g, or g + κθ for L2 regularisation. */
  abstract <T extends TFloating> Operand<T> regularizedGradient(Ops tf, Operand<T> gradient, Operand<T> parameter,
      Operand<T> weightDecay);

  /** The new parameter from θ, η and the preconditioned direction (m / (1 − βᵗ)) / F̃. */
  abstract <T extends TFloating> Operand<T> decayedStep(Ops tf, Operand<T> parameter, Operand<T> learningRate,
      Operand<T> direction, Operand<T> weightDecay);

  /** Every registered pre-activation, differentiated together with the parameters. */
  @Override
  protected List<Operand<?>> auxiliaryGradientTargets() {
    List<Operand<?>> targets = new ArrayList<>();
    layers.layers().forEach(l -> targets.add(l.preactivations()));
    return targets;
  }

  @Override
  protected <T extends TFloating> void update(StepContext step, Operand<T> gradient, Variable<T> variable) {
    Ops tf = step.tf();
    Ops init = step.init();
    Class<T> type = variable.type();
    Shape shape = variable.shape();
    if (shape.isUnknown() || shape.hasUnknownDimension()) {
      throw new IllegalArgumentException("variable '" + variable.op().name() + "' needs a static shape, got " + shape);
    }
    Variable<T> expAvg = step.slot(variable, "exp_avg", init.zeros(init.constant(shape.asArray()), type));
    Operand<T> one = tf.constant(type, 1.0);
    Operand<T> beta = step.hyperparameter("beta", type);
    Operand<T> kappa = step.hyperparameter("weight_decay", type);
    Operand<T> g = regularizedGradient(tf, gradient, variable, kappa);
    Operand<T> m = tf.math.add(tf.math.mul(beta, expAvg), tf.math.mul(tf.math.sub(one, beta), g));
    Operand<T> direction = tf.math.div(m, tf.math.sub(one, tf.math.pow(beta, step.stepNumber(type))));
    Optional<LayerCollection.Layer> layer = layers.layerOf(variable);
    if (layer.isPresent()) {
      LayerFisher<T> fisher = fisher(step, layer.get(), type);
      boolean isKernel = layer.get().kernel().op().name().equals(variable.op().name());
      direction = tf.math.div(direction, isKernel ? fisher.kernel() : fisher.bias());
    }
    step.set(expAvg, m);
    step.set(variable, decayedStep(tf, variable, step.hyperparameter("learning_rate", type), direction, kappa));
  }

  @SuppressWarnings("unchecked")
  private <T extends TFloating> LayerFisher<T> fisher(StepContext step, LayerCollection.Layer layer, Class<T> type) {
    if (step != fisherStep) {
      fisherStep = step;
      fisherByLayer.clear();
    }
    return (LayerFisher<T>) fisherByLayer.computeIfAbsent(layer.name(), k -> buildFisher(step, layer, type));
  }

  /** Refreshes (or keeps) the layer's H_D and S_D and returns F̃ for its kernel and bias. */
  @SuppressWarnings("unchecked")
  private <T extends TFloating> LayerFisher<T> buildFisher(StepContext step, LayerCollection.Layer layer, Class<T> type) {
    Ops tf = step.tf();
    Ops init = step.init();
    Variable<T> kernel = (Variable<T>) layer.kernel();
    long[] kernelShape = kernel.shape().asArray();
    int rank = kernelShape.length;
    long fanOut = kernelShape[rank - 1];
    long fanIn = kernel.shape().size() / fanOut;
    boolean hasBias = layer.bias() != null;
    long hLength = fanIn + (hasBias ? 1 : 0);
    Variable<T> hD = step.slot(kernel, "H_D", init.fill(init.constant(new long[] {hLength}), init.constant(type, 1.0)));
    Variable<T> sD = step.slot(kernel, "S_D", init.fill(init.constant(new long[] {fanOut}), init.constant(type, 1.0)));

    Operand<T> x = (Operand<T>) layer.inputs();
    Operand<T> z = (Operand<T>) layer.preactivations();
    Operand<T> dz = step.gradientOf(z);
    Operand<T> oldWeight = step.hyperparameter("factor_ema_old", type);
    Operand<T> newWeight = step.hyperparameter("factor_ema_new", type);
    Operand<T> hNew;
    Operand<T> sNew;
    if (fisherInterval == 1) {
      List<Operand<T>> refreshed = refreshedFactors(tf, layer, List.of(x, z, dz, hD, sD, oldWeight, newWeight));
      hNew = refreshed.get(0);
      sNew = refreshed.get(1);
    } else {
      // A functional If, so that steps between refreshes skip the statistics altogether (for a conv
      // layer a filter gradient over its whole input).
      Operand<TBool> due = tf.math.equal(tf.math.mod(step.completedSteps(), tf.constant((long) fisherInterval)), tf.constant(0L));
      List<Operand<T>> inputs = List.of(x, z, dz, hD, sD, oldWeight, newWeight);
      String key = "adafisher_" + layer.kind().name().toLowerCase(java.util.Locale.ROOT) + "_" + (layer.padding() == null ? "dense" : layer.padding());
      Shape[] shapes = inputs.stream().map(Operand::shape).toArray(Shape[]::new);
      double[] geometry = layer.strides() == null ? new double[0]
          : new double[] {layer.strides()[1], layer.strides()[2], layer.dilations()[1], layer.dilations()[2]};
      ConcreteFunction refresh = branch(FunctionKeys.of(key + "_refresh", type, shapes, geometry), type, shapes,
          (fn, in) -> refreshedFactors(fn, layer, in));
      ConcreteFunction keep = branch(FunctionKeys.of(key + "_keep", type, shapes, geometry), type, shapes,
          (fn, in) -> List.of(in.get(3), in.get(4)));
      If chosen = tf.statelessIf(due, new ArrayList<>(inputs), List.of(type, type), refresh, keep, If.outputShapes(hD.shape(), sD.shape()));
      hNew = (Operand<T>) chosen.output().get(0);
      sNew = (Operand<T>) chosen.output().get(1);
    }
    step.set(hD, hNew);
    step.set(sD, sNew);

    Operand<T> lambda = step.hyperparameter("damping", type);
    long[] column = kernelShape.clone();
    column[rank - 1] = 1;
    Operand<T> hKernel = tf.reshape(tf.slice(hNew, tf.constant(new long[] {0}), tf.constant(new long[] {fanIn})), tf.constant(column));
    Operand<T> kernelFisher = tf.math.add(tf.math.mul(hKernel, sNew), lambda);
    Operand<T> biasFisher = null;
    if (hasBias) {
      Operand<T> hBias = tf.slice(hNew, tf.constant(new long[] {fanIn}), tf.constant(new long[] {1}));
      biasFisher = tf.math.add(tf.math.mul(hBias, sNew), lambda);
    }
    return new LayerFisher<>(kernelFisher, biasFisher);
  }

  /**
   * H_D and S_D after a refresh, from (inputs, pre-activations, dZ, H_D, S_D, old weight, new weight):
   * D ← old·D + new·MinMax(D̂).
   */
  private static <T extends TFloating> List<Operand<T>> refreshedFactors(Ops tf, LayerCollection.Layer layer, List<Operand<T>> in) {
    Operand<T> hHat = inputStatistics(tf, layer, in.get(0), in.get(1));
    Operand<T> sHat = outputStatistics(tf, in.get(2));
    Operand<T> oldWeight = in.get(5);
    Operand<T> newWeight = in.get(6);
    return List.of(
        tf.math.add(tf.math.mul(oldWeight, in.get(3)), tf.math.mul(newWeight, minMax(tf, hHat))),
        tf.math.add(tf.math.mul(oldWeight, in.get(4)), tf.math.mul(newWeight, minMax(tf, sHat))));
  }

  private interface BranchBody<T extends TFloating> {
    List<Operand<T>> build(Ops fn, List<Operand<T>> inputs);
  }

  /** A branch function over placeholders of the given shapes, returning the body's two factors. */
  private static <T extends TFloating> ConcreteFunction branch(String key, Class<T> type, Shape[] shapes, BranchBody<T> body) {
    return ConcreteFunction.create(fn -> {
      List<Operand<T>> inputs = new ArrayList<>();
      Signature.Builder signature = Signature.builder(key);
      for (int i = 0; i < shapes.length; i++) {
        Placeholder<T> in = fn.placeholder(type, Placeholder.shape(shapes[i]));
        inputs.add(in);
        signature.input("in" + i, in);
      }
      List<Operand<T>> out = body.build(fn, inputs);
      // Identity keeps each output a node of its own where a branch passes an input through.
      return signature.output("h_d", fn.identity(out.get(0))).output("s_d", fn.identity(out.get(1))).build();
    });
  }

  /**
   * Ĥ_D before normalisation. For a conv layer the per-feature sums of squared zero-padded patches,
   * in the kernel's (kh, kw, cin) order, are the filter gradient of the squared inputs against ones
   * (no patches materialised); TensorFlow's CPU filter gradient has no dilation, so dilated layers
   * extract the patches instead.
   */
  @SuppressWarnings("unchecked")
  static <T extends TFloating> Operand<T> inputStatistics(Ops tf, LayerCollection.Layer layer, Class<T> type) {
    return inputStatistics(tf, layer, (Operand<T>) layer.inputs(), (Operand<T>) layer.preactivations());
  }

  /** {@link #inputStatistics(Ops, LayerCollection.Layer, Class)} of the given inputs and pre-activations. */
  static <T extends TFloating> Operand<T> inputStatistics(Ops tf, LayerCollection.Layer layer, Operand<T> x, Operand<T> z) {
    Class<T> type = x.type();
    Shape kernelShape = layer.kernel().shape();
    long fanIn = kernelShape.size() / kernelShape.size(kernelShape.numDimensions() - 1);
    Operand<T> squares;
    double biasEntry;
    if (layer.kind() == LayerCollection.Kind.FULLY_CONNECTED) {
      squares = tf.math.mean(tf.math.square(x), tf.constant(0));
      biasEntry = 1.0;
    } else {
      long[] k = kernelShape.asArray();
      Operand<TInt32> positionsShape = tf.slice(tf.shape(z), tf.constant(new int[] {0}), tf.constant(new int[] {3}));
      Operand<T> sums;
      if (layer.dilations()[1] == 1 && layer.dilations()[2] == 1) {
        Operand<T> ones = tf.fill(tf.concat(List.of(positionsShape, tf.constant(new int[] {1})), tf.constant(0)), tf.constant(type, 1.0));
        sums = tf.nn.conv2dBackpropFilter(tf.math.square(x), tf.constant(new int[] {(int) k[0], (int) k[1], (int) k[2], 1}),
            ones, Arrays.stream(layer.strides()).boxed().toList(), layer.padding(), Conv2dBackpropFilter.dataFormat("NHWC"));
      } else {
        Operand<T> patches = tf.image.extractImagePatches(x, List.of(1L, k[0], k[1], 1L), Arrays.stream(layer.strides()).boxed().toList(),
            Arrays.stream(layer.dilations()).boxed().toList(), layer.padding());
        sums = tf.reduceSum(tf.math.square(patches), tf.constant(new int[] {0, 1, 2}));
      }
      Operand<T> rows = tf.dtypes.cast(tf.reduceProd(positionsShape, tf.constant(0)), type);
      squares = tf.math.div(tf.reshape(sums, tf.constant(new long[] {fanIn})), tf.math.mul(rows, tf.constant(type, (double) fanIn)));
      biasEntry = 1.0 / fanIn;
    }
    if (layer.bias() == null) {
      return squares;
    }
    return tf.concat(List.of(squares, tf.fill(tf.constant(new long[] {1}), tf.constant(type, biasEntry))), tf.constant(0));
  }

  /** Ŝ_D before normalisation: the mean of dZ² over every axis but the last (batch and positions). */
  static <T extends TFloating> Operand<T> outputStatistics(Ops tf, Operand<T> dz) {
    return tf.math.mean(tf.math.square(dz), allButLast(tf, dz.shape().numDimensions()));
  }

  /** (v − min v) / (max v − min v + 1e-6) over the whole vector, after +inf → 1 and −inf → 0. */
  static <T extends TFloating> Operand<T> minMax(Ops tf, Operand<T> v) {
    Class<T> type = v.type();
    Operand<T> infinityValue = tf.select(tf.math.greater(v, tf.zerosLike(v)), tf.onesLike(v), tf.zerosLike(v));
    Operand<T> finite = tf.select(tf.math.isInf(v), infinityValue, v);
    Operand<TInt32> all = tf.constant(0);
    Operand<T> lo = tf.reduceMin(finite, all);
    Operand<T> hi = tf.reduceMax(finite, all);
    return tf.math.div(tf.math.sub(finite, lo), tf.math.add(tf.math.sub(hi, lo), tf.constant(type, MIN_MAX_EPSILON)));
  }

  private static Operand<TInt32> allButLast(Ops tf, int rank) {
    int[] axes = new int[rank - 1];
    for (int i = 0; i < axes.length; i++) {
      axes[i] = i;
    }
    return tf.constant(axes);
  }


  /** Settings AdaFisher and AdaFisherW share; every setter validates its value at once. */
  abstract static class Builder<B extends Builder<B>> extends GuardedOptimizer.Builder<B> {
    private LayerCollection layers = new LayerCollection();
    private double beta = BETA_DEFAULT;
    private double factorEmaOld = FACTOR_EMA_OLD_DEFAULT;
    private double factorEmaNew = FACTOR_EMA_NEW_DEFAULT;
    private double damping = DAMPING_DEFAULT;
    private int fisherInterval = FISHER_INTERVAL_DEFAULT;
    private double weightDecay = WEIGHT_DECAY_DEFAULT;

    Builder(String defaultName) {
      super(defaultName, LEARNING_RATE_DEFAULT);
    }

    /**
     * The layers to precondition; parameters of other layers get F̃ = 1 (bias-corrected momentum).
     * Layers registered later, up to {@code minimize}, are included.
     */
    public B layers(LayerCollection layers) {
      if (layers == null) {
        throw new IllegalArgumentException("layers must not be null; pass an empty LayerCollection to precondition nothing");
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
     * The factor refresh D ← oldWeight·D + newWeight·MinMax(D̂), each weight in [0, 1] (the authors'
     * code runs 0.1γ and 0.01γ with γ = 0.8).
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

    /** Refresh H_D and S_D on the steps whose count of completed steps is a multiple of {@code k}. */
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
