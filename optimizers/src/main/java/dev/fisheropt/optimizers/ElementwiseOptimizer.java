package dev.fisheropt.optimizers;

import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * One element-wise {@link Fallback} rule applied to every parameter: Adam or SGD with momentum as a
 * complete optimizer, with the guarantees of every fisheropt optimizer (deterministic, non-finite
 * steps skipped, slots {@code <variable>-<slot>}). The rule's learning rate is the optimizer's
 * {@code learning_rate} (a schedule may replace it); its other hyperparameters are variables {@code
 * <name>/<hyperparameter>}.
 *
 * <pre>{@code
 * Op step = ElementwiseOptimizer.builder(Fallback.adam(2e-3, 0.9, 0.999, 1e-8)).name("Adam")
 *     .build(graph).minimize(loss);
 * }</pre>
 *
 * <p>Why not the framework's {@code Adam}: it updates {@code beta1_power} without ordering it after
 * the {@code ApplyAdam} ops, so two runs of the same seed can differ, and it adds ε before the bias
 * correction.
 */
public final class ElementwiseOptimizer extends GuardedOptimizer {
  public static final String NAME_DEFAULT = "Elementwise";

  private final Fallback rule;

  private ElementwiseOptimizer(Graph graph, Builder b) {
    super(graph, b);
    this.rule = b.rule;
    registerRule(rule, "");
  }

  /** Settings for an optimizer that applies {@code rule} to every parameter. */
  public static Builder builder(Fallback rule) {
    if (rule == null) {
      throw new IllegalArgumentException("rule must not be null");
    }
    return new Builder(rule);
  }

  @Override
  protected <T extends TFloating> void update(
      StepContext step, Operand<T> gradient, Variable<T> variable) {
    rule.update(
        step, gradient, variable, step.hyperparameter("learning_rate", variable.type()), "");
  }

  /** Settings of {@link ElementwiseOptimizer}; the learning rate starts at the rule's. */
  public static final class Builder extends GuardedOptimizer.Builder<Builder> {
    private final Fallback rule;

    private Builder(Fallback rule) {
      super(NAME_DEFAULT, rule.learningRate());
      this.rule = rule;
    }

    @Override
    protected Builder self() {
      return this;
    }

    /** Builds the optimizer in {@code graph}. */
    public ElementwiseOptimizer build(Graph graph) {
      return new ElementwiseOptimizer(graph, this);
    }
  }
}
