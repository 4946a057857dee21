package dev.fisheropt.optimizers;

import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * How an optimizer updates the parameters it does not precondition (biases, norms, excluded
 * matrices): {@link #adam}, {@link #momentum} or {@link #none}. Its hyperparameters become variables
 * {@code <optimizer>/fallback_<name>} of the optimizer that uses it.
 */
public abstract class Fallback {
  public static final double LEARNING_RATE_DEFAULT = 1e-3;
  public static final double BETA1_DEFAULT = 0.9;
  public static final double BETA2_DEFAULT = 0.999;
  public static final double EPSILON_DEFAULT = 1e-8;

  private Fallback() {}

  /**
   * Bias-corrected Adam with ε added after the correction, as PyTorch, optax and Keras 3 do:
   * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − (η/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).
   */
  public static Fallback adam(double learningRate, double beta1, double beta2, double epsilon) {
    Settings.positive("fallback learningRate", learningRate);
    Settings.decay("fallback beta1", beta1);
    Settings.decay("fallback beta2", beta2);
    Settings.positive("fallback epsilon", epsilon);
    return new Adam(learningRate, beta1, beta2, epsilon);
  }

  /** Adam(1e-3, 0.9, 0.999, 1e-8). */
  public static Fallback adam() {
    return adam(LEARNING_RATE_DEFAULT, BETA1_DEFAULT, BETA2_DEFAULT, EPSILON_DEFAULT);
  }

  /** Heavy-ball momentum: b ← μb + g, θ ← θ − ηb. */
  public static Fallback momentum(double learningRate, double momentum) {
    Settings.positive("fallback learningRate", learningRate);
    Settings.decay("fallback momentum", momentum);
    return new Momentum(learningRate, momentum);
  }

  /** Leaves the parameter unchanged. */
  public static Fallback none() {
    return new None();
  }

  /** Hyperparameters by name (without the {@code fallback_} prefix). */
  abstract Map<String, Double> hyperparameters();

  abstract <T extends TFloating> void update(StepContext step, Operand<T> gradient, Variable<T> variable);

  static <T extends TFloating> Operand<T> hyper(StepContext step, String key, Class<T> type) {
    return step.hyperparameter("fallback_" + key, type);
  }

  private static final class Adam extends Fallback {
    private final double learningRate;
    private final double beta1;
    private final double beta2;
    private final double epsilon;

    Adam(double learningRate, double beta1, double beta2, double epsilon) {
      this.learningRate = learningRate;
      this.beta1 = beta1;
      this.beta2 = beta2;
      this.epsilon = epsilon;
    }

    @Override
    Map<String, Double> hyperparameters() {
      return Map.of("learning_rate", learningRate, "beta1", beta1, "beta2", beta2, "epsilon", epsilon);
    }

    @Override
    <T extends TFloating> void update(StepContext step, Operand<T> g, Variable<T> variable) {
      Ops tf = step.tf();
      Class<T> type = variable.type();
      Variable<T> m = step.slot(variable, "m", step.init().zerosLike(variable));
      Variable<T> v = step.slot(variable, "v", step.init().zerosLike(variable));
      Operand<T> one = tf.constant(type, 1.0);
      Operand<T> b1 = hyper(step, "beta1", type);
      Operand<T> b2 = hyper(step, "beta2", type);
      Operand<T> t = step.stepNumber(type);
      Operand<T> mNew = tf.math.add(tf.math.mul(b1, m), tf.math.mul(tf.math.sub(one, b1), g));
      Operand<T> vNew = tf.math.add(tf.math.mul(b2, v), tf.math.mul(tf.math.sub(one, b2), tf.math.square(g)));
      Operand<T> stepSize = tf.math.div(hyper(step, "learning_rate", type), tf.math.sub(one, tf.math.pow(b1, t)));
      Operand<T> denominator = tf.math.add(
          tf.math.div(tf.math.sqrt(vNew), tf.math.sqrt(tf.math.sub(one, tf.math.pow(b2, t)))),
          hyper(step, "epsilon", type));
      step.set(m, mNew);
      step.set(v, vNew);
      step.set(variable, tf.math.sub(variable, tf.math.mul(stepSize, tf.math.div(mNew, denominator))));
    }
  }

  private static final class Momentum extends Fallback {
    private final double learningRate;
    private final double momentum;

    Momentum(double learningRate, double momentum) {
      this.learningRate = learningRate;
      this.momentum = momentum;
    }

    @Override
    Map<String, Double> hyperparameters() {
      return Map.of("learning_rate", learningRate, "momentum", momentum);
    }

    @Override
    <T extends TFloating> void update(StepContext step, Operand<T> g, Variable<T> variable) {
      Ops tf = step.tf();
      Class<T> type = variable.type();
      Variable<T> buffer = step.slot(variable, "momentum", step.init().zerosLike(variable));
      Operand<T> bNew = tf.math.add(tf.math.mul(hyper(step, "momentum", type), buffer), g);
      step.set(buffer, bNew);
      step.set(variable, tf.math.sub(variable, tf.math.mul(hyper(step, "learning_rate", type), bNew)));
    }
  }

  private static final class None extends Fallback {
    @Override
    Map<String, Double> hyperparameters() {
      return Map.of();
    }

    @Override
    <T extends TFloating> void update(StepContext step, Operand<T> g, Variable<T> variable) {}
  }
}
