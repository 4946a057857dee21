package dev.fisheropt.examples;

import dev.fisheropt.distributed.Cluster;
import dev.fisheropt.distributed.DataParallel;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.Replicas;
import dev.fisheropt.xla.Xla;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * {@code compare}: trains the same classifier on Fashion-MNIST with each chosen optimizer, from the
 * same initial weights and the same batch order, and reports how they compare.
 *
 * <p>Writes to {@code --out}: {@code curves.csv} (optimizer, seed, step, seconds, train_loss as a
 * double that reads back exactly, validation_accuracy), {@code compare.png} (loss and accuracy
 * against steps and seconds), {@code summary.md} (the final table) and {@code
 * tensorboard/<optimizer>/} event files ({@code tensorboard --logdir DIR/tensorboard}).
 *
 * <p>With {@code --workers N} it is one of N worker processes ({@code FISHEROPT_CLUSTER}, set by
 * {@code bash run-compare.sh --workers N}): every worker runs the same runs in the same order, each
 * training on its 1/N of every global batch through {@link DataParallel}; task 0 alone evaluates,
 * prints the results and writes the outputs.
 */
public final class Compare {
  private static final int LOG_EVERY = 10;
  private static final int LOG_BAR_MILLIS = 10_000;
  private static final int EVAL_CHUNK = 1000;

  /**
   * The collectives' timeout under {@code --workers}. The other workers wait in their next step's
   * all-reduce while task 0 evaluates (about a second for 5,000 validation images here), so it must
   * be well above that; but TensorFlow arms each collective's timeout with a thread that sleeps for
   * the whole timeout even when the collective is long done, so a process holds about (collectives
   * per second) × timeout threads: with 300 s, the two-worker epoch of FROG ran out of threads
   * ("Resource temporarily unavailable"). A dead worker is noticed within about a second anyway,
   * when its connection closes.
   */
  static final float COLLECTIVE_TIMEOUT_SECONDS = 30f;

  private final CompareOptions options;
  private final PrintStream out;
  private final boolean interactive;
  private final DataParallel job;

  /** The outcome of one optimizer's run with one seed. */
  public record Result(
      OptimizerChoice choice,
      double learningRate,
      long seed,
      Curve curve,
      double testAccuracy,
      double finalTrainLoss,
      double validationLoss,
      double validationAccuracy,
      double trainSeconds,
      double medianStepMillis,
      long stateBytes,
      long parameters,
      long steps) {}

  /** One tuning trial: a learning rate on the short budget, judged on the validation split. */
  public record Trial(
      OptimizerChoice choice,
      double factor,
      double learningRate,
      long steps,
      double validationLoss,
      double validationAccuracy) {}

  /**
   * One optimizer over its seeds: mean ± standard deviation of test accuracy and final training
   * loss, and the time to target (validation accuracy) over the seeds that reached it.
   */
  public record Summary(
      OptimizerChoice choice,
      double learningRate,
      List<Result> runs,
      Stats testAccuracy,
      Stats finalTrainLoss,
      double target,
      TimeToTarget toTarget) {
    static Summary of(List<Result> runs, double target) {
      return new Summary(
          runs.get(0).choice(),
          runs.get(0).learningRate(),
          runs,
          Stats.of(runs.stream().mapToDouble(Result::testAccuracy).toArray()),
          Stats.of(runs.stream().mapToDouble(Result::finalTrainLoss).toArray()),
          target,
          TimeToTarget.of(runs.stream().map(r -> r.curve().firstReaching(target)).toList()));
    }
  }

  /** The seed that fixes which training images are held out for validation, in every run. */
  static final long VALIDATION_SEED = 0x5eed;

  private List<Summary> summaries = List.of();
  private List<Trial> trials = List.of();

  public Compare(CompareOptions options, PrintStream out) {
    this(options, out, null);
  }

