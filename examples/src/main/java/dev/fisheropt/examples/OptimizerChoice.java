package dev.fisheropt.examples;

import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.AdaFisher;
import dev.fisheropt.optimizers.AdaFisherW;
import dev.fisheropt.optimizers.ElementwiseOptimizer;
import dev.fisheropt.optimizers.Fallback;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.Frog;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.InverseRoot;
import dev.fisheropt.optimizers.LayerCollection;
import dev.fisheropt.optimizers.Muon;
import dev.fisheropt.optimizers.Polar;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.tensorflow.Graph;
import org.tensorflow.op.core.Variable;

/**
 * The optimizers the comparison can run, and how each is built for the model: the one place that
 * names optimizer classes. Every choice gets a {@link LayerCollection} of the model (AdaFisher and
 * FROG need it; {@link #layersOf} says which) and a learning rate; {@link #defaultLearningRate} is
 * what {@code compare} uses when {@code --lr} does not say otherwise.
 */
public enum OptimizerChoice {
  // Default rates: chosen by the tuning run in docs/benchmarks.md (`--tune`, 150-step trials under
  // warmup + cosine, lowest validation loss, seed 1).
  ADAM("adam", 0.016, true) {
    @Override
    public GuardedOptimizer build(
        Graph graph,
        LayerCollection layers,
        List<Variable<?>> fallbackMatrices,
        Schedule learningRate,
        Tuning tuning) {
      return ElementwiseOptimizer.builder(Fallback.adam())
          .name("Adam")
          .learningRate(learningRate)
          .build(graph);
    }
  },
  // SGD with heavy-ball momentum 0.9: the first-order method FROG is measured against (FROG's own
  // update of unregistered parameters has this form).
  MOMENTUM("momentum", 0.05, false) {
    @Override
    public GuardedOptimizer build(
        Graph graph,
        LayerCollection layers,
        List<Variable<?>> fallbackMatrices,
        Schedule learningRate,
        Tuning tuning) {
      return ElementwiseOptimizer.builder(
              Fallback.momentum(learningRate.peakValue(), Fallback.MOMENTUM_DEFAULT))
          .name("Momentum")
          .learningRate(learningRate)
          .build(graph);
    }
  },
  MUON("muon", 0.08, true) {
    @Override
    public GuardedOptimizer build(
        Graph graph,
        LayerCollection layers,
        List<Variable<?>> fallbackMatrices,
        Schedule learningRate,
        Tuning tuning) {
      return Muon.builder()
          .name("Muon")
          .learningRate(learningRate)
          .polar(tuning.polar())
          .fallback(tuning.fallback())
          .exclude(fallbackMatrices.toArray(new Variable<?>[0]))
          .build(graph);
    }
  },
  FISMO("fismo", 0.04, true) {
    @Override
    public GuardedOptimizer build(
        Graph graph,
        LayerCollection layers,
        List<Variable<?>> fallbackMatrices,
        Schedule learningRate,
        Tuning tuning) {
      return Fismo.builder()
          .name("Fismo")
          .learningRate(learningRate)
          .preconditionerInterval(tuning.fismoInterval())
          .polar(tuning.polar())
          .inverseRoot(tuning.inverseRoot())
          .fallback(tuning.fallback())
          .exclude(fallbackMatrices.toArray(new Variable<?>[0]))
          .build(graph);
    }
  },
  ADAFISHER("adafisher", Tuning.ADAFISHER_LEARNING_RATE, true) {
    @Override
    public GuardedOptimizer build(
        Graph graph,
        LayerCollection layers,
        List<Variable<?>> fallbackMatrices,
        Schedule learningRate,
        Tuning tuning) {
      return AdaFisher.builder()
          .name("AdaFisher")
          .layers(layers)
          .learningRate(learningRate)
          .fisherInterval(tuning.adaFisherInterval())
          .factorEma(tuning.adaFisherEmaOld(), tuning.adaFisherEmaNew())
          .build(graph);
    }
  },
  ADAFISHERW("adafisherw", Tuning.ADAFISHER_LEARNING_RATE, true) {
    @Override
    public GuardedOptimizer build(
        Graph graph,
        LayerCollection layers,
        List<Variable<?>> fallbackMatrices,
        Schedule learningRate,
        Tuning tuning) {
      return AdaFisherW.builder()
          .name("AdaFisherW")
          .layers(layers)
          .learningRate(learningRate)
          .fisherInterval(tuning.adaFisherInterval())
          .factorEma(tuning.adaFisherEmaOld(), tuning.adaFisherEmaNew())
          .weightDecay(Tuning.ADAFISHERW_WEIGHT_DECAY)
          .build(graph);
    }
  },
  FROG("frog", 8e-3, true) {
    @Override
    public GuardedOptimizer build(
        Graph graph,
        LayerCollection layers,
        List<Variable<?>> fallbackMatrices,
        Schedule learningRate,
        Tuning tuning) {
      return Frog.builder().name("Frog").layers(layers).learningRate(learningRate).build(graph);
    }

    // The classifier head is left to FROG's SGD-with-momentum rule. One epoch, 3 seeds, constant
    // rate, test accuracy with the head preconditioned / not: CNN 83.5% / 86.6% at η = 1e-3,
    // 80.5% / 86.6% at 2e-3; MLP 80.2% / 84.7% at 1e-3, 63.7% / 83.2% at 2e-3 (docs/frog.md).
    @Override
    public LayerCollection layersOf(Layered model) {
      return model.hiddenLayers();
    }
  };

