package dev.fisheropt.optimizers;

import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * AdaFisher: Adam-style momentum preconditioned by a diagonal block-Kronecker approximation of the
 * Fisher information (Gomes, Zhang, Belilovsky, Wolf, Hosseini, "AdaFisher: Adaptive Second Order
 * Optimization via Fisher Information", ICLR 2025, arXiv 2405.16397), with L2 weight decay.
 *
 * <p>The layers to precondition are registered in a {@link LayerCollection} (their kernels, biases,
 * inputs h and pre-activations Z). For each layer the kernel keeps the diagonal factors H_D and S_D
 * (slots {@code H_D}, {@code S_D}, starting at ones), refreshed on every {@code fisherInterval}-th
 * step (counting completed steps from 0) from the batch statistics
 *
 * <pre>
 *   Ĥ_D = Σ h² / N,   Ŝ_D = Σ (∂L/∂Z)² / N
 *       (L the mean loss; conv layers: zero-padded patches over batch and positions, Ĥ_D further
 *       divided by kh·kw·cin)
 *   H_D ← γ₁·H_D + γ₂·MinMax(Ĥ_D),   S_D ← γ₁·S_D + γ₂·MinMax(Ŝ_D)
 * </pre>
 *
 * where h carries a ones feature for the bias and MinMax(v) = (v − min v)/(max v − min v + 10⁻⁶)
 * after +inf → 1, −inf → 0. Every step, for each trained parameter θ with gradient g:
 *
 * <pre>
 *   F̃ = H_D ⊗ S_D + λ
 *       (kernel rows ⊗ outputs; the bias uses H_D's last entry; 1 outside registered layers)
 *   g ← g + κθ,   m ← βm + (1−β)g,   θ ← θ − η·(m / (1 − βᵗ)) / F̃
 * </pre>
 *
 * Dense layers on [batch, time, features] count every position as a row (N = batch·time). A
 * registered layer norm follows the authors' code: H_D has two entries, [Σ_t u_t², T] / B² with u_t
 * the norm's input summed over batch and features per time step and divided by C², and S_D = (Σ
 * dY)² / B per feature; its scale divides by H_D[0]·S_D + λ, its shift by H_D[1]·S_D + λ.
 *
 * <p>There is no square root: F̃ itself is the curvature estimate. This follows the authors' code
 * exactly, including its absolute Min-Max guard and conv scaling; {@link AdaFisherW} decouples the
 * weight decay instead.
 *
 * <pre>{@code
 * LayerCollection layers = new LayerCollection()
 *     .registerFullyConnected(kernel, bias, inputs, preactivations);
 * Op step = AdaFisher.builder().layers(layers).learningRate(1e-3).build(graph).minimize(loss);
 * }</pre>
 *
 * <p><b>Loss scale.</b> H_D does not depend on the loss, and Min-Max makes S_D (built from s²·dZ²)
 * nearly independent of its scale s, so F̃ does not follow s (with the default EMA weights both
 * factors stay in [0, 1]) while m̂ is s times larger: like SGD, the step grows linearly with the
 * loss scale and η has to be retuned with it (on a float64 MLP 16→32→10, one step moves 1.05·10⁻³×,
 * 997× and 9.97·10⁵× as far at s = 10⁻³, 10³, 10⁶ as at s = 1; docs/reliability.md). The absolute
 * guard 10⁻⁶ adds a small dependence: MinMax(s²v) = (v − min v) / (max v − min v + 10⁻⁶/s²), so for
 * statistics of spread below about 10⁻⁶/s² S_D shrinks toward 0 and F̃ toward λ. A ×1000 gradient
 * spike enters m with weight 1 − β and decays as βᵗ: the spike step and the next were 185× and 162×
 * the unspiked ones, the 20th after still 21×. Unscale the gradients (or divide η by s) before
 * AdaFisher sees a scaled loss.
 *
 * <p>Slots: {@code exp_avg} for every trained parameter, {@code H_D} and {@code S_D} for registered
 * kernels. Hyperparameter variables: {@code learning_rate}, {@code beta}, {@code factor_ema_old},
 * {@code factor_ema_new}, {@code damping}, {@code weight_decay}. Defaults: η 1e-3, β 0.9, (γ₁, γ₂)
 * (0.08, 0.008), λ 1e-3, {@code fisherInterval} 100, κ 0.
 */
public final class AdaFisher extends AdaFisherBase {
  public static final String NAME_DEFAULT = "AdaFisher";
  public static final double LEARNING_RATE_DEFAULT = 1e-3;
  public static final double BETA_DEFAULT = 0.9;
  public static final double FACTOR_EMA_OLD_DEFAULT = 0.08;
  public static final double FACTOR_EMA_NEW_DEFAULT = 0.008;
  public static final double DAMPING_DEFAULT = 1e-3;
  public static final int FISHER_INTERVAL_DEFAULT = 100;
  public static final double WEIGHT_DECAY_DEFAULT = 0.0;

  /** AdaFisher with every setting at its default and no registered layers. */
  public AdaFisher(Graph graph) {
    this(graph, builder());
  }

  private AdaFisher(Graph graph, Builder b) {
    super(graph, b);
  }

  /** Settings starting at every default. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  <T extends TFloating> Operand<T> regularizedGradient(
      Ops tf, Operand<T> gradient, Operand<T> parameter, Operand<T> weightDecay) {
    return tf.math.add(gradient, tf.math.mul(weightDecay, parameter));
  }

  @Override
  <T extends TFloating> Operand<T> decayedStep(
      Ops tf,
      Operand<T> parameter,
      Operand<T> learningRate,
      Operand<T> direction,
      Operand<T> weightDecay) {
    return tf.math.sub(parameter, tf.math.mul(learningRate, direction));
  }

  /** Settings of {@link AdaFisher}; every setter validates its value at once. */
  public static final class Builder extends AdaFisherBase.Builder<Builder> {
    private Builder() {
      super(NAME_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }

    /** Builds the optimizer in {@code graph}. */
    public AdaFisher build(Graph graph) {
      return new AdaFisher(graph, this);
    }
  }
}
