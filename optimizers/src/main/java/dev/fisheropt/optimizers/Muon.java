package dev.fisheropt.optimizers;

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
 *
 * <pre>
 *   B ← βB + (1−β)G
 *   U = (1−β)G + βB   with Nesterov (default),   U = B   without
 *   W ← W − η·√max(1, n/m)·Polar(U)   (− ηλW with decoupled weight decay λ)
 * </pre>
 *
 * as the reference implementation does (its {@code lerp} form of momentum). Every other parameter
 * goes to the {@link Fallback} (Adam by default), as do matrices passed to {@link Builder#exclude}.
 * Slot: {@code momentum}, shaped like the parameter.
 *
 * <p>Loss scale: Polar(sU) = Polar(U), so the matrix steps do not depend on the scale of the loss
 * but for the Newton–Schulz guard ‖U‖_F + 10⁻⁷ (with the Adam fallback's ε, 20 steps differed by
 * 7·10⁻⁴ at loss ×10⁻³ and 7·10⁻⁷ at ×10³; docs/reliability.md).
 */
public final class Muon extends MatrixOptimizer {
  public static final String NAME_DEFAULT = "Muon";
  public static final double LEARNING_RATE_DEFAULT = 0.02;
  public static final double MOMENTUM_DEFAULT = 0.95;
  public static final boolean NESTEROV_DEFAULT = true;
  public static final int NS_STEPS_DEFAULT = 5;
  public static final double WEIGHT_DECAY_DEFAULT = 0.0;
  public static final Polar POLAR_DEFAULT = Polar.NEWTON_SCHULZ;
  public static final Fallback FALLBACK_DEFAULT = Fallback.adam();

  private final boolean nesterov;

  /** Muon with every setting at its default. */
  public Muon(Graph graph) {
    this(graph, builder());
  }

  private Muon(Graph graph, Builder b) {
    super(graph, b);
    this.nesterov = b.nesterov;
  }

  /** Settings starting at every default. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  <T extends TFloating> void updateMatrix(
      StepContext step, Operand<T> gradient, Variable<T> variable, MatrixView view) {
    Ops tf = step.tf();
    Class<T> type = variable.type();
    Variable<T> buffer = step.slot(variable, "momentum", step.init().zerosLike(variable));
    Operand<T> one = tf.constant(type, 1.0);
    Operand<T> beta = step.hyperparameter("momentum", type);
    Operand<T> bNew =
        tf.math.add(tf.math.mul(beta, buffer), tf.math.mul(tf.math.sub(one, beta), gradient));
    Operand<T> u =
        nesterov
            ? tf.math.add(tf.math.mul(tf.math.sub(one, beta), gradient), tf.math.mul(beta, bNew))
            : bNew;
    Operand<T> orthogonal = view.toParameter(tf, polarFactor(tf, view.toMatrix(tf, u)));
    double shapeScale = Math.sqrt(Math.max(1.0, (double) view.cols() / view.rows()));
    Operand<T> scaled =
        shapeScale == 1.0 ? orthogonal : tf.math.mul(tf.constant(type, shapeScale), orthogonal);
    step.set(buffer, bNew);
    descend(step, variable, scaled);
  }

  /** Settings of {@link Muon}; every setter validates its value at once. */
  public static final class Builder extends MatrixOptimizer.Builder<Builder> {
    private boolean nesterov = NESTEROV_DEFAULT;

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

    /** Whether the polar factor is taken of the Nesterov look-ahead (1−β)G + βB (default true). */
    public Builder nesterov(boolean nesterov) {
      this.nesterov = nesterov;
      return this;
    }

    /** Builds the optimizer in {@code graph}. */
    public Muon build(Graph graph) {
      return new Muon(graph, this);
    }
  }
}
