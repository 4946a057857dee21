package dev.fisheropt.examples;

import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.AdaFisher;
import dev.fisheropt.optimizers.InverseRoot;
import dev.fisheropt.optimizers.Polar;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The command line of {@code compare}, parsed with picocli. {@link #parse} rejects unknown flags,
 * missing or malformed values and out-of-range numbers with an {@link IllegalArgumentException}
 * whose message names the flag; {@link #usage()} lists every flag with its default.
 */
public record CompareOptions(
    List<OptimizerChoice> optimizers,
    Model.Architecture model,
    int hidden,
    int epochs,
    int batchSize,
    int trainLimit,
    int testLimit,
    long seed,
    Map<OptimizerChoice, Double> learningRates,
    OptimizerChoice.Tuning tuning,
    int evalEvery,
    boolean xla,
    Path data,
    Path out,
    boolean help,
    int validation,
    boolean tune,
    int tuneSteps,
    List<Double> tuneFactors,
    int seeds,
    double target,
    LearningRates schedule,
    Task task,
    long steps,
    Gpt.Size lmSize,
    int sampleLength,
    int workers,
    int shards) {

  /** The workload: which model is trained on which data. */
  public enum Task {
    /** A classifier ({@code --model}) on Fashion-MNIST, {@code --epochs} passes. */
    FASHION,
    /** A GPT-style byte-level language model on Debian's fortunes, {@code --steps} steps. */
    LM
  }

  /** How the learning rate moves over a run. */
  public enum LearningRates {
    /**
     * Linear warmup over the first {@link #WARMUP_FRACTION} of the run's steps, then cosine decay
     * to {@link #FINAL_FRACTION} of the peak at the last step.
     */
    WARMUP_COSINE,
    /** The peak rate throughout. */
    CONSTANT;

    public static final double WARMUP_FRACTION = 0.05;
    public static final double FINAL_FRACTION = 0.1;

    /** The schedule of a run of {@code totalSteps} steps peaking at {@code peak}. */
    public Schedule of(double peak, long totalSteps) {
      if (this == CONSTANT) {
        return Schedule.constant(peak);
      }
      long warmup = Math.round(WARMUP_FRACTION * totalSteps);
      return Schedule.warmupCosine(
          peak, Math.min(warmup, totalSteps - 1), Math.max(totalSteps, 1), FINAL_FRACTION * peak);
    }
  }

  public static final int EPOCHS_DEFAULT = 1;
  public static final int BATCH_DEFAULT = 128;
  public static final int HIDDEN_DEFAULT = 256;
  public static final int EVAL_EVERY_DEFAULT = 50;
  public static final long SEED_DEFAULT = 1;
  public static final Path OUT_DEFAULT = Path.of("compare-out");
  public static final int VALIDATION_DEFAULT = 5000;
  public static final int TUNE_STEPS_DEFAULT = 150;
  public static final List<Double> TUNE_FACTORS_DEFAULT = List.of(0.25, 0.5, 1.0, 2.0, 4.0);

  /** Language-model defaults: chosen by measurement so that all six optimizers take minutes. */
  public static final int LM_D_MODEL_DEFAULT = 64;

  public static final int LM_LAYERS_DEFAULT = 2;
  public static final int LM_HEADS_DEFAULT = 4;
  public static final int LM_CONTEXT_DEFAULT = 64;
  public static final int LM_BATCH_DEFAULT = 16;
  public static final long LM_STEPS_DEFAULT = 300;

  /** Validation sequences of the language model ({@code --context} tokens each). */
  public static final int LM_VALIDATION_DEFAULT = 64;

  public static final int LM_SAMPLE_DEFAULT = 240;

  /** The fallback target (validation accuracy) when Adam is not in the run. */
  public static final double TARGET_FALLBACK = 0.88;

  /** The language model's fallback target (validation loss, nats) when Adam is not in the run. */
  public static final double LM_TARGET_FALLBACK = 2.5;

  /** The learning rate {@code choice} trains with. */
  public double learningRate(OptimizerChoice choice) {
    return learningRates.getOrDefault(choice, choice.defaultLearningRate());
  }

  /** Parses {@code args}; a bad command line throws with a message that names the flag. */
  public static CompareOptions parse(String... args) {
    Flags flags = new Flags();
    CommandLine line = commandLine(flags);
    try {
      line.parseArgs(args);
      return flags.options();
    } catch (ParameterException e) {
      throw new IllegalArgumentException(e.getMessage() + " (try --help)", e);
    }
  }

  /** The {@code --help} text: every flag with its default. */
  public static String usage() {
    StringWriter text = new StringWriter();
    commandLine(new Flags()).usage(new PrintWriter(text), CommandLine.Help.Ansi.OFF);
    return text.toString();
  }

  /**
   * A picocli command line over {@code flags} with the converters every command of the main job
   * shares (optimizer names, schedules, polar methods, tasks, models: lower-case with clear
   * errors).
   */
  static CommandLine commandLine(Object flags) {
    CommandLine line = new CommandLine(flags);
    line.setCaseInsensitiveEnumValuesAllowed(true);
    line.registerConverter(
        OptimizerChoice.class,
        name -> {
          try {
            return OptimizerChoice.parse(name);
          } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
          }
        });
    line.registerConverter(
        LearningRates.class,
        name ->
            switch (name.toLowerCase(Locale.ROOT)) {
              case "warmup-cosine" -> LearningRates.WARMUP_COSINE;
              case "constant" -> LearningRates.CONSTANT;
              default ->
                  throw new CommandLine.TypeConversionException(
                      "expected warmup-cosine or constant, got '" + name + "'");
            });
    line.registerConverter(
        Polar.class,
        name ->
            switch (name.toLowerCase(Locale.ROOT)) {
              case "newton-schulz" -> Polar.NEWTON_SCHULZ;
              case "polar-express" -> Polar.POLAR_EXPRESS;
              default ->
                  throw new CommandLine.TypeConversionException(
                      "expected newton-schulz or polar-express, got '" + name + "'");
            });
    line.registerConverter(
        InverseRoot.class,
        name ->
            switch (name.toLowerCase(Locale.ROOT)) {
              case "eigh" -> InverseRoot.EIGH;
              case "native-eigh" -> InverseRoot.NATIVE_EIGH;
              case "newton" -> InverseRoot.NEWTON;
              default ->
                  throw new CommandLine.TypeConversionException(
                      "expected eigh, native-eigh or newton, got '" + name + "'");
            });
    line.registerConverter(
        Task.class,
        name ->
            switch (name.toLowerCase(Locale.ROOT)) {
              case "fashion" -> Task.FASHION;
              case "lm" -> Task.LM;
              default ->
                  throw new CommandLine.TypeConversionException(
                      "expected fashion or lm, got '" + name + "'");
            });
    line.registerConverter(
        Model.Architecture.class,
        name ->
            switch (name.toLowerCase(Locale.ROOT)) {
              case "cnn" -> Model.Architecture.CNN;
              case "mlp" -> Model.Architecture.MLP;
              default ->
                  throw new CommandLine.TypeConversionException(
                      "expected cnn or mlp, got '" + name + "'");
            });
    return line;
  }

  private static String optimizerNames(List<OptimizerChoice> choices) {
    return String.join(",", choices.stream().map(OptimizerChoice::flag).toList());
  }

  /** The flags as picocli fills them in; {@link #options} checks ranges and builds the record. */
  @Command(
      name = "compare",
      sortOptions = false,
      usageHelpWidth = 100,
      description =
          "Trains the same model (a classifier on Fashion-MNIST, or with --task lm a language"
              + " model on Debian's fortunes) with each chosen optimizer and compares them.")
  static final class Flags {
    @Spec CommandSpec spec;

    @Option(
        names = "--task",
        paramLabel = "fashion|lm",
        description =
            "the workload: a classifier on Fashion-MNIST (default), or a GPT-style byte-level"
                + " language model on Debian's fortunes")
    Task task = Task.FASHION;

    @Option(
        names = "--optimizers",
        paramLabel = "LIST",
        description = "comma-separated, from: ${compare.all} (default: ${compare.defaults})")
    String optimizers = optimizerNames(OptimizerChoice.defaults());

    @Option(
        names = "--model",
        paramLabel = "cnn|mlp",
        description = "the classifier (default: cnn)")
    Model.Architecture model = Model.Architecture.CNN;

    @Option(
        names = "--hidden",
        paramLabel = "N",
        description = "hidden width of the MLP (default: ${DEFAULT-VALUE})")
    int hidden = HIDDEN_DEFAULT;

    @Option(
        names = "--epochs",
        paramLabel = "N",
        description = "passes over the training set (default: ${DEFAULT-VALUE})")
    int epochs = EPOCHS_DEFAULT;

    @Option(
        names = "--batch",
        paramLabel = "N",
        description = "batch size, images or sequences (default: 128; lm: 16)")
    Integer batch;

    @Option(
        names = "--steps",
        paramLabel = "N",
        description = "lm: training steps of each run (default: ${DEFAULT-VALUE})")
    long steps = LM_STEPS_DEFAULT;

    @Option(
        names = "--d-model",
        paramLabel = "N",
        description = "lm: width of the residual stream (default: ${DEFAULT-VALUE})")
    int dModel = LM_D_MODEL_DEFAULT;

    @Option(
        names = "--layers",
        paramLabel = "N",
        description = "lm: transformer blocks (default: ${DEFAULT-VALUE})")
    int layers = LM_LAYERS_DEFAULT;

    @Option(
        names = "--heads",
        paramLabel = "N",
        description = "lm: attention heads, dividing --d-model (default: ${DEFAULT-VALUE})")
    int heads = LM_HEADS_DEFAULT;

    @Option(
        names = "--context",
        paramLabel = "N",
        description = "lm: sequence length in bytes (default: ${DEFAULT-VALUE})")
    int context = LM_CONTEXT_DEFAULT;

    @Option(
        names = "--sample",
        paramLabel = "N",
        description =
            "lm: bytes of text each trained model writes (temperature 0.8, fixed seed; 0: none;"
                + " default: ${DEFAULT-VALUE})")
    int sample = LM_SAMPLE_DEFAULT;

    @Option(
        names = "--train-limit",
        paramLabel = "N",
        description = "use the first N training images only (default: all 60000)")
    int trainLimit = Integer.MAX_VALUE;

    @Option(
        names = "--test-limit",
        paramLabel = "N",
        description = "evaluate on the first N test images only (default: all 10000)")
    int testLimit = Integer.MAX_VALUE;

    @Option(
        names = "--seed",
        paramLabel = "N",
        description = "initial weights and shuffling (default: ${DEFAULT-VALUE})")
    long seed = SEED_DEFAULT;

    @Option(
        names = "--lr",
        paramLabel = "NAME=RATE",
        split = ",",
        description =
            "learning rates, e.g. --lr adam=2e-3,muon=0.01 (defaults: ${compare.rates}; lm:"
                + " ${compare.lmRates})")
    Map<OptimizerChoice, Double> rates = new EnumMap<>(OptimizerChoice.class);

    @Option(
        names = "--fismo-interval",
        paramLabel = "K",
        description =
            "FISMO recomputes its preconditioner every K steps (default: ${DEFAULT-VALUE})")
    int fismoInterval = OptimizerChoice.Tuning.FISMO_INTERVAL_DEFAULT;

    @Option(
        names = "--polar",
        paramLabel = "METHOD",
        description =
            "polar factor of Muon and FISMO: newton-schulz (Muon's quintic) or polar-express"
                + " (per-step minimax quintics); default: newton-schulz")
    Polar polar = Polar.NEWTON_SCHULZ;

    @Option(
        names = "--inverse-root",
        paramLabel = "METHOD",
        description =
            "FISMO's factor roots: eigh (TensorFlow's SelfAdjointEigV2), native-eigh (LAPACK's"
                + " syevd through the native op library, CPU) or newton (matmul-only); default:"
                + " eigh")
    InverseRoot inverseRoot = InverseRoot.EIGH;

    @Option(
        names = "--adafisher-interval",
        paramLabel = "K",
        description =
            "AdaFisher(W) refresh their factors every K steps (default: ${DEFAULT-VALUE})")
    int adaFisherInterval = OptimizerChoice.Tuning.ADAFISHER_INTERVAL;

    @Option(
        names = "--adafisher-ema",
        paramLabel = "OLD,NEW",
        split = ",",
        description =
            "AdaFisher(W) factor refresh D ← OLD·D + NEW·MinMax(D̂) (default: the authors'"
                + " 0.08,0.008)")
    List<Double> adaFisherEma =
        List.of(AdaFisher.FACTOR_EMA_OLD_DEFAULT, AdaFisher.FACTOR_EMA_NEW_DEFAULT);

    @Option(
        names = "--eval-every",
        paramLabel = "N",
        description = "evaluate every N steps, and at the end (default: ${DEFAULT-VALUE})")
    int evalEvery = EVAL_EVERY_DEFAULT;

    @Option(
        names = "--validation",
        paramLabel = "N",
        description =
            "hold out N training images (at most a fifth of them) for validation: evaluations,"
                + " tuning and the time to target use them; the test set only reports (default:"
                + " 5000); lm: N validation sequences of --context bytes from the validation split"
                + " (default: 64)")
    Integer validation;

    @Option(
        names = "--schedule",
        paramLabel = "warmup-cosine|constant",
        description =
            "learning-rate schedule of every optimizer: warmup over 5% of the steps, cosine decay"
                + " to 10% of the peak at the end (default), or constant")
    LearningRates schedule = LearningRates.WARMUP_COSINE;

    @Option(
        names = "--tune",
        description =
            "first sweep each optimizer's learning rate (its rate times each --tune-factors) on"
                + " --tune-steps steps, choose by validation loss, then run with the chosen"
                + " rates; writes tuning.csv and tuning.md")
    boolean tune;

    @Option(
        names = "--tune-steps",
        paramLabel = "N",
        description = "steps of each tuning trial (default: ${DEFAULT-VALUE})")
    int tuneSteps = TUNE_STEPS_DEFAULT;

    @Option(
        names = "--tune-factors",
        paramLabel = "LIST",
        split = ",",
        description = "multiples of each rate to try (default: 0.25,0.5,1,2,4)")
    List<Double> tuneFactors = new ArrayList<>(TUNE_FACTORS_DEFAULT);

    @Option(
        names = "--seeds",
        paramLabel = "N",
        description =
            "runs per optimizer, seeds --seed, --seed+1, ... (initial weights and batch order);"
                + " the table gives mean ± standard deviation (default: ${DEFAULT-VALUE})")
    int seeds = 1;

    @Option(
        names = "--target",
        paramLabel = "ACC",
        description =
            "validation accuracy (lm: validation loss in nats) whose first crossing is the time to"
                + " target (default: Adam's mean final value in this run; 0.88 or 2.5 without"
                + " Adam)")
    double target = Double.NaN;

    @Option(
        names = "--workers",
        paramLabel = "N",
        description =
            "train data-parallel in N worker processes, each on 1/N of every batch (bash"
                + " run-compare.sh --workers N starts them; task 0 evaluates and writes the"
                + " outputs; default: ${DEFAULT-VALUE}, in this process)")
    int workers = 1;

    @Option(
        names = "--shards",
        paramLabel = "S",
        description =
            "reduce every batch as S equal shards, S/N in each worker's graph (the model built"
                + " once per shard, one loss each): --workers 1 --shards 2 computes bit for bit"
                + " what --workers 2 does (default: the number of workers)")
    int shards = 0;

    @Option(names = "--xla", description = "compile the training step with XLA (global JIT)")
    boolean xla;

    @Option(
        names = "--data",
        paramLabel = "DIR",
        description =
            "the four Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist); lm:"
                + " the fortune files (default: /usr/share/games/fortunes)")
    Path data;

    @Option(
        names = "--out",
        paramLabel = "DIR",
        description = "where the CSV, PNG and TensorBoard logs go (default: ${DEFAULT-VALUE})")
    Path out = OUT_DEFAULT;

    @Option(
        names = {"-h", "--help"},
        usageHelp = true,
        description = "this text")
    boolean help;

    static {
      System.setProperty("compare.all", optimizerNames(Arrays.asList(OptimizerChoice.values())));
      System.setProperty("compare.defaults", optimizerNames(OptimizerChoice.defaults()));
      System.setProperty(
          "compare.lmRates",
          String.join(
              ", ",
              Arrays.stream(OptimizerChoice.values())
                  .map(c -> c.flag() + "=" + LanguageModelCompare.DEFAULT_RATES.get(c))
                  .toList()));
      System.setProperty(
          "compare.rates",
          String.join(
              ", ",
              Arrays.stream(OptimizerChoice.values())
                  .map(c -> c.flag() + "=" + c.defaultLearningRate())
                  .toList()));
    }

    private ParameterException error(String message) {
      return new ParameterException(spec.commandLine(), message);
    }

    private int positive(String flag, int value) {
      if (value < 1) {
        throw error(flag + " must be a positive integer, got " + value);
      }
      return value;
    }

    CompareOptions options() {
      LinkedHashSet<OptimizerChoice> chosen = new LinkedHashSet<>();
      for (String name : optimizers.split(",")) {
        if (!name.isBlank()) {
          try {
            chosen.add(OptimizerChoice.parse(name));
          } catch (IllegalArgumentException e) {
            throw error("--optimizers: " + e.getMessage());
          }
        }
      }
      if (chosen.isEmpty()) {
        throw error("--optimizers names no optimizer");
      }
      for (Map.Entry<OptimizerChoice, Double> e : rates.entrySet()) {
        double rate = e.getValue();
        if (!(rate > 0) || Double.isInfinite(rate)) {
          throw error(
              "--lr "
                  + e.getKey().flag()
                  + ": the learning rate must be positive and finite, got "
                  + rate);
        }
      }
      boolean lm = task == Task.LM;
      int batch = this.batch != null ? this.batch : lm ? LM_BATCH_DEFAULT : BATCH_DEFAULT;
      int validation =
          this.validation != null
              ? this.validation
              : lm ? LM_VALIDATION_DEFAULT : VALIDATION_DEFAULT;
      Path data =
          this.data != null
              ? this.data
              : lm ? Fortunes.DEBIAN_DIRECTORY : FashionMnist.DEBIAN_DIRECTORY;
      positive("--hidden", hidden);
      positive("--epochs", epochs);
      positive("--batch", batch);
      if (steps < 1) {
        throw error("--steps must be a positive integer, got " + steps);
      }
      positive("--d-model", dModel);
      positive("--layers", layers);
      positive("--heads", heads);
      positive("--context", context);
      if (dModel % heads != 0) {
        throw error("--d-model " + dModel + " is not a multiple of --heads " + heads);
      }
      if (sample < 0) {
        throw error("--sample must be 0 or more, got " + sample);
      }
      positive("--train-limit", trainLimit);
      positive("--test-limit", testLimit);
      positive("--fismo-interval", fismoInterval);
      positive("--adafisher-interval", adaFisherInterval);
      if (adaFisherEma.size() != 2 || adaFisherEma.stream().anyMatch(w -> !(w >= 0 && w <= 1))) {
        throw error("--adafisher-ema takes two weights in [0, 1], OLD,NEW; got " + adaFisherEma);
      }
      positive("--eval-every", evalEvery);
      positive("--validation", validation);
      positive("--tune-steps", tuneSteps);
      positive("--seeds", seeds);
      if (tuneFactors.isEmpty()) {
        throw error("--tune-factors names no factor");
      }
      for (double f : tuneFactors) {
        if (!(f > 0) || Double.isInfinite(f)) {
          throw error("--tune-factors must be positive and finite, got " + f);
        }
      }
      if (lm && !Double.isNaN(target) && !(target > 0 && !Double.isInfinite(target))) {
        throw error("--target must be a positive validation loss (nats), got " + target);
      }
      if (!lm && !Double.isNaN(target) && !(target > 0 && target <= 1)) {
        throw error("--target must be an accuracy in (0, 1], got " + target);
      }
      if (!lm && trainLimit < batch) {
        throw error(
            "--train-limit " + trainLimit + " is smaller than one batch (--batch " + batch + ")");
      }
      positive("--workers", workers);
      if (workers > 1) {
        if (lm) {
          throw error("--workers: the language-model task (--task lm) runs in one process only");
        }
        if (tune) {
          throw error(
              "--tune with --workers is not supported: tune in one process, then pass the chosen"
                  + " rates with --lr");
        }
        if (xla) {
          throw error(
              "--xla with --workers is not supported (the workers' sessions are not XLA's)");
        }
        if (batch % workers != 0) {
          throw error(
              "--batch "
                  + batch
                  + " does not split equally between --workers "
                  + workers
                  + " ("
                  + batch / workers
                  + " images each would leave "
                  + batch % workers
                  + "): use a batch that is a multiple of "
                  + workers);
        }
      }
      if (shards == 0) {
        shards = workers;
      }
      positive("--shards", shards);
      if (shards % workers != 0) {
        throw error(
            "--shards "
                + shards
                + " is not a multiple of --workers "
                + workers
                + ": every worker builds the same number of shards");
      }
      if (shards > 1 && lm) {
        throw error("--shards: the language-model task (--task lm) trains on whole batches only");
      }
      if (!lm && batch % shards != 0) {
        throw error(
            "--batch "
                + batch
                + " does not split into --shards "
                + shards
                + " equal parts: use a batch that is a multiple of "
                + shards);
      }
      return new CompareOptions(
          new ArrayList<>(chosen),
          model,
          hidden,
          epochs,
          batch,
          trainLimit,
          testLimit,
          seed,
          Map.copyOf(rates),
          new OptimizerChoice.Tuning(
              fismoInterval,
              adaFisherInterval,
              adaFisherEma.get(0),
              adaFisherEma.get(1),
              polar,
              inverseRoot,
              Double.NaN),
          evalEvery,
          xla,
          data,
          out,
          help,
          validation,
          tune,
          tuneSteps,
          List.copyOf(tuneFactors),
          seeds,
          target,
          schedule,
          task,
          steps,
          new Gpt.Size(dModel, layers, heads, context, batch),
          sample,
          workers,
          shards);
    }
  }
}
