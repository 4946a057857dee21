package dev.fisheropt.optimizers;

import dev.fisheropt.ops.ColumnOperator;
import dev.fisheropt.ops.ConjugateGradient;
import dev.fisheropt.ops.RowFisher;
import dev.fisheropt.ops.RowSample;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * FROG: Fisher row-wise preconditioning (technical overview and code by the FROG authors,
 * github.com/Fullfix/frog-optimizer), for the fully-connected and conv layers registered in a
 * {@link LayerCollection}.
 *
 * <p>For a registered kernel W, seen as [D, n] (D inputs or kh·kw·cin patch entries, n outputs),
 * with gradient G, one step is (a dense layer on [B, T, F] inputs counts every position as a row:
 * its inputs and Y are flattened to B·T rows, the sample drawn from them, Y still B·∂L/∂Z):
 *
 * <pre>
 *   M ← βM + G
 *   from r rows i of the batch (all of them when r ≥ batch): Y = B·∂L/∂Z  (B the batch size)
 *   Λ̂_ij = (Y_ij²/r) / (Σ_i' Y_i'j² ‖x_i'‖² / (rD) + ε)
 *   a_j = #{i : Λ̂_ij ‖x_i‖² &gt; 0}                active sampled rows of column j
 *   τ_j = τ, or max(τ, 1) when a_j &lt; min(k, D)
 *   Z_j ≈ (Σ_i Λ̂_ij x_i x_iᵀ + τ_jI)⁻¹ M_j    (k CG steps, all columns at once)
 *   Z_j ← Z_j / √(⟨Z_j, M_j⟩ + ε)
 *   W ← (1 − ηρ)W − ηZ
 * </pre>
 *
 * Each output column j gets its own curvature: the Fisher of that output's rows, with the input
 * rows x_i weighted by the squared output gradients and normalised so that its mean diagonal is 1.
 * The last two lines move each column by η in that column's (approximate) Fisher norm. For a
 * fully-connected layer the rows x_i are the input rows; for a conv layer they are the zero-padded
 * receptive-field patches of every sample and output position, and the operator is applied as the
 * layer's convolution followed by its filter gradient ({@link RowFisher}), without forming patches.
 * ε = 1e-10 guards the CG denominators, the trace and the normalisation, as the authors' code does.
 *
 * <p>Under-sampled columns (our addition; the authors' code has τ_j = τ throughout). A column's
 * sampled Fisher is Σ over its a_j active rows (a ReLU unit inactive in most of the sample has few)
 * plus τI, so it has at most a_j + 1 distinct eigenvalues and is τ on every direction the active
 * rows do not span. With a_j &lt; min(k, D) the k CG steps solve it exactly, the part of M_j
 * outside the active rows' span (the gradient of unsampled rows, old momentum) is divided by τ, and
 * the normalisation turns that into a step of about η/√τ (1000η at τ = 1e-6). For such a column τ_j
 * is raised to max(τ, 1): 1 is the mean diagonal the normalisation of Λ̂ gives every column's
 * sampled Fisher, so the directions the sample did not see are given the column's average curvature
 * instead of none. Every eigenvalue is then ≥ 1 and CG keeps ⟨Z_j, M_j⟩ = Z_jᵀA_jZ_j ≥ ‖Z_j‖², so
 * the column moves by at most η; a column with no active row moves by η along M_j. The rule does
 * not depend on τ, and every column with a_j ≥ min(k, D) is solved exactly as before, so the
 * authors' trajectories are unchanged wherever no column is under-sampled (the conv reference
 * problems have far more active rows per column than k). A column with a_j just at or above k still
 * sees the damping partly: its step grows towards η/√τ as a_j falls to k ({@code docs/frog.md}).
 *
 * <p>On a fully-connected layer the r sampled rows span at most r of the D input directions, and
 * every Σ_i Λ̂_ij x_i x_iᵀ + τ_jI maps that span into itself and is τ_j outside it. CG from 0
 * therefore never leaves span(x_1…x_r) ⊕ span(M_j − its projection on them), and the k steps run on
 * r + 1 orthonormal coordinates per column instead of D ({@link Builder#solveInRowSpace}, default;
 * {@link RowFisher#fullyConnectedInRowSpace}): the same iterates up to rounding, at a fraction of
 * the memory traffic. Conv layers, whose rows are patches at every position, iterate on the full
 * kernel.
 *
 * <p>Every other parameter (biases, layer norms, unregistered layers) takes SGD with momentum at
 * η·{@code otherLearningRateRatio}, with the weight decay added into the momentum buffer as the
 * authors' code does: {@code b ← βb + g + ρθ, θ ← θ − η·ratio·b}.
 *
 * <p>The sample of rows is a uniformly random subset chosen by integer hash keys of {@link
 * Builder#seed}, the layer and the step count, so runs are reproducible, with or without XLA. Slot:
 * {@code momentum}, shaped like the parameter. Hyperparameter variables: {@code learning_rate},
 * {@code momentum}, {@code damping}, {@code weight_decay}, {@code other_learning_rate_ratio}.
 */
public final class Frog extends GuardedOptimizer {
  public static final String NAME_DEFAULT = "Frog";
  public static final double LEARNING_RATE_DEFAULT = 1e-3;
  public static final double MOMENTUM_DEFAULT = 0.9;
  public static final double DAMPING_DEFAULT = 1e-6;
  public static final double WEIGHT_DECAY_DEFAULT = 0.0;
  public static final int SAMPLE_SIZE_DEFAULT = 24;
  public static final int CG_ITERATIONS_DEFAULT = 4;
  public static final double OTHER_LEARNING_RATE_RATIO_DEFAULT = 0.25;
  public static final double DENOMINATOR_GUARD_DEFAULT =
      ConjugateGradient.DENOMINATOR_GUARD_DEFAULT;
  public static final long SEED_DEFAULT = 0L;

  private final LayerCollection layers;
  private final int sampleSize;
  private final int cgIterations;
  private final double denominatorGuard;
  private final long seed;
  private final boolean solveInRowSpace;
  private final Fallback others;

  /**
   * FROG with every setting at its default and no registered layer: every parameter takes SGD with
   * momentum.
   */
  public Frog(Graph graph) {
    this(graph, builder());
  }

  private Frog(Graph graph, Builder b) {
    super(graph, b);
    this.layers = b.layers;
    this.sampleSize = b.sampleSize;
    this.cgIterations = b.cgIterations;
    this.denominatorGuard = b.denominatorGuard;
    this.seed = b.seed;
    this.solveInRowSpace = b.solveInRowSpace;
    // The rule reads FROG's own momentum and weight decay (registered below) and is given its rate.
    this.others = Fallback.momentum(Fallback.LEARNING_RATE_DEFAULT, b.momentum, b.weightDecay);
    hyperparameter("momentum", b.momentum, Settings.Range.DECAY);
    hyperparameter("damping", b.damping, Settings.Range.NON_NEGATIVE);
    hyperparameter("weight_decay", b.weightDecay, Settings.Range.NON_NEGATIVE);
    hyperparameter(
        "other_learning_rate_ratio", b.otherLearningRateRatio, Settings.Range.NON_NEGATIVE);
  }

  /** Settings starting at every default. */
  public static Builder builder() {
    return new Builder();
  }

  /** The pre-activations of every preconditioned layer, whose gradients give the row weights. */
  @Override
  protected List<Operand<?>> auxiliaryGradientTargets() {
    return layers.layers().stream()
        .filter(Frog::preconditioned)
        .flatMap(l -> layers.shardsOf(l).stream())
        .<Operand<?>>map(LayerCollection.Layer::preactivations)
        .toList();
  }

  /** FROG preconditions kernels of fully-connected and conv layers; layer norms take the rule. */
  private static boolean preconditioned(LayerCollection.Layer layer) {
    return layer.kind() != LayerCollection.Kind.LAYER_NORM;
  }

  @Override
  protected <T extends TFloating> void update(
      StepContext step, Operand<T> gradient, Variable<T> variable) {
    Ops tf = step.tf();
    Class<T> type = variable.type();
    Operand<T> eta = step.hyperparameter("learning_rate", type);
    LayerCollection.Layer layer =
        layers
            .layerOf(variable)
            .filter(l -> preconditioned(l) && l.kernel().op().name().equals(variable.op().name()))
            .orElse(null);
    if (layer == null) {
      others.update(
          step,
          gradient,
          variable,
          tf.math.mul(eta, step.hyperparameter("other_learning_rate_ratio", type)),
          "");
      return;
    }
    Variable<T> buffer = step.slot(variable, "momentum", step.init().zerosLike(variable));
    Operand<T> mNew =
        tf.math.add(tf.math.mul(step.hyperparameter("momentum", type), buffer), gradient);
    Operand<T> z = precondition(step, layer, variable, mNew);
    Operand<T> decay =
        tf.math.sub(
            tf.constant(type, 1.0), tf.math.mul(eta, step.hyperparameter("weight_decay", type)));
    step.set(buffer, mNew);
    step.set(variable, tf.math.sub(tf.math.mul(decay, variable), tf.math.mul(eta, z)));
  }

  /** The normalised CG solution Z of the layer's row-wise Fisher systems with right-hand side M. */
  @SuppressWarnings("unchecked")
  private <T extends TFloating> Operand<T> precondition(
      StepContext step, LayerCollection.Layer layer, Variable<T> kernel, Operand<T> m) {
    Ops tf = step.tf();
    Class<T> type = kernel.type();
    MatrixView view = MatrixView.of(kernel.shape());
    // This replica's rows, shard after shard (concatenation is exact): the rows a sample indexes.
    List<Operand<T>> xs = new ArrayList<>();
    List<Operand<T>> dzs = new ArrayList<>();
    for (LayerCollection.Layer shard : layers.shardsOf(layer, step.shards())) {
      xs.add((Operand<T>) shard.inputs());
      dzs.add(step.gradientOf((Operand<T>) shard.preactivations()));
    }
    Operand<T> x = xs.size() == 1 ? xs.get(0) : tf.concat(xs, tf.constant(0));
    Operand<T> dz = dzs.size() == 1 ? dzs.get(0) : tf.concat(dzs, tf.constant(0));
    Replicas replicas = step.replicas();
    int n = replicas.count();
    // Y is the per-sample loss gradient: the mean loss's gradient times the batch size B (across
    // replicas dZ is the global loss's, and B the global batch, N times this replica's).
    Operand<TInt32> batch = rowCount(tf, dz);
    if (n > 1) {
      batch = tf.math.mul(batch, tf.constant(n));
    }
    Operand<T> y = tf.math.mul(tf.dtypes.cast(batch, type), dz);
    long staticBatch = dz.shape().isUnknown() ? -1 : dz.shape().size(0) * n;
    if (layer.kind() == LayerCollection.Kind.FULLY_CONNECTED && x.shape().numDimensions() == 3) {
      // A dense layer on [B, T, F]: every position is a row, [B·T, F] for the sample and operators.
      long[] k = kernel.shape().asArray();
      x = tf.reshape(x, tf.constant(new long[] {-1, k[0]}));
      y = tf.reshape(y, tf.constant(new long[] {-1, k[1]}));
      long t = dz.shape().size(1);
      staticBatch = staticBatch < 0 || t < 0 ? -1 : staticBatch * t;
    }
    Operand<TInt32> rowTotal = rowCount(tf, y);
    if (n > 1) {
      rowTotal = tf.math.mul(rowTotal, tf.constant(n));
    }
    boolean sample = staticBatch < 0 || sampleSize < staticBatch;
    Operand<TInt32> rows =
        sample
            ? RowSample.indices(
                tf,
                RowSample.stream(seed, layers.layers().indexOf(layer)),
                step.completedSteps(),
                rowTotal,
                sampleSize)
            : null;
    if (n > 1) {
      // The sample is drawn from the global batch, the same on every replica, and its rows are
      // assembled from the replicas that hold them: every replica then solves the global batch's
      // systems, bit for bit the same.
      Operand<TInt32> global = sample ? rows : tf.range(tf.constant(0), rowTotal, tf.constant(1));
      x = CrossReplica.gatherRows(tf, replicas, x, global);
      y = CrossReplica.gatherRows(tf, replicas, y, global);
    } else if (sample) {
      x = tf.gather(x, rows, tf.constant(0));
      y = tf.gather(y, rows, tf.constant(0));
    }
    Operand<T> sampled = tf.dtypes.cast(rowCount(tf, y), type);
    Operand<T> guard = tf.constant(type, denominatorGuard);
    Operand<T> y2 = tf.math.div(tf.math.square(y), sampled);
    boolean conv = layer.kind() == LayerCollection.Kind.CONV2D;
    long[] kernelShape = kernel.shape().asArray();
    Operand<T> rowNorms =
        conv
            ? RowFisher.patchSquaredNorms(
                tf, x, kernelShape, layer.strides(), layer.padding(), layer.dilations())
            : tf.reduceSum(tf.math.square(x), tf.constant(1), ReduceSum.keepDims(true));
    int[] rowAxes = conv ? new int[] {0, 1, 2} : new int[] {0};
    Operand<T> contributions = tf.math.mul(y2, rowNorms);
    Operand<T> trace =
        tf.math.div(
            tf.reduceSum(contributions, tf.constant(rowAxes)),
            tf.constant(type, (double) view.rows()));
    Operand<T> lambda = tf.math.div(y2, tf.math.add(trace, guard));
    Operand<T> tau =
        columnDamping(tf, contributions, rowAxes, view, step.hyperparameter("damping", type));
    Operand<T> rhs = view.toMatrix(tf, m);
    ConjugateGradient cg = ConjugateGradient.steps(cgIterations).denominatorGuard(denominatorGuard);
    if (!conv && solveInRowSpace && inRowSpacePays(x, view)) {
      RowFisher.RowSpaceSystem<T> system =
          RowFisher.fullyConnectedInRowSpace(tf, x, lambda, tau, rhs);
      Operand<T> coordinates = cg.solve(tf, system.operator(), system.rhs()).x();
      // The coordinates are orthonormal: ⟨Z_j, M_j⟩ is their inner product.
      return system.expand(tf, normalised(tf, coordinates, system.rhs(), guard));
    }
    ColumnOperator<T> fisher =
        conv
            ? RowFisher.conv2d(
                x, lambda, tau, kernelShape, layer.strides(), layer.padding(), layer.dilations())
            : RowFisher.fullyConnected(x, lambda, tau);
    Operand<T> solution = cg.solve(tf, fisher, rhs).x();
    return view.toParameter(tf, normalised(tf, solution, rhs, guard));
  }

  /** Z_j / √(⟨Z_j, M_j⟩ + ε) for every column j. */
  private static <T extends TFloating> Operand<T> normalised(
      Ops tf, Operand<T> z, Operand<T> m, Operand<T> guard) {
    Operand<T> norm =
        tf.math.sqrt(tf.math.add(tf.reduceSum(tf.math.mul(z, m), tf.constant(0)), guard));
    return tf.math.div(z, norm);
  }

  /** Whether the sample's row count is static and {@link #rowSpaceIsSmaller} for the layer. */
  private static boolean inRowSpacePays(Operand<?> x, MatrixView view) {
    long r = x.shape().numDimensions() == 2 ? x.shape().size(0) : -1;
    return r >= 0 && rowSpaceIsSmaller(r, view.rows());
  }

  /**
   * Whether a dense layer with D inputs, solved from r sampled rows, runs its CG in the row space
   * ({@link Builder#solveInRowSpace}): r + 1 coordinates per column against D.
   */
  public static boolean rowSpaceIsSmaller(long sampledRows, long inputs) {
    return sampledRows + 1 < inputs;
  }

  /**
   * The damping of every column as a [1, n] row: τ, or max(τ, 1) for a column with fewer than
   * min(k, D) active sampled rows, rows whose term Λ̂_ij x_i x_iᵀ is non-zero (Y_ij² ‖x_i‖² &gt;
   * 0). Such a column's sampled Fisher has at most that many distinct eigenvalues besides τ, so k
   * CG steps solve it exactly and divide every component of M_j outside the active rows by τ; the
   * normalised step would then move the column by about η/√τ. With the damping raised to 1 (the
   * mean diagonal that the normalisation of Λ̂ gives every column), those components keep their
   * size instead and the column moves by at most η. Every other column keeps τ, bit for bit.
   */
  private <T extends TFloating> Operand<T> columnDamping(
      Ops tf, Operand<T> contributions, int[] rowAxes, MatrixView view, Operand<T> tau) {
    Class<T> type = tau.type();
    Operand<TInt32> active =
        tf.reduceSum(
            tf.dtypes.cast(tf.math.greater(contributions, tf.constant(type, 0.0)), TInt32.class),
            tf.constant(rowAxes));
    Operand<TBool> underSampled =
        tf.math.less(active, tf.constant((int) Math.min(cgIterations, view.rows())));
    Operand<T> raised = tf.math.maximum(tau, tf.constant(type, 1.0));
    return tf.reshape(
        tf.select(underSampled, raised, tau), tf.constant(new long[] {1, view.cols()}));
  }

  private static Operand<TInt32> rowCount(Ops tf, Operand<?> t) {
    return tf.gather(tf.shape(t), tf.constant(0), tf.constant(0));
  }

  /** Settings of {@link Frog}; every setter validates its value at once. */
  public static final class Builder extends GuardedOptimizer.Builder<Builder> {
    private LayerCollection layers = new LayerCollection();
    private double momentum = MOMENTUM_DEFAULT;
    private double damping = DAMPING_DEFAULT;
    private double weightDecay = WEIGHT_DECAY_DEFAULT;
    private int sampleSize = SAMPLE_SIZE_DEFAULT;
    private int cgIterations = CG_ITERATIONS_DEFAULT;
    private double otherLearningRateRatio = OTHER_LEARNING_RATE_RATIO_DEFAULT;
    private double denominatorGuard = DENOMINATOR_GUARD_DEFAULT;
    private long seed = SEED_DEFAULT;
    private boolean solveInRowSpace = true;

    private Builder() {
      super(NAME_DEFAULT, LEARNING_RATE_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }

    /** The layers to precondition; their inputs and pre-activations must be in the loss's graph. */
    public Builder layers(LayerCollection layers) {
      if (layers == null) {
        throw new IllegalArgumentException(
            "layers must not be null; pass an empty LayerCollection to precondition nothing");
      }
      this.layers = layers;
      return this;
    }

    /** β ∈ [0, 1) of the momentum M ← βM + G, for every parameter. */
    public Builder momentum(double momentum) {
      this.momentum = Settings.decay("momentum", momentum);
      return this;
    }

    /** τ ≥ 0, added to every row-wise Fisher as τI. */
    public Builder damping(double damping) {
      this.damping = Settings.nonNegative("damping", damping);
      return this;
    }

    /** ρ ≥ 0: decoupled on preconditioned kernels, added into the momentum buffer elsewhere. */
    public Builder weightDecay(double weightDecay) {
      this.weightDecay = Settings.nonNegative("weightDecay", weightDecay);
      return this;
    }

    /** r ≥ 1, the batch rows the row-wise Fisher is built from (all rows when r ≥ batch). */
    public Builder sampleSize(int sampleSize) {
      this.sampleSize = Settings.atLeastOne("sampleSize", sampleSize);
      return this;
    }

    /** k ≥ 1 conjugate-gradient steps per step. */
    public Builder cgIterations(int cgIterations) {
      this.cgIterations = Settings.atLeastOne("cgIterations", cgIterations);
      return this;
    }

    /** The learning rate of the parameters FROG does not precondition, as a multiple of η (≥ 0). */
    public Builder otherLearningRateRatio(double ratio) {
      this.otherLearningRateRatio = Settings.nonNegative("otherLearningRateRatio", ratio);
      return this;
    }

    /** ε &gt; 0 guarding the CG denominators, the trace and the normalisation (default 1e-10). */
    public Builder denominatorGuard(double guard) {
      this.denominatorGuard = Settings.positive("denominatorGuard", guard);
      return this;
    }

    /** Seed of the row sample; with the step count it fixes every sample. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * Whether fully-connected layers run their CG in the row space of the sample (default true):
     * the same iteration in coordinates of r + 1 dimensions per column instead of D ({@link
     * RowFisher#fullyConnectedInRowSpace}), equal up to rounding and several times cheaper when r ≪
     * D. Used when the sample's row count is static and below D − 1; false always iterates on the
     * [D, n] matrices. Conv layers always do.
     */
    public Builder solveInRowSpace(boolean solveInRowSpace) {
      this.solveInRowSpace = solveInRowSpace;
      return this;
    }

    /** Builds the optimizer in {@code graph}. */
    public Frog build(Graph graph) {
      return new Frog(graph, this);
    }
  }
}
