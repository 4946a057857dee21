package dev.fisheropt.examples;

import dev.fisheropt.optimizers.GuardedOptimizer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import me.tongfei.progressbar.ProgressBar;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * {@code compare --task lm}: trains the same {@link Gpt} on the fortunes corpus ({@link Fortunes})
 * with each chosen optimizer, from the same initial weights and the same batches, under the
 * protocol of {@link Compare} (warmup + cosine schedule, {@code --tune} choosing each rate by
 * validation loss, {@code --seeds}, time to a target validation loss), and reports validation loss
 * in nats and bits per byte against steps and seconds, optimizer state memory, step cost and a
 * sample of text from each trained model.
 *
 * <p>Batches: step s of seed k takes {@code --batch} windows of {@code --context}+1 bytes at
 * offsets drawn from a {@link SplittableRandom} seeded by (k, s) alone ({@link #batch}), so every
 * optimizer sees the same batches and a resumed run can rebuild any step's batch. Validation:
 * {@code --validation} windows spread evenly over the validation split, the same in every
 * evaluation.
 *
 * <p>Writes to {@code --out}: {@code curves.csv}, {@code compare.png}, {@code summary.md}, {@code
 * samples.md}, TensorBoard events under {@code tensorboard/}, and with {@code --tune} {@code
 * tuning.csv} and {@code tuning.md}.
 */
public final class LanguageModelCompare {
  /** Sampling temperature of the text each trained model writes. */
  static final double SAMPLE_TEMPERATURE = 0.8;

  static final long SAMPLE_SEED = 2024;

  /** Fortune files separate their entries with a line holding "%": a model starts a new one. */
  static final String SAMPLE_PROMPT = "%\n";

  private static final int LOG_EVERY = 10;
  private static final int EVAL_CHUNK = 64;

  /**
   * Default peak rates on this task, from the tuning runs in docs/benchmarks.md (150-step trials,
   * lowest validation loss; SGD+momentum, outside the default set, was not tuned), except
   * AdaFisher(W): the trials chose 8e-3, which diverged (NaN) in the 300-step default run, so the
   * default is the next rate down; {@code --lr} overrides them. Muon and FISMO train the
   * embeddings, the head and the vectors with their Adam fallback at Adam's rate on this task (its
   * {@code --lr adam} or default, not re-tuned with theirs), as Muon recipes pair Muon with a tuned
   * AdamW.
   */
  static final Map<OptimizerChoice, Double> DEFAULT_RATES =
      Map.of(
          OptimizerChoice.ADAM, 8e-3,
          OptimizerChoice.MOMENTUM, 0.1,
          OptimizerChoice.MUON, 0.08,
          OptimizerChoice.FISMO, 0.04,
          OptimizerChoice.ADAFISHER, 4e-3,
          OptimizerChoice.ADAFISHERW, 4e-3,
          OptimizerChoice.FROG, 0.128);

  private final CompareOptions options;
  private final PrintStream out;
  private final boolean interactive;
  private List<Summary> summaries = List.of();
  private List<Compare.Trial> trials = List.of();

  /** One optimizer's run with one seed. */
  public record Result(
      OptimizerChoice choice,
      double learningRate,
      long seed,
      Curve curve,
      double validationLoss,
      double finalTrainLoss,
      double trainSeconds,
      double medianStepMillis,
      long stateBytes,
      long parameters,
      long steps,
      String sample) {}

  /** One optimizer over its seeds; the time to target is over the seeds that reached it. */
  public record Summary(
      OptimizerChoice choice,
      double learningRate,
      List<Result> runs,
      Stats validationLoss,
      Stats finalTrainLoss,
      double target,
      TimeToTarget toTarget) {
    static Summary of(List<Result> runs, double target) {
      return new Summary(
          runs.get(0).choice(),
          runs.get(0).learningRate(),
          runs,
          Stats.of(runs.stream().mapToDouble(Result::validationLoss).toArray()),
          Stats.of(runs.stream().mapToDouble(Result::finalTrainLoss).toArray()),
          target,
          TimeToTarget.of(runs.stream().map(r -> r.curve().firstAtMost(target)).toList()));
    }
  }

  public LanguageModelCompare(CompareOptions options, PrintStream out) {
    this.options = options;
    this.out = out;
    this.interactive = System.console() != null;
  }

  /** The peak rate of {@code choice}: {@code --lr}, else {@link #DEFAULT_RATES}. */
  double learningRate(OptimizerChoice choice) {
    return options.learningRates().getOrDefault(choice, DEFAULT_RATES.get(choice));
  }

  public List<Summary> summaries() {
    return summaries;
  }

  public List<Compare.Trial> trials() {
    return trials;
  }

  /** Loads the corpus in {@code --data} and runs the comparison on it. */
  public List<Result> run() throws IOException {
    return run(Fortunes.load(options.data()));
  }

  /** Tunes if asked, runs every optimizer with every seed, writes the outputs. */
  public List<Result> run(Fortunes.Corpus corpus) throws IOException {
    Gpt.Size size = options.lmSize();
    int[][] validation =
        validationWindows(corpus.validation(), size.context(), options.validation());
    if (corpus.train().length <= size.context() + 1) {
      throw new IllegalArgumentException(
          "the training split has "
              + corpus.train().length
              + " bytes, too few for --context "
              + size.context());
    }
    Files.createDirectories(options.out());
    out.printf(
        Locale.ROOT,
        "Fortunes: %d training, %d validation bytes (%d files, %d symbols); %d validation"
            + " sequences; GPT %s, %d parameters; %d steps, %s schedule, seed%s %s%s%n",
        corpus.train().length,
        corpus.validation().length,
        corpus.files().size(),
        corpus.vocabularySize(),
        validation[0].length / size.context(),
        size,
        size.parameters(corpus.vocabularySize()),
        options.steps(),
        options.schedule().name().toLowerCase(Locale.ROOT).replace('_', '-'),
        options.seeds() > 1 ? "s" : "",
        options.seeds() > 1
            ? options.seed() + ".." + (options.seed() + options.seeds() - 1)
            : Long.toString(options.seed()),
        options.xla() ? ", XLA" : "");
    Map<OptimizerChoice, Double> rates = new EnumMap<>(OptimizerChoice.class);
    for (OptimizerChoice choice : options.optimizers()) {
      rates.put(choice, learningRate(choice));
    }
    if (options.tune()) {
      rates = tune(corpus, validation);
    }
    List<Result> results = new ArrayList<>();
    Map<OptimizerChoice, List<Result>> byChoice = new EnumMap<>(OptimizerChoice.class);
    for (OptimizerChoice choice : options.optimizers()) {
      for (int k = 0; k < options.seeds(); k++) {
        long seed = options.seed() + k;
        String run = options.seeds() > 1 ? choice.flag() + "/seed-" + seed : choice.flag();
        Result r =
            train(
                choice,
                rates.get(choice),
                seed,
                options.steps(),
                corpus,
                validation,
                options.out().resolve("tensorboard").resolve(run),
                options.seeds() > 1 ? "seed " + seed : null);
        results.add(r);
        byChoice.computeIfAbsent(choice, c -> new ArrayList<>()).add(r);
      }
    }
    double target =
        Compare.defaultTarget(
            options.target(), byChoice, Result::validationLoss, CompareOptions.LM_TARGET_FALLBACK);
    List<Summary> sums = new ArrayList<>();
    for (List<Result> runs : byChoice.values()) {
      sums.add(Summary.of(runs, target));
    }
    sums.sort(Comparator.comparingInt(s -> options.optimizers().indexOf(s.choice())));
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
        "GPT " + size.dModel() + "x" + size.layers(),
        "validation loss",
        "nats",
        true,
        options.out().resolve("compare.png"));
    String table = table(summaries);
    Files.writeString(options.out().resolve("summary.md"), table);
    String samples = samples(results);
    Files.writeString(options.out().resolve("samples.md"), samples);
    out.println();
    out.print(table);
    out.println();
    out.print(samples);
    out.println(
        "\nwrote "
            + String.join(
                ", ",
                List.of("curves.csv", "compare.png", "summary.md", "samples.md").stream()
                    .map(f -> options.out().resolve(f).toString())
                    .toList())
            + (options.tune() ? ", tuning.csv, tuning.md" : "")
            + " and "
            + options.out().resolve("tensorboard")
            + "/");
    return results;
  }

  /** The sweep of {@link Compare#tune}: rate × each factor, short runs, lowest validation loss. */
  private Map<OptimizerChoice, Double> tune(Fortunes.Corpus corpus, int[][] validation)
      throws IOException {
    List<Compare.Trial> all = new ArrayList<>();
    Map<OptimizerChoice, Double> chosen =
        Compare.sweep(
            options,
            out,
            this::learningRate,
            (choice, factor, lr) -> {
              Result r =
                  train(
                      choice,
                      lr,
                      options.seed(),
                      options.tuneSteps(),
                      corpus,
                      validation,
                      null,
                      "tune");
              return new Compare.Trial(
                  choice, factor, lr, r.steps(), r.validationLoss(), Double.NaN);
            },
            all);
    trials = List.copyOf(all);
    StringBuilder md = new StringBuilder();
    md.append("| optimizer    |         lr |   × rate |   val loss |  val bpc | chosen |\n");
    md.append("|--------------|------------|----------|------------|----------|--------|\n");
    try (PrintWriter w =
        new PrintWriter(Files.newBufferedWriter(options.out().resolve("tuning.csv")))) {
      w.println("optimizer,factor,learning_rate,steps,validation_loss,validation_bpc,chosen");
      for (Compare.Trial t : trials) {
        boolean picked = chosen.get(t.choice()) == t.learningRate();
        w.printf(
            Locale.ROOT,
            "%s,%s,%s,%d,%.6f,%.6f,%s%n",
            t.choice().flag(),
            t.factor(),
            t.learningRate(),
            t.steps(),
            t.validationLoss(),
            bits(t.validationLoss()),
            picked);
        md.append(
            String.format(
                Locale.ROOT,
                "| %-12s | %10.3g | %8s | %10.4f | %8.4f | %6s |%n",
                t.choice().displayName(),
                t.learningRate(),
                t.factor(),
                t.validationLoss(),
                bits(t.validationLoss()),
                picked ? "yes" : ""));
      }
    }
    Files.writeString(options.out().resolve("tuning.md"), md.toString());
    out.println();
    out.print(md);
    out.println("chosen rates as a flag: " + Compare.rateFlag(chosen));
    return chosen;
  }

  /** One run of {@code steps} steps; {@code logDir} null: no TensorBoard log, no sample. */
  private Result train(
      OptimizerChoice choice,
      double lr,
      long seed,
      long steps,
      Fortunes.Corpus corpus,
      int[][] validation,
      Path logDir,
      String label)
      throws IOException {
    Gpt.Size size = options.lmSize();
    long tokensPerStep = (long) size.batch() * size.context();
    Curve curve = new Curve(choice.displayName());
    if (logDir != null) {
      Files.createDirectories(logDir);
      try (var files = Files.list(logDir)) {
        for (Path p :
            files.filter(f -> f.getFileName().toString().startsWith("events.out")).toList()) {
          Files.delete(p);
        }
      }
    }
    try (Graph graph = new Graph();
        TensorBoardLog board = logDir == null ? null : new TensorBoardLog(logDir)) {
      Gpt<TFloat32> model = new Gpt<>(graph, TFloat32.class, size, corpus.vocabularySize(), seed);
      GuardedOptimizer optimizer =
          choice.build(
              graph,
              choice.layersOf(model),
              model.fallbackMatrices(),
              options.schedule().of(lr, steps),
              options.tuning().withFallbackLearningRate(learningRate(OptimizerChoice.ADAM)));
      Op step = optimizer.minimize(model.loss());
      long stateBytes = StateMemory.bytes(optimizer);
      out.printf(
          Locale.ROOT,
          "%n%s (learning rate %s%s, %d parameters, optimizer state %s)%n",
          choice.displayName(),
          lr,
          label == null ? "" : ", " + label,
          model.parameterCount(),
          Compare.human(stateBytes));
      try (Session session = new Session(graph, Compare.sessionConfig(options.xla()))) {
        session.initialize();
        double seconds = 0;
        double lossSum = 0;
        int lossCount = 0;
        double lastLoss = Double.NaN;
        double lastValidation = Double.NaN;
        double[] stepMillis = new double[(int) steps];
        try (ProgressBar progress =
            Compare.progressBar(
                out, interactive, "  train", steps * tokensPerStep, " ktok", 1000)) {
          for (long s = 0; s < steps; s++) {
            int[][] b = batch(corpus.train(), seed, s, size);
            long t0 = System.nanoTime();
            float loss;
            try (TInt32 x = tokens(b[0], size.batch(), size.context());
                TInt32 y = tokens(b[1], size.batch(), size.context());
                TFloat32 l =
                    (TFloat32)
                        session
                            .runner()
                            .feed(model.trainInputs(), x)
                            .feed(model.trainTargets(), y)
                            .addTarget(step)
                            .fetch(model.loss())
                            .run()
                            .get(0)) {
              loss = l.getFloat();
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            stepMillis[(int) s] = ms;
            seconds += ms / 1000;
            lossSum += loss;
            lossCount++;
            long done = s + 1;
            boolean evaluate = done % options.evalEvery() == 0 || done == steps;
            if (done % LOG_EVERY == 0 || evaluate) {
              lastLoss = lossSum / lossCount;
              if (board != null) {
                board.scalar("train/loss", done, (float) lastLoss);
              }
              double v = Double.NaN;
              if (evaluate) {
                v = evaluate(session, model, validation);
                lastValidation = v;
                if (board != null) {
                  board.scalar("validation/loss", done, (float) v);
                  board.scalar("validation/bits_per_byte", done, (float) bits(v));
                }
              }
              curve.add(new Curve.Point(done, seconds, lastLoss, v));
              lossSum = 0;
              lossCount = 0;
            }
            progress.stepBy(tokensPerStep);
            progress.setExtraMessage(
                String.format(Locale.ROOT, " loss %.3f (%.3f bpc)", loss, bits(loss)));
          }
        }
        double[] sorted = stepMillis.clone();
        Arrays.sort(sorted);
        String sample = logDir == null ? "" : sample(session, model, corpus);
        out.printf(
            Locale.ROOT,
            "%s: validation loss %.4f nats = %.4f bits per byte, %.1f s of training%n",
            choice.displayName(),
            lastValidation,
            bits(lastValidation),
            seconds);
        return new Result(
            choice,
            lr,
            seed,
            curve,
            lastValidation,
            lastLoss,
            seconds,
            sorted[sorted.length / 2],
            stateBytes,
            model.parameterCount(),
            steps,
            sample);
      }
    }
  }

  static double bits(double nats) {
    return nats / Math.log(2);
  }

  /**
   * The batch of step {@code step} of seed {@code seed}: inputs and targets, each [batch·context]
   * row-major; the targets are the inputs shifted by one byte. Depends on (seed, step) only.
   */
  public static int[][] batch(int[] stream, long seed, long step, Gpt.Size size) {
    int t = size.context();
    SplittableRandom random = new SplittableRandom(seed * 1_000_003L + step);
    int[] inputs = new int[size.batch() * t];
    int[] targets = new int[size.batch() * t];
    for (int i = 0; i < size.batch(); i++) {
      int start = random.nextInt(stream.length - t);
      System.arraycopy(stream, start, inputs, i * t, t);
      System.arraycopy(stream, start + 1, targets, i * t, t);
    }
    return new int[][] {inputs, targets};
  }

  /**
   * Up to {@code count} windows of {@code context}+1 bytes spread evenly over {@code stream}, as
   * inputs and targets [n·context] row-major.
   */
  static int[][] validationWindows(int[] stream, int context, int count) {
    int fit = (stream.length - 1) / context;
    int n = Math.min(count, fit);
    if (n < 1) {
      throw new IllegalArgumentException(
          "the validation split has "
              + stream.length
              + " bytes, too few for one sequence of --context "
              + context);
    }
    long stride = n == 1 ? 0 : (long) (stream.length - 1 - context) / (n - 1);
    int[] inputs = new int[n * context];
    int[] targets = new int[n * context];
    for (int i = 0; i < n; i++) {
      int start = (int) (i * stride);
      System.arraycopy(stream, start, inputs, i * context, context);
      System.arraycopy(stream, start + 1, targets, i * context, context);
    }
    return new int[][] {inputs, targets};
  }

  public static TInt32 tokens(int[] flat, int rows, int context) {
    return TInt32.tensorOf(Shape.of(rows, context), DataBuffers.of(flat, true, false));
  }

  /** Mean validation loss (nats per byte) over the windows, in chunks of {@link #EVAL_CHUNK}. */
  static double evaluate(Session session, Gpt<TFloat32> model, int[][] windows) {
    int t = model.size().context();
    int n = windows[0].length / t;
    double sum = 0;
    for (int start = 0; start < n; start += EVAL_CHUNK) {
      int rows = Math.min(EVAL_CHUNK, n - start);
      int[] x = Arrays.copyOfRange(windows[0], start * t, (start + rows) * t);
      int[] y = Arrays.copyOfRange(windows[1], start * t, (start + rows) * t);
      try (TInt32 xs = tokens(x, rows, t);
          TInt32 ys = tokens(y, rows, t);
          TFloat32 l =
              (TFloat32)
                  session
                      .runner()
                      .feed(model.evalInputs(), xs)
                      .feed(model.evalTargets(), ys)
                      .fetch(model.evalLoss())
                      .run()
                      .get(0)) {
        sum += (double) l.getFloat() * rows;
      }
    }
    return sum / n;
  }

  /**
   * {@code --sample} bytes written by the model from {@link #SAMPLE_PROMPT} (or the first
   * validation byte where the prompt is not in the vocabulary), sampling at {@link
   * #SAMPLE_TEMPERATURE} with a fixed seed; the model sees the last {@code context} bytes.
   */
  String sample(Session session, Gpt<TFloat32> model, Fortunes.Corpus corpus) {
    int length = options.sampleLength();
    if (length == 0) {
      return "";
    }
    int t = model.size().context();
    int v = model.vocabulary();
    List<Integer> text = new ArrayList<>();
    try {
      for (int token : corpus.encode(SAMPLE_PROMPT.getBytes(StandardCharsets.UTF_8))) {
        text.add(token);
      }
    } catch (IllegalArgumentException e) {
      text.add(corpus.validation()[0]);
    }
    int prompt = text.size();
    SplittableRandom random = new SplittableRandom(SAMPLE_SEED);
    double[] p = new double[v];
    for (int i = 0; i < length; i++) {
      int from = Math.max(0, text.size() - t);
      int[] window = new int[t];
      for (int j = from; j < text.size(); j++) {
        window[j - from] = text.get(j);
      }
      int last = text.size() - from - 1;
      try (TInt32 x = tokens(window, 1, t);
          TFloat32 logits =
              (TFloat32)
                  session
                      .runner()
                      .feed(model.evalInputs(), x)
                      .fetch(model.evalLogits())
                      .run()
                      .get(0)) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < v; c++) {
          p[c] = logits.getFloat(0, last, c) / SAMPLE_TEMPERATURE;
          max = Math.max(max, p[c]);
        }
        double total = 0;
        for (int c = 0; c < v; c++) {
          p[c] = Math.exp(p[c] - max);
          total += p[c];
        }
        double u = random.nextDouble() * total;
        int next = v - 1;
        for (int c = 0; c < v; c++) {
          u -= p[c];
          if (u < 0) {
            next = c;
            break;
          }
        }
        text.add(next);
      }
    }
    int[] written =
        text.subList(prompt, text.size()).stream().mapToInt(Integer::intValue).toArray();
    return new String(corpus.decode(written), StandardCharsets.UTF_8);
  }

  private static void writeCsv(List<Result> results, Path file) throws IOException {
    try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(file))) {
      w.println("optimizer,seed,step,seconds,train_loss,validation_loss,validation_bpc");
      for (Result r : results) {
        for (Curve.Point p : r.curve().points()) {
          boolean evaluated = !Double.isNaN(p.validation());
          w.printf(
              Locale.ROOT,
              "%s,%d,%d,%.4f,%.6f,%s,%s%n",
              r.choice().flag(),
              r.seed(),
              p.step(),
              p.seconds(),
              p.trainLoss(),
              evaluated ? String.format(Locale.ROOT, "%.6f", p.validation()) : "",
              evaluated ? String.format(Locale.ROOT, "%.6f", bits(p.validation())) : "");
        }
      }
    }
  }

  private static String samples(List<Result> results) {
    StringBuilder b = new StringBuilder();
    for (Result r : results) {
      if (!r.sample().isEmpty()) {
        b.append(
            String.format(
                Locale.ROOT,
                "### %s (seed %d, validation %.3f bpc)%n%n```%n%s%n```%n%n",
                r.choice().displayName(),
                r.seed(),
                bits(r.validationLoss()),
                r.sample()));
      }
    }
    return b.toString();
  }

  /** The final comparison as a Markdown table (mean ± std over seeds). */
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
            "| %-12s | %8s | %15s | %15s | %15s | %8s | %8s | %7s | %10s | %22s |%n",
            "optimizer",
            "lr",
            "val loss",
            "val bpc",
            "train loss",
            "wall s",
            "ms/step",
            "vs Adam",
            "state",
            "to target: steps / s"));
    for (int w : new int[] {14, 10, 17, 17, 17, 10, 10, 9, 12, 24}) {
      b.append('|').append("-".repeat(w));
    }
    b.append("|\n");
    for (Summary s : summaries) {
      double step = medianStep(s.runs());
      Stats loss = s.validationLoss();
      b.append(
          String.format(
              Locale.ROOT,
              "| %-12s | %8.3g | %15s | %15s | %15s | %8.1f | %8.2f | %7s | %10s | %22s |%n",
              s.choice().displayName(),
              s.learningRate(),
              loss.format("%.4f"),
              new Stats(bits(loss.mean()), bits(loss.std()), loss.n()).format("%.4f"),
              s.finalTrainLoss().format("%.4f"),
              Stats.of(s.runs().stream().mapToDouble(Result::trainSeconds).toArray()).mean(),
              step,
              Double.isNaN(adamStep) ? "–" : String.format(Locale.ROOT, "%.2fx", step / adamStep),
              Compare.human(s.runs().get(0).stateBytes()),
              s.toTarget().cell()));
    }
    b.append(
        String.format(
            Locale.ROOT,
            "%nval loss (nats per byte), val bpc (bits per byte), train loss: mean ± standard"
                + " deviation over seeds,\nat the last step; ms/step: median step time; vs Adam:"
                + " its ratio to Adam's; state: bytes of\nslot and hyperparameter variables; to"
                + " target: first evaluation (step / training seconds) at\nvalidation loss ≤ %.4f"
                + " nats, mean over the seeds that reached it (reached/seeds).%n",
            target));
    return b.toString();
  }

  private static double medianStep(List<Result> runs) {
    return Compare.medianOf(runs, Result::medianStepMillis);
  }
}
