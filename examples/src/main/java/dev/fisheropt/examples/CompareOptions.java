package dev.fisheropt.examples;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The command line of {@code compare}. {@link #parse} rejects unknown flags, missing or malformed
 * values and out-of-range numbers with an {@link IllegalArgumentException} whose message names the
 * flag; {@link #USAGE} lists every flag with its default.
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
    boolean help) {

  public static final int EPOCHS_DEFAULT = 1;
  public static final int BATCH_DEFAULT = 128;
  public static final int HIDDEN_DEFAULT = 256;
  public static final int EVAL_EVERY_DEFAULT = 50;
  public static final long SEED_DEFAULT = 1;
  public static final Path OUT_DEFAULT = Path.of("compare-out");

  public static final String USAGE =
      """
      usage: compare [flags]
        --optimizers LIST   comma-separated, from: %s (default: %s)
        --model cnn|mlp     the classifier (default cnn)
        --hidden N          hidden width of the MLP (default %d)
        --epochs N          passes over the training set (default %d)
        --batch N           batch size (default %d)
        --train-limit N     train on the first N training images only (default all 60000)
        --test-limit N      evaluate on the first N test images only (default all 10000)
        --seed N            initial weights and shuffling (default %d)
        --lr NAME=RATE,...  learning rates, e.g. --lr adam=2e-3,muon=0.01 (defaults: %s)
        --fismo-interval K  FISMO recomputes its preconditioner every K steps (default %d)
        --eval-every N      test accuracy every N steps, and at the end (default %d)
        --xla               compile the training step with XLA (global JIT)
        --data DIR          the four Fashion-MNIST IDX files (default %s)
        --out DIR           where the CSV, PNG and TensorBoard logs go (default %s)
        --help              this text
      """
          .formatted(
              String.join(
                  ",", Arrays.stream(OptimizerChoice.values()).map(OptimizerChoice::flag).toList()),
              String.join(
                  ",", OptimizerChoice.defaults().stream().map(OptimizerChoice::flag).toList()),
              HIDDEN_DEFAULT,
              EPOCHS_DEFAULT,
              BATCH_DEFAULT,
              SEED_DEFAULT,
              String.join(
                  ", ",
                  Arrays.stream(OptimizerChoice.values())
                      .map(c -> c.flag() + "=" + c.defaultLearningRate())
                      .toList()),
              OptimizerChoice.Tuning.FISMO_INTERVAL_DEFAULT,
              EVAL_EVERY_DEFAULT,
              FashionMnist.DEBIAN_DIRECTORY,
              OUT_DEFAULT);

  /** The learning rate {@code choice} trains with. */
  public double learningRate(OptimizerChoice choice) {
    return learningRates.getOrDefault(choice, choice.defaultLearningRate());
  }

  public static CompareOptions parse(String... args) {
    List<OptimizerChoice> optimizers = OptimizerChoice.defaults();
    Model.Architecture model = Model.Architecture.CNN;
    int hidden = HIDDEN_DEFAULT;
    int epochs = EPOCHS_DEFAULT;
    int batch = BATCH_DEFAULT;
    int trainLimit = Integer.MAX_VALUE;
    int testLimit = Integer.MAX_VALUE;
    long seed = SEED_DEFAULT;
    Map<OptimizerChoice, Double> rates = new EnumMap<>(OptimizerChoice.class);
    int fismoInterval = OptimizerChoice.Tuning.FISMO_INTERVAL_DEFAULT;
    int evalEvery = EVAL_EVERY_DEFAULT;
    boolean xla = false;
    Path data = FashionMnist.DEBIAN_DIRECTORY;
    Path out = OUT_DEFAULT;
    boolean help = false;
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      switch (flag) {
        case "--help", "-h" -> help = true;
        case "--xla" -> xla = true;
        case "--optimizers" -> optimizers = optimizers(value(args, ++i, flag));
        case "--model" ->
            model =
                switch (value(args, ++i, flag)) {
                  case "cnn" -> Model.Architecture.CNN;
                  case "mlp" -> Model.Architecture.MLP;
                  default ->
                      throw new IllegalArgumentException(
                          "--model must be cnn or mlp, got '" + args[i] + "'");
                };
        case "--hidden" -> hidden = positive(flag, value(args, ++i, flag));
        case "--epochs" -> epochs = positive(flag, value(args, ++i, flag));
        case "--batch" -> batch = positive(flag, value(args, ++i, flag));
        case "--train-limit" -> trainLimit = positive(flag, value(args, ++i, flag));
        case "--test-limit" -> testLimit = positive(flag, value(args, ++i, flag));
        case "--seed" -> seed = integer(flag, value(args, ++i, flag));
        case "--lr" -> learningRates(value(args, ++i, flag), rates);
        case "--fismo-interval" -> fismoInterval = positive(flag, value(args, ++i, flag));
        case "--eval-every" -> evalEvery = positive(flag, value(args, ++i, flag));
        case "--data" -> data = Path.of(value(args, ++i, flag));
        case "--out" -> out = Path.of(value(args, ++i, flag));
        default ->
            throw new IllegalArgumentException("unknown argument '" + flag + "' (try --help)");
      }
    }
    if (trainLimit < batch) {
      throw new IllegalArgumentException(
          "--train-limit " + trainLimit + " is smaller than one batch (--batch " + batch + ")");
    }
    return new CompareOptions(
        optimizers,
        model,
        hidden,
        epochs,
        batch,
        trainLimit,
        testLimit,
        seed,
        Map.copyOf(rates),
        new OptimizerChoice.Tuning(fismoInterval),
        evalEvery,
        xla,
        data,
        out,
        help);
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length || args[i].startsWith("--")) {
      throw new IllegalArgumentException(flag + " needs a value (try --help)");
    }
    return args[i];
  }

  private static long integer(String flag, String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + " must be an integer, got '" + text + "'");
    }
  }

  private static int positive(String flag, String text) {
    long v = integer(flag, text);
    if (v < 1 || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(flag + " must be a positive integer, got " + text);
    }
    return (int) v;
  }

  private static List<OptimizerChoice> optimizers(String list) {
    LinkedHashSet<OptimizerChoice> chosen = new LinkedHashSet<>();
    for (String name : list.split(",")) {
      if (!name.isBlank()) {
        chosen.add(OptimizerChoice.parse(name));
      }
    }
    if (chosen.isEmpty()) {
      throw new IllegalArgumentException("--optimizers names no optimizer");
    }
    return new ArrayList<>(chosen);
  }

  private static void learningRates(String list, Map<OptimizerChoice, Double> rates) {
    for (String pair : list.split(",")) {
      String[] parts = pair.split("=", -1);
      if (parts.length != 2) {
        throw new IllegalArgumentException("--lr takes NAME=RATE pairs, got '" + pair + "'");
      }
      double rate;
      try {
        rate = Double.parseDouble(parts[1]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--lr " + parts[0] + ": '" + parts[1] + "' is not a number");
      }
      if (!(rate > 0) || Double.isInfinite(rate)) {
        throw new IllegalArgumentException(
            "--lr "
                + parts[0]
                + ": the learning rate must be positive and finite, got "
                + parts[1]);
      }
      rates.put(OptimizerChoice.parse(parts[0]), rate);
    }
  }
}
