package dev.fisheropt.optimizers;

import java.util.HashSet;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * Muon: momentum orthogonalized by Newton–Schulz (Jordan et al., 2024), the baseline FISMO is
 * measured against.
 *
 * <p>For every rank-2 parameter W ∈ ℝ^{m×n} (m inputs, n outputs; rank-4 conv kernels as
 * [kh·kw·cin, cout]) with gradient G:
 * <pre>
 *   B ← βB + (1−β)G
 *   U = (1−β)G + βB   with Nesterov (default),   U = B   without
 *   W ← W − η·√max(1, n/m)·Polar(U)   (− ηλW with decoupled weight decay λ)
 * </pre>
 * as the reference implementation does (its {@code lerp} form of momentum). Every other parameter
 * goes to the {@link Fallback} (Adam by default), as do matrices passed to {@link Builder#exclude}.
 * Slot: {@code momentum}, shaped like the parameter.
 */
public final class Muon extends GuardedOptimizer {
  public static final String NAME_DEFAULT = "Muon";
  public static final double LEARNING_RATE_DEFAULT = 0.02;
  public static final double MOMENTUM_DEFAULT = 0.95;
  public static final boolean NESTEROV_DEFAULT = true;
  public static final int NS_STEPS_DEFAULT = 5;
  public static final double WEIGHT_DECAY_DEFAULT = 0.0;

  private final boolean nesterov;
  private final int nsSteps;
  private final Polar polar;
  private final Fallback fallback;
  private final Set<String> excluded;

  /** Muon with every setting at its default. */
  public Muon(Graph graph) {
    this(graph, builder());
  }

  private Muon(Graph graph, Builder b) {
    super(graph, b);
    this.nesterov = b.nesterov;
    this.nsSteps = b.nsSteps;
    this.polar = b.polar;
    this.fallback = b.fallback;
    this.excluded = new HashSet<>(b.excluded);
    hyperparameter("momentum", b.momentum);
    hyperparameter("weight_decay", b.weightDecay);
    registerFallback(fallback);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  protected <T extends TFloating> void update(StepContext step, Operand<T> gradient, Variable<T> variable) {
    MatrixView view = excluded.contains(variable.op().name()) ? null : MatrixView.of(variable.shape());
    if (view == null) {
      fallback.update(step, gradient, variable);
      return;
    }
    Ops tf = step.tf();
    Class<T> type = variable.type();
    Variable<T> buffer = step.slot(variable, "momentum", step.init().zerosLike(variable));
    Operand<T> one = tf.constant(type, 1.0);
    Operand<T> beta = step.hyperparameter("momentum", type);
    Operand<T> bNew = tf.math.add(tf.math.mul(beta, buffer), tf.math.mul(tf.math.sub(one, beta), gradient));
    Operand<T> u = nesterov ? tf.math.add(tf.math.mul(tf.math.sub(one, beta), gradient), tf.math.mul(beta, bNew)) : bNew;
    Operand<T> orthogonal = view.toParameter(tf, polar.factor(tf, view.toMatrix(tf, u), nsSteps));
    double shapeScale = Math.sqrt(Math.max(1.0, (double) view.cols() / view.rows()));
    Operand<T> eta = step.hyperparameter("learning_rate", type);
    Operand<T> decayed = tf.math.sub(variable, tf.math.mul(tf.math.mul(eta, step.hyperparameter("weight_decay", type)), variable));
    Operand<T> scaled = shapeScale == 1.0 ? orthogonal : tf.math.mul(tf.constant(type, shapeScale), orthogonal);
    step.set(buffer, bNew);
    step.set(variable, tf.math.sub(decayed, tf.math.mul(eta, scaled)));
  }

  /** Settings of {@link Muon}; every setter validates its value at once. */
  public static final class Builder extends GuardedOptimizer.Builder<Builder> {
    private double momentum = MOMENTUM_DEFAULT;
    private boolean nesterov = NESTEROV_DEFAULT;
    private int nsSteps = NS_STEPS_DEFAULT;
    private Polar polar = Polar.NEWTON_SCHULZ;
    private double weightDecay = WEIGHT_DECAY_DEFAULT;
    private Fallback fallback = Fallback.adam();
    private final Set<String> excluded = new HashSet<>();

    private Builder() {
      super(NAME_DEFAULT, LEARNING_RATE_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }



    public Builder momentum(double momentum) {
      this.momentum = Settings.decay("momentum", momentum);
      return this;
    }

    public Builder nesterov(boolean nesterov) {
      this.nesterov = nesterov;
      return this;
    }

    public Builder nsSteps(int nsSteps) {
      this.nsSteps = Settings.atLeastOne("nsSteps", nsSteps);
      return this;
    }

    public Builder polar(Polar polar) {
      if (polar == null) {
        throw new IllegalArgumentException("polar must not be null");
      }
      this.polar = polar;
      return this;
    }

    public Builder weightDecay(double weightDecay) {
      this.weightDecay = Settings.nonNegative("weightDecay", weightDecay);
      return this;
    }

    public Builder fallback(Fallback fallback) {
      if (fallback == null) {
        throw new IllegalArgumentException("fallback must not be null; use Fallback.none() to freeze those parameters");
      }
      this.fallback = fallback;
      return this;
    }

    public Builder exclude(Variable<?>... variables) {
      for (Variable<?> v : variables) {
        excluded.add(v.op().name());
      }
      return this;
    }


    public Muon build(Graph graph) {
      return new Muon(graph, this);
    }
  }
}
