package dev.fisheropt.optimizers;

import dev.fisheropt.ops.FactorEma;
import dev.fisheropt.ops.GraphFunctions;
import dev.fisheropt.ops.KroneckerFactors;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * FISMO: Fisher-structured momentum-orthogonalized optimizer (Xu, Yan, Zhang, ICML 2026, arXiv
 * 2601.21750, Algorithm 1).
 *
 * <p>For every rank-2 parameter W ∈ ℝ^{m×n} (and every rank-4 conv kernel, seen as [kh·kw·cin,
 * cout]) with gradient G, FISMO keeps Kronecker factors P ∈ ℝ^{m×m}, Q ∈ ℝ^{n×n} of the empirical
 * Fisher and a momentum M in the whitened space. One step, Gauss–Seidel (Q uses the new P):
 *
 * <pre>
 *   L = G Q⁻¹ Gᵀ / n + μ·tr(P)/m·I        P ← sym(m·P̃ / tr P̃),  P̃ = γP + (1−γ)L
 *   R = Gᵀ P⁻¹ G / m + μ·tr(Q)/n·I        Q ← sym(n·Q̃ / tr Q̃),  Q̃ = γQ + (1−γ)R
 *   G̃ = P^{-1/2} G Q^{-1/2}               M ← βM + (1−β)G̃
 *   W ← W − η·P^{-1/2} Polar(M) Q^{-1/2}  (− ηλW with decoupled weight decay λ)
 * </pre>
 *
 * with P₀ = I, Q₀ = I, M₀ = 0. The update solves the trust-region problem min ⟨G, ΔW⟩ s.t. ‖P^{1/2}
 * ΔW Q^{1/2}‖₂ ≤ η; with γ = 1 the factors stay I and FISMO is Muon with EMA momentum and neither
 * Nesterov nor shape scaling. Every other parameter goes to the {@link Fallback} (Adam by default),
 * as do matrices passed to {@link Builder#exclude}.
 *
 * <p><b>Loss scale.</b> The damping μ·tr(P)/m = μ is absolute while P and Q are trace-normalised,
 * so multiplying the loss by s (mixed-precision loss scaling, a summed loss, a loss weight) changes
 * the steps: the statistic grows like s², which sets both how much μ damps it and how much weight
 * it gets in the EMA against the trace-m history. On a float64 MLP 16→32→10 ({@code
 * LossScaleBench}, docs/reliability.md) one step at s = 10⁶ moves the parameters 22× as far as at s
 * = 1 (7·10⁶× with {@link Polar#EXACT}), 20 steps at s = 10³ 7·10⁶× as far; at s = 1 the factors
 * hardly leave I (‖P − I‖_F/√m = 2·10⁻⁴ after 20 steps); and one ×1000 gradient spike leaves 27 of
 * the next 50 steps more than twice as long. {@link Builder#normalizedStatistics(boolean)
 * normalizedStatistics(true)} damps each statistic relative to its own scale and normalises it to
 * the factor's trace, making every matrix step independent of s (to 5·10⁻¹⁵ in float64 with the
 * exact polar factor); it is off by default, the paper's algorithm.
 *
 * <p>With {@code preconditionerInterval(k)} the factors and their roots are recomputed only on
 * steps whose count of completed steps is a multiple of k; the steps between reuse the stored
 * roots.
 *
 * <p>Slots per preconditioned parameter: {@code P}, {@code Q}, {@code Q_inverse}, {@code
 * P_inverse_sqrt}, {@code Q_inverse_sqrt} and {@code momentum} (shape [m, n]); with {@code
 * inverseRoot(NEWTON)} also {@code unconverged_roots}, an int64 count of the factor roots whose
 * Newton iteration missed its acceptance tolerance (see {@link InverseRoot#NEWTON}).
 *
 * <p>Under XLA ({@code dev.fisheropt.xla.Xla}), {@code inverseRoot(NEWTON)} with {@code
 * polar(NEWTON_SCHULZ)} puts every compute op of the step in XLA clusters; with {@code EIGH} the
 * {@code SelfAdjointEigV2} ops stay outside. Hyperparameter variables: {@code learning_rate},
 * {@code momentum}, {@code fisher_decay}, {@code damping}, {@code weight_decay} and the fallback's.
 */
public final class Fismo extends MatrixOptimizer {
  public static final String NAME_DEFAULT = "Fismo";
  public static final double LEARNING_RATE_DEFAULT = 0.02;
  public static final double MOMENTUM_DEFAULT = 0.95;
  public static final double FISHER_DECAY_DEFAULT = 0.95;
  public static final double DAMPING_DEFAULT = 1e-3;
  public static final int NS_STEPS_DEFAULT = 5;
  public static final int PRECONDITIONER_INTERVAL_DEFAULT = 1;
  public static final double WEIGHT_DECAY_DEFAULT = 0.0;
  public static final InverseRoot INVERSE_ROOT_DEFAULT = InverseRoot.EIGH;
  public static final Polar POLAR_DEFAULT = Polar.NEWTON_SCHULZ;
  public static final Fallback FALLBACK_DEFAULT = Fallback.adam();
  public static final boolean NORMALIZED_STATISTICS_DEFAULT = false;

  private final InverseRoot inverseRoot;
  private final int preconditionerInterval;
  private final boolean normalizedStatistics;
  private final boolean shardedRoots;
  // Work assigned so far to each replica by the sharded refresh, in m³ + n³ units.
  private long[] shardLoads;

  /** FISMO with every setting at its default. */
  public Fismo(Graph graph) {
    this(graph, builder());
  }

  private Fismo(Graph graph, Builder b) {
    super(graph, b);
    this.inverseRoot = b.inverseRoot;
    this.preconditionerInterval = b.preconditionerInterval;
    this.normalizedStatistics = b.normalizedStatistics;
    this.shardedRoots = b.shardedRoots;
    hyperparameter("fisher_decay", b.fisherDecay, Settings.Range.CLOSED_DECAY);
    hyperparameter("damping", b.damping, Settings.Range.POSITIVE);
  }

  /** Settings starting at every default. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  <T extends TFloating> void updateMatrix(
      StepContext step, Operand<T> gradient, Variable<T> variable, MatrixView view) {
    Ops tf = step.tf();
    Ops init = step.init();
    Class<T> type = variable.type();
    Variable<T> p = step.slot(variable, "P", KroneckerFactors.identity(init, view.rows(), type));
    Variable<T> q = step.slot(variable, "Q", KroneckerFactors.identity(init, view.cols(), type));
    Variable<T> qInverse =
        step.slot(variable, "Q_inverse", KroneckerFactors.identity(init, view.cols(), type));
    Variable<T> pInvSqrt =
        step.slot(variable, "P_inverse_sqrt", KroneckerFactors.identity(init, view.rows(), type));
    Variable<T> qInvSqrt =
        step.slot(variable, "Q_inverse_sqrt", KroneckerFactors.identity(init, view.cols(), type));
    Variable<T> momentum =
        step.slot(
            variable,
            "momentum",
            init.zeros(init.constant(new long[] {view.rows(), view.cols()}), type));
    Operand<T> g = view.toMatrix(tf, gradient);

    Replicas replicas = step.replicas();
    boolean sharded = shardedRoots && replicas.distributed();
    boolean owner = !sharded || owner(replicas, view) == replicas.index();
    List<Operand<?>> inputs =
        new ArrayList<>(
            List.of(
                g,
                p,
                q,
                qInverse,
                pInvSqrt,
                qInvSqrt,
                step.hyperparameter("fisher_decay", type),
                step.hyperparameter("damping", type)));
    if (sharded) {
      inputs.add(replicas.newKey(tf));
    }
    Factors<T> f =
        Factors.of(
            GraphFunctions.every(
                tf,
                preconditionerInterval,
                step.completedSteps(),
                "fismo_refresh_"
                    + inverseRoot.name()
                    + (normalizedStatistics ? "_normalized" : "")
                    + (sharded ? (owner ? "_owner" : "_peer") : ""),
                inputs,
                (fn, in) -> {
                  if (!sharded) {
                    return refresh(
                            fn, in.get(0), in.get(1), in.get(2), in.get(3), in.get(6), in.get(7))
                        .asList();
                  }
                  // The owner refreshes the layer, the others contribute zeros: the sum is the
                  // owner's result, bit for bit, on every replica.
                  Factors<T> mine =
                      owner
                          ? refresh(
                              fn, in.get(0), in.get(1), in.get(2), in.get(3), in.get(6), in.get(7))
                          : Factors.zeros(fn, view.rows(), view.cols(), type);
                  return mine.sum(fn, replicas, in.get(8)).asList();
                },
                (fn, in) ->
                    List.of(
                        in.get(1), in.get(2), in.get(3), in.get(4), in.get(5), fn.constant(0L))));

    Operand<T> one = tf.constant(type, 1.0);
    Operand<T> beta = step.hyperparameter("momentum", type);
    Operand<T> whitened = KroneckerFactors.sandwich(tf, f.pInvSqrt(), g, f.qInvSqrt());
    Operand<T> mNew =
        tf.math.add(tf.math.mul(beta, momentum), tf.math.mul(tf.math.sub(one, beta), whitened));
    Operand<T> direction =
        KroneckerFactors.sandwich(tf, f.pInvSqrt(), polarFactor(tf, mNew), f.qInvSqrt());
    step.set(p, f.p());
    step.set(q, f.q());
    step.set(qInverse, f.qInverse());
    step.set(pInvSqrt, f.pInvSqrt());
    step.set(qInvSqrt, f.qInvSqrt());
    step.set(momentum, mNew);
    if (inverseRoot == InverseRoot.NEWTON) {
      Variable<TInt64> unconverged = step.slot(variable, "unconverged_roots", init.constant(0L));
      step.set(unconverged, tf.math.add(unconverged, f.unconverged()));
    }
    descend(step, variable, view.toParameter(tf, direction));
  }

  /** The Kronecker factors after a step, the roots the step uses, and how many roots missed. */
  private record Factors<T extends TFloating>(
      Operand<T> p,
      Operand<T> q,
      Operand<T> qInverse,
      Operand<T> pInvSqrt,
      Operand<T> qInvSqrt,
      Operand<TInt64> unconverged) {
    static <T extends TFloating> Factors<T> of(GraphFunctions.Values v) {
      return new Factors<>(v.get(0), v.get(1), v.get(2), v.get(3), v.get(4), v.get(5));
    }

    List<Operand<?>> asList() {
      return List.of(p, q, qInverse, pInvSqrt, qInvSqrt, unconverged);
    }

    static <T extends TFloating> Factors<T> zeros(Ops tf, long m, long n, Class<T> type) {
      Operand<T> mm = tf.zeros(tf.constant(new long[] {m, m}), type);
      Operand<T> nn = tf.zeros(tf.constant(new long[] {n, n}), type);
      return new Factors<>(mm, nn, nn, mm, nn, tf.constant(0L));
    }

    /** The sum over the replicas of every value, as one flat all-reduce. */
    Factors<T> sum(Ops tf, Replicas replicas, Operand<TInt32> key) {
      Class<T> type = p.type();
      List<Operand<T>> parts =
          List.of(p, q, qInverse, pInvSqrt, qInvSqrt, tf.dtypes.cast(unconverged, type));
      List<Operand<T>> flat = new ArrayList<>();
      long[] sizes = new long[parts.size()];
      for (int i = 0; i < parts.size(); i++) {
        flat.add(tf.reshape(parts.get(i), tf.constant(new long[] {-1})));
        sizes[i] = parts.get(i).shape().size();
      }
      Operand<T> summed = replicas.sum(tf, tf.concat(flat, tf.constant(0)), key);
      List<Output<T>> split =
          tf.splitV(summed, tf.constant(sizes), tf.constant(0), (long) sizes.length).output();
      List<Operand<T>> shaped = new ArrayList<>();
      for (int i = 0; i < parts.size(); i++) {
        shaped.add(tf.reshape(split.get(i), tf.constant(parts.get(i).shape().asArray())));
      }
      return new Factors<>(
          shaped.get(0),
          shaped.get(1),
          shaped.get(2),
          shaped.get(3),
          shaped.get(4),
          tf.dtypes.cast(shaped.get(5), TInt64.class));
    }
  }

  /**
   * The replica that refreshes this matrix's factors: the least loaded so far, its load counted as
   * m³ + n³ (the eigendecompositions'), in the order the step visits the parameters (by name),
   * which every replica shares.
   */
  private int owner(Replicas replicas, MatrixView view) {
    if (shardLoads == null || shardLoads.length != replicas.count()) {
      shardLoads = new long[replicas.count()];
    }
    int best = 0;
    for (int i = 1; i < shardLoads.length; i++) {
      if (shardLoads[i] < shardLoads[best]) {
        best = i;
      }
    }
    long m = view.rows();
    long n = view.cols();
    shardLoads[best] += m * m * m + n * n * n;
    return best;
  }

  /** The factor updates, Gauss–Seidel (Q uses the new P), and the roots of the new factors. */
  private <T extends TFloating> Factors<T> refresh(
      Ops tf,
      Operand<T> g,
      Operand<T> p,
      Operand<T> q,
      Operand<T> qInverse,
      Operand<T> gamma,
      Operand<T> mu) {
    Operand<T> left =
        normalizedStatistics
            ? KroneckerFactors.normalizedLeftStatistic(tf, g, qInverse, mu)
            : KroneckerFactors.leftStatistic(tf, g, qInverse, p, mu);
    Operand<T> pNew = FactorEma.traceNormalized(tf, p, left, gamma);
    InverseRoot.Result<T> pRoots = inverseRoot.roots(tf, pNew);
    Operand<T> pInverse = pRoots.roots().inverse();
    Operand<T> right =
        normalizedStatistics
            ? KroneckerFactors.normalizedRightStatistic(tf, g, pInverse, mu)
            : KroneckerFactors.rightStatistic(tf, g, pInverse, q, mu);
    Operand<T> qNew = FactorEma.traceNormalized(tf, q, right, gamma);
    InverseRoot.Result<T> qRoots = inverseRoot.roots(tf, qNew);
    Operand<TInt64> unconverged =
        tf.math.add(failures(tf, pRoots.converged()), failures(tf, qRoots.converged()));
    return new Factors<>(
        pNew,
        qNew,
        qRoots.roots().inverse(),
        pRoots.roots().inverseSqrt(),
        qRoots.roots().inverseSqrt(),
        unconverged);
  }

  private static Operand<TInt64> failures(Ops tf, Operand<TBool> converged) {
    return tf.select(converged, tf.constant(0L), tf.constant(1L));
  }

  /** Settings of {@link Fismo}; every setter validates its value at once. */
  public static final class Builder extends MatrixOptimizer.Builder<Builder> {
    private double fisherDecay = FISHER_DECAY_DEFAULT;
    private double damping = DAMPING_DEFAULT;
    private InverseRoot inverseRoot = INVERSE_ROOT_DEFAULT;
    private int preconditionerInterval = PRECONDITIONER_INTERVAL_DEFAULT;
    private boolean normalizedStatistics = NORMALIZED_STATISTICS_DEFAULT;
    private boolean shardedRoots;

    private Builder() {
      super(
          NAME_DEFAULT,
          LEARNING_RATE_DEFAULT,
          MOMENTUM_DEFAULT,
          NS_STEPS_DEFAULT,
          WEIGHT_DECAY_DEFAULT,
          POLAR_DEFAULT,
          FALLBACK_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }

    /** γ ∈ [0, 1], the EMA coefficient of the Kronecker factors; 1 freezes them at I. */
    public Builder fisherDecay(double fisherDecay) {
      this.fisherDecay = Settings.closedDecay("fisherDecay", fisherDecay);
      return this;
    }

    /**
     * μ &gt; 0, the damping added as μ·tr(P)/m·I (and likewise for Q); with {@link
     * #normalizedStatistics} μ·tr(S)/m·I instead, a fraction of the statistic's mean eigenvalue.
     */
    public Builder damping(double damping) {
      this.damping = Settings.positive("damping", damping);
      return this;
    }

    /** How the factors' inverse roots are computed (default {@link InverseRoot#EIGH}). */
    public Builder inverseRoot(InverseRoot inverseRoot) {
      if (inverseRoot == null) {
        throw new IllegalArgumentException("inverseRoot must not be null");
      }
      this.inverseRoot = inverseRoot;
      return this;
    }

    /** Recompute P, Q and their roots every {@code k} steps (1 = every step, as the paper). */
    public Builder preconditionerInterval(int k) {
      this.preconditionerInterval = Settings.atLeastOne("preconditionerInterval", k);
      return this;
    }

    /**
     * Whether each factor statistic is damped relative to its own scale and normalised to the
     * factor's trace before the EMA (default false, the paper's algorithm):
     *
     * <pre>
     *   L = (m·S/tr(S) + μ·I)/(1+μ),  S = G Q⁻¹ Gᵀ      (I where S = 0; likewise R for Q)
     * </pre>
     *
     * instead of L = G Q⁻¹ Gᵀ/n + μ·I. Then P and Q, and with them every matrix step, no longer
     * depend on the scale of the loss: multiplying the loss by any s &gt; 0 leaves the steps
     * unchanged up to rounding (and the 1e-7 guard of the Newton–Schulz normalisation when ‖M‖_F is
     * tiny), a gradient spike enters the factors with the weight 1−γ of any other step, and μ is a
     * fraction of the statistic's mean eigenvalue. Turn it on when the loss is scaled
     * (mixed-precision loss scaling, a sum instead of a mean, a large loss weight) or gradients
     * spike.
     */
    public Builder normalizedStatistics(boolean normalizedStatistics) {
      this.normalizedStatistics = normalizedStatistics;
      return this;
    }

    /**
     * In a data-parallel step ({@code minimize(loss, replicas)} with more than one replica),
     * whether each replica refreshes the factors and inverse roots of its share of the matrices
     * only (default false): every matrix goes to the replica with the least m³ + n³ assigned so
     * far, the others contribute zeros, and one all-reduce per matrix and refresh gives every
     * replica the owner's values, identical to the unsharded refresh. It divides the
     * eigendecomposition work by up to the number of replicas, at the cost of that all-reduce (the
     * factors and roots, 3m² + 3n² values) on refresh steps. Without replicas it changes nothing.
     */
    public Builder shardedRoots(boolean shardedRoots) {
      this.shardedRoots = shardedRoots;
      return this;
    }

    /** Builds the optimizer in {@code graph}. */
    public Fismo build(Graph graph) {
      return new Fismo(graph, this);
    }
  }
}