  /**
   * Settings beyond the learning rate. {@code fismoInterval}: FISMO recomputes its factors and
   * their eigendecompositions every k steps; 10 by default in {@code compare}, where every step
   * would make the eigendecompositions dominate (see docs/benchmarks.md). {@code
   * adaFisherInterval}: AdaFisher(W) refresh their diagonal factors every k steps ({@link
   * #ADAFISHER_INTERVAL} by default: a refresh costs O(B·(m+n)) per layer, so a short interval is
   * cheap and keeps the factors current within a one-epoch run). {@code adaFisherEmaOld}, {@code
   * adaFisherEmaNew}: the refresh D ← old·D + new·MinMax(D̂), the authors' 0.08, 0.008 by default
   * (docs/adafisher.md compares them with the paper's form). {@code polar}: how Muon and FISMO
   * compute their polar factor ({@link Polar#NEWTON_SCHULZ} by default). {@code
   * fallbackLearningRate}: the peak rate of the Adam fallback of Muon and FISMO (the embeddings and
   * head of the language model, the vectors everywhere); NaN keeps the library's 1e-3.
   */
  public record Tuning(
      int fismoInterval,
      int adaFisherInterval,
      double adaFisherEmaOld,
      double adaFisherEmaNew,
      Polar polar,
      InverseRoot inverseRoot,
      double fallbackLearningRate) {
    public static final int FISMO_INTERVAL_DEFAULT = 10;
    public static final int ADAFISHER_INTERVAL = 10;
    public static final double ADAFISHER_LEARNING_RATE = 1e-3;

    /**
     * AdaFisherW's decoupled decay (θ ← θ − η(direction + κθ)), AdamW's usual 1e-2; with κ = 0 it
     * would be AdaFisher step for step.
     */
    public static final double ADAFISHERW_WEIGHT_DECAY = 1e-2;

    public static Tuning defaults() {
      return new Tuning(
          FISMO_INTERVAL_DEFAULT,
          ADAFISHER_INTERVAL,
          AdaFisher.FACTOR_EMA_OLD_DEFAULT,
          AdaFisher.FACTOR_EMA_NEW_DEFAULT,
          Polar.NEWTON_SCHULZ,
          Fismo.INVERSE_ROOT_DEFAULT,
          Double.NaN);
    }

    /** The defaults with FISMO's preconditioner recomputed every {@code k} steps. */
    public static Tuning fismoEvery(int k) {
      Tuning d = defaults();
      return new Tuning(
          k,
          d.adaFisherInterval(),
          d.adaFisherEmaOld(),
          d.adaFisherEmaNew(),
          d.polar(),
          d.inverseRoot(),
          Double.NaN);
    }

    /** These settings with FISMO's factor roots computed by {@code inverseRoot}. */
    public Tuning withInverseRoot(InverseRoot inverseRoot) {
      return new Tuning(
          fismoInterval,
          adaFisherInterval,
          adaFisherEmaOld,
          adaFisherEmaNew,
          polar,
          inverseRoot,
          fallbackLearningRate);
    }

    /** These settings with the Adam fallback of Muon and FISMO at peak rate {@code rate}. */
    public Tuning withFallbackLearningRate(double rate) {
      return new Tuning(
          fismoInterval,
          adaFisherInterval,
          adaFisherEmaOld,
          adaFisherEmaNew,
          polar,
          inverseRoot,
          rate);
    }

    /** The fallback of Muon and FISMO: Adam at {@link #fallbackLearningRate}, or the default. */
    Fallback fallback() {
      return Double.isNaN(fallbackLearningRate)
          ? Fallback.adam()
          : Fallback.adam(
              fallbackLearningRate,
              Fallback.BETA1_DEFAULT,
              Fallback.BETA2_DEFAULT,
              Fallback.EPSILON_DEFAULT);
    }
  }

