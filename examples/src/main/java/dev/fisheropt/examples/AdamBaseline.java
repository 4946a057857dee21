package dev.fisheropt.examples;

import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.StepContext;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * Adam (Kingma and Ba, 2015) on every parameter, the baseline of the comparison:
 * <pre>
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ − (η/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)
 * </pre>
 * the same arithmetic as {@code Fallback.adam}, which the other optimizers apply to biases.
 *
 * <p>Why not the framework's {@code org.tensorflow.framework.optimizers.Adam}: it updates
 * {@code beta1_power} without ordering it after the {@code ApplyAdam} ops, so two runs of the same
 * seed differ, it places ε before the bias correction, and it has no slot list to measure state
 * memory with. Built on {@link GuardedOptimizer}, this baseline is deterministic, skips non-finite
 * steps like the others, and its state is counted the same way.
 */
public final class AdamBaseline extends GuardedOptimizer {
  public static final double LEARNING_RATE_DEFAULT = 1e-3;
  public static final double BETA1 = 0.9;
  public static final double BETA2 = 0.999;
  public static final double EPSILON = 1e-8;

  private AdamBaseline(Graph graph, Builder b) {
    super(graph, b);
    hyperparameter("beta1", BETA1);
    hyperparameter("beta2", BETA2);
    hyperparameter("epsilon", EPSILON);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  protected <T extends TFloating> void update(StepContext step, Operand<T> g, Variable<T> variable) {
    Ops tf = step.tf();
    Class<T> type = variable.type();
    Variable<T> m = step.slot(variable, "m", step.init().zerosLike(variable));
    Variable<T> v = step.slot(variable, "v", step.init().zerosLike(variable));
    Operand<T> one = tf.constant(type, 1.0);
    Operand<T> b1 = step.hyperparameter("beta1", type);
    Operand<T> b2 = step.hyperparameter("beta2", type);
    Operand<T> t = step.stepNumber(type);
    Operand<T> mNew = tf.math.add(tf.math.mul(b1, m), tf.math.mul(tf.math.sub(one, b1), g));
    Operand<T> vNew = tf.math.add(tf.math.mul(b2, v), tf.math.mul(tf.math.sub(one, b2), tf.math.square(g)));
    Operand<T> stepSize = tf.math.div(step.hyperparameter("learning_rate", type), tf.math.sub(one, tf.math.pow(b1, t)));
    Operand<T> denominator = tf.math.add(
        tf.math.div(tf.math.sqrt(vNew), tf.math.sqrt(tf.math.sub(one, tf.math.pow(b2, t)))),
        step.hyperparameter("epsilon", type));
    step.set(m, mNew);
    step.set(v, vNew);
    step.set(variable, tf.math.sub(variable, tf.math.mul(stepSize, tf.math.div(mNew, denominator))));
  }

  /** Settings: learning rate [1e-3]; β₁ 0.9, β₂ 0.999, ε 1e-8 are fixed. */
  public static final class Builder extends GuardedOptimizer.Builder<Builder> {
    private Builder() {
      super("Adam", LEARNING_RATE_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }

    public AdamBaseline build(Graph graph) {
      return new AdamBaseline(graph, this);
    }
  }
}
