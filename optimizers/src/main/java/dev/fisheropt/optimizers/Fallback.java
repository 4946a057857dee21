package dev.fisheropt.optimizers;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * An element-wise update rule: {@link #adam}, {@link #momentum} or {@link #none}. It serves twice:
 * as the update of the parameters an optimizer does not precondition (biases, norms, excluded
 * matrices; its hyperparameters then become variables {@code <optimizer>/fallback_<name>}), and as
 * a complete optimizer of its own through {@link ElementwiseOptimizer}.
 */
public abstract sealed class Fallback permits Fallback.Adam, Fallback.Momentum, Fallback.None {
  public static final double LEARNING_RATE_DEFAULT = 1e-3;
  public static final double BETA1_DEFAULT = 0.9;
  public static final double BETA2_DEFAULT = 0.999;
  public static final double EPSILON_DEFAULT = 1e-8;
  public static final double MOMENTUM_DEFAULT = 0.9;

  private final double learningRate;

  private Fallback(double learningRate) {
    this.learningRate = learningRate;
  }

  /**
   * Bias-corrected Adam with ε added after the correction, as PyTorch, optax and Keras 3 do: m ←
   * β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − (η/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε). Slots {@code m}
   * and {@code v}.
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

  /** Heavy-ball momentum: b ← μb + g, θ ← θ − ηb. Slot {@code momentum}. */
  public static Fallback momentum(double learningRate, double momentum) {
    Settings.positive("fallback learningRate", learningRate);
    Settings.decay("fallback momentum", momentum);
    return new Momentum(learningRate, momentum, null);
  }

  /**
   * Heavy-ball momentum with L2 weight decay κ added into the buffer, as PyTorch's SGD does: b ← μb
   * + g + κθ, θ ← θ − ηb.
   */
  public static Fallback momentum(double learningRate, double momentum, double weightDecay) {
    Settings.positive("fallback learningRate", learningRate);
    Settings.decay("fallback momentum", momentum);
    return new Momentum(
        learningRate, momentum, Settings.nonNegative("fallback weightDecay", weightDecay));
  }

  /** Leaves the parameter unchanged. */
  public static Fallback none() {
    return new None();
  }

  /** The learning rate the rule was built with. */
  public final double learningRate() {
    return learningRate;
  }

  /** The valid range of a rule's hyperparameter, by its name. */
  static Settings.Range rangeOf(String key) {
    return switch (key) {
      case "beta1", "beta2", "momentum" -> Settings.Range.DECAY;
      case "epsilon" -> Settings.Range.POSITIVE;
      case "weight_decay" -> Settings.Range.NON_NEGATIVE;
      default ->
          throw new IllegalArgumentException("no range for rule hyperparameter '" + key + "'");
    };
  }

  /** Hyperparameters other than the learning rate, by name. */
  abstract Map<String, Double> hyperparameters();

  /**
   * Declares the new values of {@code variable} and its slots on {@code step}, at rate {@code eta},
   * reading the rule's other hyperparameters as {@code <prefix><name>}.
   */
  abstract <T extends TFloating> void update(
      StepContext step, Operand<T> gradient, Variable<T> variable, Operand<T> eta, String prefix);

  static final class Adam extends Fallback {
    private final double beta1;
    private final double beta2;
    private final double epsilon;

    private Adam(double learningRate, double beta1, double beta2, double epsilon) {
      super(learningRate);
      this.beta1 = beta1;
      this.beta2 = beta2;
      this.epsilon = epsilon;
    }

    @Override
    Map<String, Double> hyperparameters() {
      return Map.of("beta1", beta1, "beta2", beta2, "epsilon", epsilon);
    }

    @Override
    <T extends TFloating> void update(
        StepContext step, Operand<T> g, Variable<T> variable, Operand<T> eta, String prefix) {
      Ops tf = step.tf();
      Class<T> type = variable.type();
      Variable<T> m = step.slot(variable, "m", step.init().zerosLike(variable));
      Variable<T> v = step.slot(variable, "v", step.init().zerosLike(variable));
      Operand<T> one = tf.constant(type, 1.0);
      Operand<T> b1 = step.hyperparameter(prefix + "beta1", type);
      Operand<T> b2 = step.hyperparameter(prefix + "beta2", type);
      Operand<T> t = step.stepNumber(type);
      Operand<T> mNew = tf.math.add(tf.math.mul(b1, m), tf.math.mul(tf.math.sub(one, b1), g));
      Operand<T> vNew =
          tf.math.add(tf.math.mul(b2, v), tf.math.mul(tf.math.sub(one, b2), tf.math.square(g)));
      Operand<T> stepSize = tf.math.div(eta, tf.math.sub(one, tf.math.pow(b1, t)));
      Operand<T> denominator =
          tf.math.add(
              tf.math.div(tf.math.sqrt(vNew), tf.math.sqrt(tf.math.sub(one, tf.math.pow(b2, t)))),
              step.hyperparameter(prefix + "epsilon", type));
      step.set(m, mNew);
      step.set(v, vNew);
      step.set(
          variable, tf.math.sub(variable, tf.math.mul(stepSize, tf.math.div(mNew, denominator))));
    }
  }

  static final class Momentum extends Fallback {
    private final double momentum;
    private final Double weightDecay;

    private Momentum(double learningRate, double momentum, Double weightDecay) {
      super(learningRate);
      this.momentum = momentum;
      this.weightDecay = weightDecay;
    }

    @Override
    Map<String, Double> hyperparameters() {
      Map<String, Double> h = new LinkedHashMap<>();
      h.put("momentum", momentum);
      if (weightDecay != null) {
        h.put("weight_decay", weightDecay);
      }
      return h;
    }

    @Override
    <T extends TFloating> void update(
        StepContext step, Operand<T> g, Variable<T> variable, Operand<T> eta, String prefix) {
      Ops tf = step.tf();
      Class<T> type = variable.type();
      Variable<T> buffer = step.slot(variable, "momentum", step.init().zerosLike(variable));
      Operand<T> bNew =
          tf.math.add(tf.math.mul(step.hyperparameter(prefix + "momentum", type), buffer), g);
      if (weightDecay != null) {
        bNew =
            tf.math.add(
                bNew, tf.math.mul(step.hyperparameter(prefix + "weight_decay", type), variable));
      }
      step.set(buffer, bNew);
      step.set(variable, tf.math.sub(variable, tf.math.mul(eta, bNew)));
    }
  }

  static final class None extends Fallback {
    private None() {
      super(LEARNING_RATE_DEFAULT);
    }

    @Override
    Map<String, Double> hyperparameters() {
      return Map.of();
    }

    @Override
    <T extends TFloating> void update(
        StepContext step, Operand<T> g, Variable<T> variable, Operand<T> eta, String prefix) {}
  }
}
