package dev.fisheropt.optimizers;

import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * AdaFisherW: {@link AdaFisher} with decoupled weight decay (Gomes et al., ICLR 2025, arXiv
 * 2405.16397), as AdamW is to Adam.
 *
 * <p>Same factors H_D, S_D and F̃ = H_D ⊗ S_D + λ as {@link AdaFisher}; the step is
 *
 * <pre>
 *   m ← βm + (1−β)g,   θ ← θ − η·((m / (1 − βᵗ)) / F̃ + κθ)
 * </pre>
 *
 * so the decay is neither preconditioned nor part of the momentum. Settings, slots and
 * hyperparameter variables are those of {@link AdaFisher}, and so are the defaults ({@link
 * AdaFisher#LEARNING_RATE_DEFAULT} and the other {@code AdaFisher.*_DEFAULT}). As with {@link
 * AdaFisher}, the preconditioned part of the step grows linearly with the scale of the loss.
 */
public final class AdaFisherW extends AdaFisherBase {
  public static final String NAME_DEFAULT = "AdaFisherW";

  /** AdaFisherW with every setting at its default and no registered layers. */
  public AdaFisherW(Graph graph) {
    this(graph, builder());
  }

  private AdaFisherW(Graph graph, Builder b) {
    super(graph, b);
  }

  /** Settings starting at every default. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  <T extends TFloating> Operand<T> regularizedGradient(
      Ops tf, Operand<T> gradient, Operand<T> parameter, Operand<T> weightDecay) {
    return gradient;
  }

  @Override
  <T extends TFloating> Operand<T> decayedStep(
      Ops tf,
      Operand<T> parameter,
      Operand<T> learningRate,
      Operand<T> direction,
      Operand<T> weightDecay) {
    return tf.math.sub(
        parameter,
        tf.math.mul(learningRate, tf.math.add(direction, tf.math.mul(weightDecay, parameter))));
  }

  /** Settings of {@link AdaFisherW}; every setter validates its value at once. */
  public static final class Builder extends AdaFisherBase.Builder<Builder> {
    private Builder() {
      super(NAME_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }

    /** Builds the optimizer in {@code graph}. */
    public AdaFisherW build(Graph graph) {
      return new AdaFisherW(graph, this);
    }
  }
}