  private final String flag;
  private final double defaultLearningRate;
  private final boolean inDefaultSet;

  OptimizerChoice(String flag, double defaultLearningRate, boolean inDefaultSet) {
    this.flag = flag;
    this.defaultLearningRate = defaultLearningRate;
    this.inDefaultSet = inDefaultSet;
  }

  /**
   * Builds the optimizer (its name scope is {@link #displayName()}) in {@code graph} with the
   * learning-rate schedule {@code learningRate} ({@link Schedule#constant} for a fixed rate).
   */
  public GuardedOptimizer build(
      Graph graph, LayerCollection layers, Schedule learningRate, Tuning tuning) {
    return build(graph, layers, List.of(), learningRate, tuning);
  }

  /**
   * As {@link #build(Graph, LayerCollection, Schedule, Tuning)}, with {@code fallbackMatrices}
   * (embeddings, an output head: {@link Layered#fallbackMatrices()}) sent to the fallback rule by
   * FISMO and Muon through their {@code exclude}; the other optimizers ignore the list.
   */
  public abstract GuardedOptimizer build(
      Graph graph,
      LayerCollection layers,
      List<Variable<?>> fallbackMatrices,
      Schedule learningRate,
      Tuning tuning);

  /**
   * The layers of {@code model} to hand to {@link #build}: every registered layer ({@link
   * Layered#layers()}), except for FROG, which gets all but the output head ({@link
   * Layered#hiddenLayers()}).
   */
  public LayerCollection layersOf(Layered model) {
    return model.layers();
  }

  /**
   * The name used on the command line: adam, momentum, muon, fismo, adafisher, adafisherw, frog.
   */
  public String flag() {
    return flag;
  }

  public double defaultLearningRate() {
    return defaultLearningRate;
  }

  /** The name shown in tables, plots and the CSV. */
  public String displayName() {
    return switch (this) {
      case ADAM -> "Adam";
      case MOMENTUM -> "SGD+momentum";
      case MUON -> "Muon";
      case FISMO -> "FISMO";
      case ADAFISHER -> "AdaFisher";
      case ADAFISHERW -> "AdaFisherW";
      case FROG -> "FROG";
    };
  }

  /** The optimizers {@code compare} runs when {@code --optimizers} is not given. */
  public static List<OptimizerChoice> defaults() {
    return Arrays.stream(values()).filter(c -> c.inDefaultSet).toList();
  }

  /** The choice named {@code flag} (case-insensitive). */
  public static OptimizerChoice parse(String flag) {
    String wanted = flag.trim().toLowerCase(Locale.ROOT);
    for (OptimizerChoice c : values()) {
      if (c.flag.equals(wanted)) {
        return c;
      }
    }
    throw new IllegalArgumentException(
        "unknown optimizer '"
            + flag
            + "'; choose from "
            + String.join(", ", Arrays.stream(values()).map(OptimizerChoice::flag).toList()));
  }
}
