package dev.fisheropt.optimizers;

import java.util.HashSet;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.family.TFloating;

/**
 * Base of the optimizers that orthogonalize a momentum of every matrix parameter ({@link Fismo},
 * {@link Muon}) and send every other parameter, and the matrices the user excludes, to a {@link
 * Fallback}. It owns the settings they share: momentum β, Newton–Schulz steps, polar method,
 * decoupled weight decay λ, fallback and exclusions.
 */
abstract class MatrixOptimizer extends GuardedOptimizer {
  private final Polar polar;
  private final int nsSteps;
  private final Fallback fallback;
  private final Set<String> excluded;

  MatrixOptimizer(Graph graph, Builder<?> b) {
    super(graph, b);
    this.polar = b.polar;
    this.nsSteps = b.nsSteps;
    this.fallback = b.fallback;
    this.excluded = new HashSet<>(b.excluded);
    hyperparameter("momentum", b.momentum, Settings.Range.DECAY);
    hyperparameter("weight_decay", b.weightDecay, Settings.Range.NON_NEGATIVE);
    hyperparameter("fallback_learning_rate", fallback.learningRate(), Settings.Range.POSITIVE);
    registerRule(fallback, "fallback_");
  }

  @Override
  protected final <T extends TFloating> void update(
      StepContext step, Operand<T> gradient, Variable<T> variable) {
    MatrixView view =
        excluded.contains(variable.op().name()) ? null : MatrixView.of(variable.shape());
    if (view == null) {
      Operand<T> eta =
          step.tf()
              .math
              .mul(
                  step.hyperparameter("fallback_learning_rate", variable.type()),
                  step.learningRateScale(variable.type()));
      fallback.update(step, gradient, variable, eta, "fallback_");
    } else {
      updateMatrix(step, gradient, variable, view);
    }
  }

  /**
   * The update of one matrix parameter (rank 2, or a rank-4 conv kernel seen through {@code view}).
   */
  abstract <T extends TFloating> void updateMatrix(
      StepContext step, Operand<T> gradient, Variable<T> variable, MatrixView view);

  /** The configured polar factor of a matrix. */
  <T extends TFloating> Operand<T> polarFactor(Ops tf, Operand<T> matrix) {
    return polar.factor(tf, matrix, nsSteps);
  }

  /** W − ηλW − η·direction: the step with decoupled weight decay, declared on {@code step}. */
  <T extends TFloating> void descend(StepContext step, Variable<T> variable, Operand<T> direction) {
    Ops tf = step.tf();
    Class<T> type = variable.type();
    Operand<T> eta = step.hyperparameter("learning_rate", type);
    Operand<T> decayed =
        tf.math.sub(
            variable,
            tf.math.mul(tf.math.mul(eta, step.hyperparameter("weight_decay", type)), variable));
    step.set(variable, tf.math.sub(decayed, tf.math.mul(eta, direction)));
  }

  /**
   * The settings {@link Fismo} and {@link Muon} share; every setter validates its value at once.
   */
  abstract static class Builder<B extends Builder<B>> extends GuardedOptimizer.Builder<B> {
    private double momentum;
    private int nsSteps;
    private Polar polar;
    private double weightDecay;
    private Fallback fallback;
    private final Set<String> excluded = new HashSet<>();

    Builder(
        String defaultName,
        double defaultLearningRate,
        double defaultMomentum,
        int defaultNsSteps,
        double defaultWeightDecay,
        Polar defaultPolar,
        Fallback defaultFallback) {
      super(defaultName, defaultLearningRate);
      this.momentum = defaultMomentum;
      this.nsSteps = defaultNsSteps;
      this.weightDecay = defaultWeightDecay;
      this.polar = defaultPolar;
      this.fallback = defaultFallback;
    }

    /** β ∈ [0, 1), the momentum coefficient. */
    public B momentum(double momentum) {
      this.momentum = Settings.decay("momentum", momentum);
      return self();
    }

    /** Newton–Schulz steps of the polar factor (≥ 1). */
    public B nsSteps(int nsSteps) {
      this.nsSteps = Settings.atLeastOne("nsSteps", nsSteps);
      return self();
    }

    /** How the polar factor is computed (default {@link Polar#NEWTON_SCHULZ}). */
    public B polar(Polar polar) {
      if (polar == null) {
        throw new IllegalArgumentException("polar must not be null");
      }
      this.polar = polar;
      return self();
    }

    /** Decoupled weight decay λ ≥ 0 on the matrix parameters: W ← W − ηλW. */
    public B weightDecay(double weightDecay) {
      this.weightDecay = Settings.nonNegative("weightDecay", weightDecay);
      return self();
    }

    /** The update of every non-matrix or excluded parameter (default {@link Fallback#adam()}). */
    public B fallback(Fallback fallback) {
      if (fallback == null) {
        throw new IllegalArgumentException(
            "fallback must not be null; use Fallback.none() to freeze those parameters");
      }
      this.fallback = fallback;
      return self();
    }

    /** Routes these matrix parameters (an embedding, the classifier head) to the fallback. */
    public B exclude(Variable<?>... variables) {
      if (variables == null) {
        throw new IllegalArgumentException("exclude needs variables, got null");
      }
      for (Variable<?> v : variables) {
        if (v == null) {
          throw new IllegalArgumentException("exclude got a null variable");
        }
        excluded.add(v.op().name());
      }
      return self();
    }
  }
}
