package dev.fisheropt.examples;

import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.StepContext;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * SGD with heavy-ball momentum on every parameter, b ← μb + g, θ ← θ − ηb (μ = 0.9): the first-order
 * method FROG is measured against (FROG's own update of unregistered parameters has this form).
 * Built on {@link dev.fisheropt.optimizers.GuardedOptimizer} for the reasons given in {@link AdamBaseline}.
 */
public final class MomentumBaseline extends GuardedOptimizer {
  public static final double LEARNING_RATE_DEFAULT = 0.05;
  public static final double MOMENTUM_DEFAULT = 0.9;

  private MomentumBaseline(Graph graph, Builder b) {
    super(graph, b);
    hyperparameter("momentum", MOMENTUM_DEFAULT);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  protected <T extends TFloating> void update(StepContext step, Operand<T> g, Variable<T> variable) {
    Ops tf = step.tf();
    Class<T> type = variable.type();
    Variable<T> buffer = step.slot(variable, "momentum", step.init().zerosLike(variable));
    Operand<T> bNew = tf.math.add(tf.math.mul(step.hyperparameter("momentum", type), buffer), g);
    step.set(buffer, bNew);
    step.set(variable, tf.math.sub(variable, tf.math.mul(step.hyperparameter("learning_rate", type), bNew)));
  }

  /** Settings: learning rate [0.05]; momentum is fixed at 0.9. */
  public static final class Builder extends GuardedOptimizer.Builder<Builder> {
    private Builder() {
      super("Momentum", LEARNING_RATE_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }

    public MomentumBaseline build(Graph graph) {
      return new MomentumBaseline(graph, this);
    }
  }
}