  /**
   * The comparison as one worker of {@code job} ({@code null}: in this process alone); {@code
   * --workers} must be the job's number of workers.
   */
  public Compare(CompareOptions options, PrintStream out, DataParallel job) {
    int workers = job == null ? 1 : job.cluster().size();
    if (options.workers() != workers) {
      throw new IllegalArgumentException(
          "--workers "
              + options.workers()
              + " needs as many worker processes, but this one "
              + (job == null
                  ? "runs alone: start it with bash run-compare.sh --workers " + options.workers()
                  : "belongs to a cluster of " + workers + ": " + job.cluster().workers()));
    }
    this.options = options;
    this.out = out;
    this.interactive = System.console() != null;
    this.job = job;
  }

  public static void main(String[] args) {
    CompareOptions options;
    try {
      options = CompareOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("compare: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (options.help()) {
      System.out.print(CompareOptions.usage());
      return;
    }
    if (System.getenv(Cluster.ENVIRONMENT_VARIABLE) != null) {
      System.exit(runWorker(options));
    }
    try {
      if (options.task() == CompareOptions.Task.LM) {
        new LanguageModelCompare(options, System.out).run();
      } else {
        new Compare(options, System.out).run();
      }
    } catch (IllegalArgumentException e) {
      System.err.println("compare: " + e.getMessage());
      System.exit(2);
    } catch (FashionMnist.DataException e) {
      System.err.println("compare: " + e.getMessage());
      System.exit(1);
    } catch (IOException e) {
      System.err.println("compare: " + e.getMessage());
      System.exit(1);
    }
  }

  /**
   * One worker of {@code --workers N}; returns the exit code. The caller must exit: a TF-Java 1.1.0
   * server cannot be stopped, and its threads would keep the process alive after a failure.
   */
  private static int runWorker(CompareOptions options) {
    String task = "task ?";
    try {
      Cluster cluster = Cluster.fromEnvironment();
      task = "task " + cluster.taskIndex();
      new Compare(options, System.out, DataParallel.start(cluster, COLLECTIVE_TIMEOUT_SECONDS))
          .run();
      return 0;
    } catch (IllegalArgumentException e) {
      System.err.println("compare (" + task + "): " + e.getMessage());
      return 2;
    } catch (IOException e) {
      System.err.println("compare (" + task + "): " + e.getMessage());
      return 1;
    } catch (RuntimeException e) {
      System.err.println("compare (" + task + ") failed:");
      e.printStackTrace();
      return 1;
    }
  }

  /** The per-optimizer summaries of the last {@link #run}. */
  public List<Summary> summaries() {
    return summaries;
  }

  /** The tuning trials of the last {@link #run} (empty without {@code --tune}). */
  public List<Trial> trials() {
    return trials;
  }

  /** Loads {@code --data} and runs the comparison on it. */
  public List<Result> run() throws IOException {
    return run(FashionMnist.load(options.data()));
  }

  /**
   * Holds out the validation split, tunes if asked (validation only), runs every chosen optimizer
   * with every seed and writes the outputs; returns the runs in order (optimizer, then seed). The
   * test split's labels are read only for the final test accuracy of each run.
   */
  public List<Result> run(FashionMnist.Data data) throws IOException {
    FashionMnist.Split all = data.train().head(options.trainLimit());
    int heldOut = Math.min(options.validation(), all.count() / 5);
    int[] order = permutation(all.count(), VALIDATION_SEED);
    FashionMnist.Split validation =
        all.select(Arrays.copyOfRange(order, all.count() - heldOut, all.count()));
    FashionMnist.Split train = all.select(Arrays.copyOf(order, all.count() - heldOut));
    if (train.count() < options.batchSize()) {
      throw new IllegalArgumentException(
          "after holding out "
              + heldOut
              + " validation images, "
              + train.count()
              + " training images are fewer than one batch");
    }
    FashionMnist.Split test = data.test().head(options.testLimit());
    Files.createDirectories(options.out());
    String layout = layoutLine();
    out.printf(
        Locale.ROOT,
        "Fashion-MNIST: %d training, %d validation, %d test images; %s, batch %d, %d epoch(s),"
            + " %s schedule, seed%s %s%s%s%n",
        train.count(),
        validation.count(),
        test.count(),
        options.model().name().toLowerCase(Locale.ROOT),
        options.batchSize(),
        options.epochs(),
        options.schedule().name().toLowerCase(Locale.ROOT).replace('_', '-'),
        options.seeds() > 1 ? "s" : "",
        options.seeds() > 1
            ? options.seed() + ".." + (options.seed() + options.seeds() - 1)
            : Long.toString(options.seed()),
        options.xla() ? ", XLA" : "",
        layout.isEmpty() ? "" : "; " + layout);
    Map<OptimizerChoice, Double> rates = new EnumMap<>(OptimizerChoice.class);
    for (OptimizerChoice choice : options.optimizers()) {
      rates.put(choice, options.learningRate(choice));
    }
    if (options.tune()) {
      rates = tune(train, validation);
    }
    long totalSteps = (long) stepsPerEpoch(train.count(), options.batchSize()) * options.epochs();
    List<Result> results = new ArrayList<>();
    Map<OptimizerChoice, List<Result>> byChoice = new EnumMap<>(OptimizerChoice.class);
    for (OptimizerChoice choice : options.optimizers()) {
      for (int k = 0; k < options.seeds(); k++) {
        long seed = options.seed() + k;
        String run = options.seeds() > 1 ? choice.flag() + "/seed-" + seed : choice.flag();
        Path logDir = reports() ? options.out().resolve("tensorboard").resolve(run) : null;
        Result r =
            train(
                choice,
                rates.get(choice),
                seed,
                totalSteps,
                train,
                validation,
                test,
                logDir,
                options.seeds() > 1 ? "seed " + seed : null);
        results.add(r);
        byChoice.computeIfAbsent(choice, c -> new ArrayList<>()).add(r);
      }
    }
    if (!reports()) {
      return results;
    }
    double target =
        defaultTarget(
            options.target(), byChoice, Result::validationAccuracy, CompareOptions.TARGET_FALLBACK);
    List<Summary> sums = new ArrayList<>();
    for (List<Result> runs : byChoice.values()) {
      sums.add(Summary.of(runs, target));
    }
    sums.sort(java.util.Comparator.comparingInt(s -> options.optimizers().indexOf(s.choice())));
    summaries = List.copyOf(sums);
    writeCsv(results, options.out().resolve("curves.csv"));
    List<Curve> means = new ArrayList<>();
    List<Curve> stds = new ArrayList<>();
    for (Summary s : summaries) {
      List<Curve> curves = s.runs().stream().map(Result::curve).toList();
      means.add(Curve.combine(s.choice().displayName(), curves, false));
      stds.add(Curve.combine(s.choice().displayName(), curves, true));
    }
    Charts.write(
        means,
        options.seeds() > 1 ? stds : null,
        "Fashion-MNIST " + options.model().name(),
        options.out().resolve("compare.png"));
    String table = (layout.isEmpty() ? "" : layout + "\n\n") + table(summaries);
    Files.writeString(options.out().resolve("summary.md"), table);
    out.println();
    out.print(table);
    out.println(
        "\nwrote "
            + options.out().resolve("curves.csv")
            + ", "
            + options.out().resolve("compare.png")
            + ", "
            + options.out().resolve("summary.md")
            + (options.tune()
                ? ", "
                    + options.out().resolve("tuning.csv")
                    + ", "
                    + options.out().resolve("tuning.md")
                : "")
            + " and "
            + options.out().resolve("tensorboard")
            + "/");
    return results;
  }

  /** Whether this process evaluates and writes the outputs: alone, or as task 0 of the workers. */
  private boolean reports() {
    return job == null || job.isChief();
  }

  /**
   * How every batch is split: across worker processes, into shards reduced as workers reduce, or
   * (empty) neither.
   */
  private String layoutLine() {
    int n = job == null ? 1 : job.cluster().size();
    int shards = options.shards();
    String split =
        shards == n
            ? ""
            : String.format(
                Locale.ROOT,
                ", reduced as %d shards of %d images",
                shards,
                options.batchSize() / shards);
    if (job == null) {
      return split.isEmpty() ? "" : "one process" + split + " (as " + shards + " workers reduce)";
    }
    return String.format(
        Locale.ROOT,
        "%d worker process%s, %d images each per batch%s (ms/step: task 0's)",
        n,
        n > 1 ? "es" : "",
        options.batchSize() / n,
        split);
  }

  /**
   * Steps per epoch: whole batches only. The last partial batch (55,000 training images in batches
   * of 128 leave 88) is dropped, with any number of workers, so that every worker count trains on
   * the very same rows and every worker on an equal share ({@link DataParallel#share}).
   */
  static int stepsPerEpoch(int trainImages, int batch) {
    return trainImages / batch;
  }

  /**
   * The learning-rate sweep: for each optimizer, its rate times each of {@code --tune-factors},
   * trained for {@code --tune-steps} steps (seed {@code --seed}, the run's schedule over those
   * steps) and judged by the validation loss at the end; the test split is not passed in at all.
   * Writes tuning.csv and tuning.md; returns the chosen rate of each optimizer.
   */
  Map<OptimizerChoice, Double> tune(FashionMnist.Split train, FashionMnist.Split validation)
      throws IOException {
    List<Trial> all = new ArrayList<>();
    Map<OptimizerChoice, Double> chosen =
        sweep(
            options,
            out,
            options::learningRate,
            (choice, factor, lr) -> {
              Result r =
                  train(
                      choice,
                      lr,
                      options.seed(),
                      options.tuneSteps(),
                      train,
                      validation,
                      null,
                      null,
                      "tune");
              return new Trial(
                  choice, factor, lr, r.steps(), r.validationLoss(), r.validationAccuracy());
            },
            all);
    trials = List.copyOf(all);
    try (PrintWriter w =
        new PrintWriter(Files.newBufferedWriter(options.out().resolve("tuning.csv")))) {
      w.println("optimizer,factor,learning_rate,steps,validation_loss,validation_accuracy,chosen");
      for (Trial t : trials) {
        w.printf(
            Locale.ROOT,
            "%s,%s,%s,%d,%.6f,%.4f,%s%n",
            t.choice().flag(),
            t.factor(),
            t.learningRate(),
            t.steps(),
            t.validationLoss(),
            t.validationAccuracy(),
            chosen.get(t.choice()) == t.learningRate());
      }
    }
    String table = tuningTable(trials, chosen);
    Files.writeString(options.out().resolve("tuning.md"), table);
    out.println();
    out.print(table);
    out.println("chosen rates as a flag: " + rateFlag(chosen));
    return chosen;
  }

  /** One tuning trial of {@code choice} at peak rate {@code lr} (its rate × {@code factor}). */
  @FunctionalInterface
  interface TrialRun {
    Trial train(OptimizerChoice choice, double factor, double lr) throws IOException;
  }

  /**
   * The sweep every task tunes with: for each optimizer, {@code baseRate} times each of {@code
   * --tune-factors}, one trial each; the lowest validation loss wins ({@link #choose}). Adds every
   * trial to {@code all} and returns the chosen rate of each optimizer.
   */
  static Map<OptimizerChoice, Double> sweep(
      CompareOptions options,
      PrintStream out,
      ToDoubleFunction<OptimizerChoice> baseRate,
      TrialRun run,
      List<Trial> all)
      throws IOException {
    out.printf(
        Locale.ROOT,
        "%nTuning: each optimizer's rate times %s, %d steps each, chosen by validation loss%n",
        options.tuneFactors(),
        options.tuneSteps());
    Map<OptimizerChoice, Double> chosen = new EnumMap<>(OptimizerChoice.class);
    for (OptimizerChoice choice : options.optimizers()) {
      List<Trial> mine = new ArrayList<>();
      for (double factor : options.tuneFactors()) {
        mine.add(run.train(choice, factor, baseRate.applyAsDouble(choice) * factor));
      }
      Trial best = mine.get(choose(mine));
      chosen.put(choice, best.learningRate());
      out.printf(
          Locale.ROOT, "%s: chose learning rate %s%n", choice.displayName(), best.learningRate());
      all.addAll(mine);
    }
    return chosen;
  }

  /** The chosen rates as the {@code --lr} flag that repeats them. */
  static String rateFlag(Map<OptimizerChoice, Double> chosen) {
    StringBuilder flag = new StringBuilder("--lr ");
    for (Map.Entry<OptimizerChoice, Double> e : chosen.entrySet()) {
      flag.append(flag.length() > 5 ? "," : "")
          .append(e.getKey().flag())
          .append('=')
          .append(e.getValue());
    }
    return flag.toString();
  }

  /** The index of the trial with the lowest validation loss (a non-finite loss never wins). */
  static int choose(List<Trial> trials) {
    int best = -1;
    for (int i = 0; i < trials.size(); i++) {
      double loss = trials.get(i).validationLoss();
      if (Double.isFinite(loss) && (best < 0 || loss < trials.get(best).validationLoss())) {
        best = i;
      }
    }
    return best < 0 ? 0 : best;
  }

  static String tuningTable(List<Trial> trials, Map<OptimizerChoice, Double> chosen) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "| %-12s | %10s | %8s | %10s | %8s | %6s |%n",
            "optimizer",
            "lr",
            "× rate",
            "val loss",
            "val acc",
            "chosen"));
    b.append("|--------------|------------|----------|------------|----------|--------|\n");
    for (Trial t : trials) {
      b.append(
          String.format(
              Locale.ROOT,
              "| %-12s | %10.3g | %8s | %10.4f | %7.2f%% | %6s |%n",
              t.choice().displayName(),
              t.learningRate(),
              t.factor(),
              t.validationLoss(),
              100 * t.validationAccuracy(),
              chosen.get(t.choice()) == t.learningRate() ? "yes" : ""));
    }
    return b.toString();
  }

  /**
   * One run: {@code totalSteps} steps of {@code choice} at peak rate {@code lr} under the run's
   * schedule, evaluating on {@code validation} every {@code --eval-every} steps and at the end. The
   * test accuracy is computed at the end only, and only when {@code test} is not null (tuning
   * passes null); {@code logDir} null: no TensorBoard log.
   */
  private Result train(
      OptimizerChoice choice,
      double lr,
      long seed,
      long totalSteps,
      FashionMnist.Split train,
      FashionMnist.Split validation,
      FashionMnist.Split test,
      Path logDir,
      String label)
      throws IOException {
    Curve curve = new Curve(choice.displayName());
    if (logDir != null) {
      deleteEventFiles(logDir);
      Files.createDirectories(logDir);
    }
    try (Graph graph = new Graph();
        TensorBoardLog board = logDir == null ? null : new TensorBoardLog(logDir)) {
      DataParallel.Share share =
          job == null
              ? new DataParallel.Share(0, options.batchSize())
              : job.share(options.batchSize());
      Model model =
          new Model(
              graph,
              options.model(),
              share.rows(),
              options.hidden(),
              seed,
              options.shards() / options.workers());
      GuardedOptimizer optimizer =
          choice.build(
              graph,
              choice.layersOf(model),
              options.schedule().of(lr, totalSteps),
              options.tuning());
      Op step =
          job == null
              ? optimizer.minimize(model.shardLosses(), Replicas.single())
              : job.minimize(optimizer, model.shardLosses());
      // The global batch's loss: with equal shares, the mean of the workers' losses.
      Operand<?> batchLoss =
          job == null ? model.loss() : job.collectives().mean(Ops.create(graph), model.loss());
      long stateBytes = StateMemory.bytes(optimizer);
      try (Session session =
          job == null ? new Session(graph, sessionConfig(options.xla())) : job.newSession(graph)) {
        if (job == null) {
          session.initialize();
        } else {
          job.initialize(session);
        }
        int stepsPerEpoch = stepsPerEpoch(train.count(), options.batchSize());
        int epochs = (int) ((totalSteps + stepsPerEpoch - 1) / stepsPerEpoch);
        double seconds = 0;
        double lossSum = 0;
        int lossCount = 0;
        double lastLoss = Double.NaN;
        double[] stepMillis = new double[(int) totalSteps];
        double[] lastEval = {Double.NaN, Double.NaN};
        long done = 0;
        out.printf(
            Locale.ROOT,
            "%n%s (learning rate %s%s, %d parameters, optimizer state %s)%n",
            choice.displayName(),
            lr,
            label == null ? "" : ", " + label,
            model.parameterCount(),
            human(stateBytes));
        for (int epoch = 1; epoch <= epochs; epoch++) {
          int[] order = permutation(train.count(), seed * 1_000_003L + epoch);
          int steps = (int) Math.min(stepsPerEpoch, totalSteps - done);
          try (ProgressBar progress = progressBar(epoch, epochs, steps)) {
            for (int s = 0; s < steps; s++) {
              long t0 = System.nanoTime();
              float loss;
              int first = s * options.batchSize() + share.start();
              try (TFloat32 x = images(train, order, first, share.rows());
                  TInt32 y = labels(train, order, first, share.rows());
                  TFloat32 l =
                      (TFloat32)
                          session
                              .runner()
                              .feed(model.trainImages(), x)
                              .feed(model.trainLabels(), y)
                              .addTarget(step)
                              .fetch(batchLoss)
                              .run()
                              .get(0)) {
                loss = l.getFloat();
              }
              double ms = (System.nanoTime() - t0) / 1e6;
              stepMillis[(int) done] = ms;
              seconds += ms / 1000;
              done++;
              lossSum += loss;
              lossCount++;
              boolean evaluate = done % options.evalEvery() == 0 || done == totalSteps;
              if (done % LOG_EVERY == 0 || evaluate) {
                lastLoss = lossSum / lossCount;
                if (board != null) {
                  board.scalar("train/loss", done, (float) lastLoss);
                }
                double accuracy = Double.NaN;
                // Without collectives, so task 0 evaluates alone; the others wait for it in the
                // next step's all-reduce.
                if (evaluate && reports()) {
                  lastEval = evaluate(session, model, validation);
                  accuracy = lastEval[1];
                  if (board != null) {
                    board.scalar("validation/loss", done, (float) lastEval[0]);
                    board.scalar("validation/accuracy", done, (float) accuracy);
                  }
                }
                curve.add(new Curve.Point(done, seconds, lastLoss, accuracy));
                lossSum = 0;
                lossCount = 0;
              }
              progress.step();
              progress.setExtraMessage(String.format(Locale.ROOT, " loss %.4f", loss));
            }
          }
        }
        double[] sorted = stepMillis.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        double testAccuracy =
            test == null || !reports() ? Double.NaN : evaluate(session, model, test)[1];
        if (job != null) {
          // No worker closes its session (or, after the last run, exits) while another still
          // needs it.
          job.finish(session);
        }
        if (!reports()) {
          out.printf(
              Locale.ROOT,
              "%s: %.1f s of training (task 0 evaluates)%n",
              choice.displayName(),
              seconds);
        } else {
          out.printf(
              Locale.ROOT,
              "%s: validation loss %.4f, accuracy %.2f%%%s, %.1f s of training%n",
              choice.displayName(),
              lastEval[0],
              100 * lastEval[1],
              test == null
                  ? ""
                  : String.format(Locale.ROOT, "; test accuracy %.2f%%", 100 * testAccuracy),
              seconds);
        }
        return new Result(
            choice,
            lr,
            seed,
            curve,
            testAccuracy,
            lastLoss,
            lastEval[0],
            lastEval[1],
            seconds,
            median,
            stateBytes,
            model.parameterCount(),
            done);
      }
    }
  }

  private static void deleteEventFiles(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      try (var files = Files.list(dir)) {
        for (Path p :
            files
                .filter(f -> f.getFileName().toString().startsWith("events.out.tfevents"))
                .toList()) {
          Files.delete(p);
        }
      }
    }
  }

  /**
   * The session config of a run: the library's XLA config (auto-clustering on CPU and GPU) with
   * {@code --xla}, TensorFlow's defaults otherwise.
   */
  static ConfigProto sessionConfig(boolean xla) {
    return xla ? Xla.sessionConfig() : ConfigProto.getDefaultInstance();
  }

  /** Mean cross-entropy and accuracy on {@code split} (its labels are read once each). */
  private double[] evaluate(Session session, Model model, FashionMnist.Split split) {
    int[] identity = new int[split.count()];
    Arrays.setAll(identity, i -> i);
    long correct = 0;
    double loss = 0;
    for (int start = 0; start < split.count(); start += EVAL_CHUNK) {
      int n = Math.min(EVAL_CHUNK, split.count() - start);
      try (TFloat32 x = images(split, identity, start, n);
          TFloat32 logp =
              (TFloat32)
                  session
                      .runner()
                      .feed(model.evalImages(), x)
                      .fetch(model.evalLogProbabilities())
                      .run()
                      .get(0)) {
        for (int i = 0; i < n; i++) {
          int label = split.label(start + i);
          int best = 0;
          for (int c = 1; c < FashionMnist.CLASSES; c++) {
            if (logp.getFloat(i, c) > logp.getFloat(i, best)) {
              best = c;
            }
          }
          if (best == label) {
            correct++;
          }
          loss -= logp.getFloat(i, label);
        }
      }
    }
    return new double[] {loss / split.count(), (double) correct / split.count()};
  }

  private TFloat32 images(FashionMnist.Split split, int[] order, int start, int n) {
    return images(options.model(), split, order, start, n);
  }

  /**
   * Images {@code order[start]} … {@code order[start + n − 1]} of {@code split}, scaled to [0, 1],
   * shaped for {@code architecture}'s input.
   */
  public static TFloat32 images(
      Model.Architecture architecture, FashionMnist.Split split, int[] order, int start, int n) {
    float[] values = new float[n * FashionMnist.PIXELS];
    for (int i = 0; i < n; i++) {
      int base = order[start + i] * FashionMnist.PIXELS;
      for (int p = 0; p < FashionMnist.PIXELS; p++) {
        values[i * FashionMnist.PIXELS + p] = (split.images()[base + p] & 0xff) / 255f;
      }
    }
    Shape shape =
        architecture == Model.Architecture.CNN
            ? Shape.of(n, 28, 28, 1)
            : Shape.of(n, FashionMnist.PIXELS);
    return TFloat32.tensorOf(shape, DataBuffers.of(values, true, false));
  }

  /** The labels of the same images as {@link #images}. */
  public static TInt32 labels(FashionMnist.Split split, int[] order, int start, int n) {
    int[] values = new int[n];
    for (int i = 0; i < n; i++) {
      values[i] = split.label(order[start + i]);
    }
    return TInt32.tensorOf(Shape.of(n), DataBuffers.of(values, true, false));
  }

  /**
   * A Fisher–Yates shuffle of 0..n−1; the same for every optimizer, so they see the same batches.
   */
  static int[] permutation(int n, long seed) {
    int[] p = new int[n];
    Arrays.setAll(p, i -> i);
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  private static void writeCsv(List<Result> results, Path file) throws IOException {
    try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(file))) {
      w.println("optimizer,seed,step,seconds,train_loss,validation_accuracy");
      for (Result r : results) {
        for (Curve.Point p : r.curve().points()) {
          w.printf(
              Locale.ROOT,
              "%s,%d,%d,%.4f,%s,%s%n",
              r.choice().flag(),
              r.seed(),
              p.step(),
              p.seconds(),
              p.trainLoss(),
              Double.isNaN(p.validation())
                  ? ""
                  : String.format(Locale.ROOT, "%.4f", p.validation()));
        }
      }
    }
  }

  /** The final comparison as a Markdown table, one row per optimizer (mean ± std over seeds). */
  static String table(List<Summary> summaries) {
    double adamStep =
        summaries.stream()
            .filter(s -> s.choice() == OptimizerChoice.ADAM)
            .mapToDouble(s -> medianStep(s.runs()))
            .findFirst()
            .orElse(Double.NaN);
    double target = summaries.isEmpty() ? Double.NaN : summaries.get(0).target();
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "| %-12s | %8s | %15s | %15s | %8s | %8s | %7s | %10s | %22s |%n",
            "optimizer",
            "lr",
            "test acc %",
            "train loss",
            "wall s",
            "ms/step",
            "vs Adam",
            "state",
            "to target: steps / s"));
    int[] widths = {14, 10, 17, 17, 10, 10, 9, 12, 24};
    for (int w : widths) {
      b.append('|').append("-".repeat(w));
    }
    b.append("|\n");
    for (Summary s : summaries) {
      double step = medianStep(s.runs());
      b.append(
          String.format(
              Locale.ROOT,
              "| %-12s | %8.3g | %15s | %15s | %8.1f | %8.2f | %7s | %10s | %22s |%n",
              s.choice().displayName(),
              s.learningRate(),
              new Stats(
                      100 * s.testAccuracy().mean(),
                      100 * s.testAccuracy().std(),
                      s.testAccuracy().n())
                  .format("%.2f"),
              s.finalTrainLoss().format("%.4f"),
              Stats.of(s.runs().stream().mapToDouble(Result::trainSeconds).toArray()).mean(),
              step,
              Double.isNaN(adamStep) ? "–" : String.format(Locale.ROOT, "%.2fx", step / adamStep),
              human(s.runs().get(0).stateBytes()),
              s.toTarget().cell()));
    }
    b.append(
        String.format(
            Locale.ROOT,
            "%ntest acc, train loss: mean ± standard deviation over seeds (final training loss:"
                + " mean of the last\n"
                + "logged steps); ms/step: median step time; vs Adam: its ratio to Adam's; state:"
                + " bytes of slot and\n"
                + "hyperparameter variables; to target: first evaluation (step / training seconds)"
                + " at validation\n"
                + "accuracy ≥ %.2f%%, mean over the seeds that reached it (reached/seeds).%n",
            100 * target));
    return b.toString();
  }

  private static double medianStep(List<Result> runs) {
    return medianOf(runs, Result::medianStepMillis);
  }

  /** The upper median of {@code value} over {@code runs}. */
  static <R> double medianOf(List<R> runs, ToDoubleFunction<R> value) {
    double[] v = runs.stream().mapToDouble(value).sorted().toArray();
    return v[v.length / 2];
  }

  /**
   * The time-to-target threshold: {@code given} unless NaN, else the mean of {@code value} over
   * Adam's runs, else {@code fallback} when Adam did not run.
   */
  static <R> double defaultTarget(
      double given,
      Map<OptimizerChoice, List<R>> byChoice,
      ToDoubleFunction<R> value,
      double fallback) {
    if (!Double.isNaN(given)) {
      return given;
    }
    List<R> adam = byChoice.get(OptimizerChoice.ADAM);
    return adam == null ? fallback : Stats.of(adam.stream().mapToDouble(value).toArray()).mean();
  }

  static String human(long bytes) {
    if (bytes < 10_000) {
      return bytes + " B";
    }
    if (bytes < 10_000_000) {
      return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
  }

  /**
   * One epoch's progress bar (me.tongfei:progressbar): redrawn in place on a terminal; elsewhere (a
   * log, a test) a line every {@link #LOG_BAR_MILLIS} ms and one at the end of the epoch.
   */
  private ProgressBar progressBar(int epoch, int epochs, int steps) {
    return progressBar(
        out,
        interactive,
        String.format(Locale.ROOT, "  epoch %d/%d", epoch, epochs),
        steps,
        " steps",
        1);
  }

  /**
   * A progress bar of {@code max} units shown as {@code unit} per {@code unitSize} with its speed:
   * redrawn in place when {@code interactive}; otherwise a line every {@link #LOG_BAR_MILLIS} ms
   * and one at the end, each printed once (a closing bar renders twice).
   */
  static ProgressBar progressBar(
      PrintStream out, boolean interactive, String task, long max, String unit, long unitSize) {
    String[] last = {null};
    return new ProgressBarBuilder()
        .setTaskName(task)
        .setInitialMax(max)
        .setStyle(ProgressBarStyle.ASCII)
        .setUnit(unit, unitSize)
        .showSpeed(new DecimalFormat("0.0"))
        .setUpdateIntervalMillis(interactive ? 200 : LOG_BAR_MILLIS)
        .setConsumer(
            interactive
                ? new ConsoleProgressBarConsumer(out)
                : new DelegatingProgressBarConsumer(
                    line -> {
                      if (!line.equals(last[0])) {
                        last[0] = line;
                        out.println(line);
                      }
                    },
                    100))
        .build();
  }
}
