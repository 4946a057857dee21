package dev.fisheropt.examples;

import dev.fisheropt.optimizers.GuardedOptimizer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * {@code compare}: trains the same classifier on Fashion-MNIST with each chosen optimizer, from the
 * same initial weights and the same batch order, and reports how they compare.
 *
 * <p>Writes to {@code --out}: {@code curves.csv} (optimizer, step, epoch, seconds, train_loss,
 * test_accuracy), {@code compare.png} (loss and accuracy against steps and seconds),
 * {@code summary.md} (the final table) and {@code tensorboard/<optimizer>/} event files
 * ({@code tensorboard --logdir DIR/tensorboard}).
 */
public final class Compare {
  /** The accuracy whose first crossing the table reports (steps and seconds). */
  public static final double TARGET_ACCURACY = 0.88;
  private static final int LOG_EVERY = 10;
  private static final int EVAL_CHUNK = 1000;

  private final CompareOptions options;
  private final PrintStream out;
  private final boolean interactive;

  /** The outcome of one optimizer's run. */
  public record Result(OptimizerChoice choice, double learningRate, Curve curve, double testAccuracy, double finalTrainLoss,
      double trainSeconds, double medianStepMillis, long stateBytes, long parameters, long steps) {}

  public Compare(CompareOptions options, PrintStream out) {
    this.options = options;
    this.out = out;
    this.interactive = System.console() != null;
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
      System.out.print(CompareOptions.USAGE);
      return;
    }
    try {
      new Compare(options, System.out).run();
    } catch (FashionMnist.DataException e) {
      System.err.println("compare: " + e.getMessage());
      System.exit(1);
    } catch (IOException e) {
      System.err.println("compare: " + e.getMessage());
      System.exit(1);
    }
  }

  /** Runs every chosen optimizer and writes the outputs; returns the results in run order. */
  public List<Result> run() throws IOException {
    FashionMnist.Data data = FashionMnist.load(options.data());
    FashionMnist.Split train = data.train().head(options.trainLimit());
    FashionMnist.Split test = data.test().head(options.testLimit());
    Files.createDirectories(options.out());
    out.printf(Locale.ROOT, "Fashion-MNIST: %d training, %d test images; %s, batch %d, %d epoch(s), seed %d%s%n",
        train.count(), test.count(), options.model().name().toLowerCase(Locale.ROOT), options.batchSize(), options.epochs(),
        options.seed(), options.xla() ? ", XLA" : "");
    List<Result> results = new ArrayList<>();
    for (OptimizerChoice choice : options.optimizers()) {
      results.add(train(choice, train, test));
    }
    writeCsv(results, options.out().resolve("curves.csv"));
    Charts.write(results.stream().map(Result::curve).toList(),
        "Fashion-MNIST " + options.model().name(), options.out().resolve("compare.png"));
    String table = table(results);
    Files.writeString(options.out().resolve("summary.md"), table);
    out.println();
    out.print(table);
    out.println("\nwrote " + options.out().resolve("curves.csv") + ", " + options.out().resolve("compare.png") + ", "
        + options.out().resolve("summary.md") + " and " + options.out().resolve("tensorboard") + "/");
    return results;
  }

  private Result train(OptimizerChoice choice, FashionMnist.Split train, FashionMnist.Split test) throws IOException {
    double lr = options.learningRate(choice);
    Curve curve = new Curve(choice.displayName());
    Path logDir = options.out().resolve("tensorboard").resolve(choice.flag());
    deleteEventFiles(logDir);
    Files.createDirectories(logDir);
    try (Graph graph = new Graph();
        TensorBoardLog board = new TensorBoardLog(logDir)) {
      Model model = new Model(graph, options.model(), options.batchSize(), options.hidden(), options.seed());
      GuardedOptimizer optimizer = choice.build(graph, choice.layersOf(model), lr, options.tuning());
      Op step = optimizer.minimize(model.loss());
      long stateBytes = StateMemory.bytes(optimizer);
      try (Session session = new Session(graph, config(options.xla()))) {
        session.initialize();
        int stepsPerEpoch = train.count() / options.batchSize();
        long totalSteps = (long) stepsPerEpoch * options.epochs();
        double seconds = 0;
        double lossSum = 0;
        int lossCount = 0;
        double lastLoss = Double.NaN;
        double[] stepMillis = new double[(int) totalSteps];
        long done = 0;
        out.printf(Locale.ROOT, "%n%s (learning rate %s, %d parameters, optimizer state %s)%n", choice.displayName(),
            lr, model.parameterCount(), human(stateBytes));
        for (int epoch = 1; epoch <= options.epochs(); epoch++) {
          int[] order = permutation(train.count(), options.seed() * 1_000_003L + epoch);
          Progress progress = new Progress(epoch, stepsPerEpoch, seconds);
          for (int s = 0; s < stepsPerEpoch; s++) {
            long t0 = System.nanoTime();
            float loss;
            try (TFloat32 x = images(train, order, s * options.batchSize(), options.batchSize());
                TInt32 y = labels(train, order, s * options.batchSize(), options.batchSize());
                TFloat32 l = (TFloat32) session.runner().feed(model.trainImages(), x).feed(model.trainLabels(), y)
                    .addTarget(step).fetch(model.loss()).run().get(0)) {
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
              board.scalar("train/loss", done, (float) lastLoss);
              double accuracy = Double.NaN;
              if (evaluate) {
                accuracy = accuracy(session, model, test);
                board.scalar("test/accuracy", done, (float) accuracy);
              }
              curve.add(new Curve.Point(done, seconds, lastLoss, accuracy));
              lossSum = 0;
              lossCount = 0;
            }
            progress.update(s + 1, seconds, loss);
          }
          progress.finish(seconds, lastLoss);
        }
        double[] sorted = stepMillis.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        double finalAccuracy = curve.points().get(curve.points().size() - 1).testAccuracy();
        out.printf(Locale.ROOT, "%s: test accuracy %.2f%%, %.1f s of training%n", choice.displayName(), 100 * finalAccuracy, seconds);
        return new Result(choice, lr, curve, finalAccuracy, lastLoss, seconds, median, stateBytes, model.parameterCount(), done);
      }
    }
  }

  private static void deleteEventFiles(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      try (var files = Files.list(dir)) {
        for (Path p : files.filter(f -> f.getFileName().toString().startsWith("events.out.tfevents")).toList()) {
          Files.delete(p);
        }
      }
    }
  }

  private static ConfigProto config(boolean xla) {
    ConfigProto.Builder config = ConfigProto.newBuilder();
    if (xla) {
      config.setGraphOptions(GraphOptions.newBuilder()
          .setOptimizerOptions(OptimizerOptions.newBuilder().setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_1)));
    }
    return config.build();
  }

  private double accuracy(Session session, Model model, FashionMnist.Split test) {
    int[] identity = new int[test.count()];
    Arrays.setAll(identity, i -> i);
    long correct = 0;
    for (int start = 0; start < test.count(); start += EVAL_CHUNK) {
      int n = Math.min(EVAL_CHUNK, test.count() - start);
      try (TFloat32 x = images(test, identity, start, n);
          TInt32 predicted = (TInt32) session.runner().feed(model.evalImages(), x).fetch(model.evalPredictions()).run().get(0)) {
        for (int i = 0; i < n; i++) {
          if (predicted.getInt(i) == (test.labels()[start + i] & 0xff)) {
            correct++;
          }
        }
      }
    }
    return (double) correct / test.count();
  }

  private TFloat32 images(FashionMnist.Split split, int[] order, int start, int n) {
    float[] values = new float[n * FashionMnist.PIXELS];
    for (int i = 0; i < n; i++) {
      int base = order[start + i] * FashionMnist.PIXELS;
      for (int p = 0; p < FashionMnist.PIXELS; p++) {
        values[i * FashionMnist.PIXELS + p] = (split.images()[base + p] & 0xff) / 255f;
      }
    }
    Shape shape = options.model() == Model.Architecture.CNN ? Shape.of(n, 28, 28, 1) : Shape.of(n, FashionMnist.PIXELS);
    return TFloat32.tensorOf(shape, DataBuffers.of(values, true, false));
  }

  private static TInt32 labels(FashionMnist.Split split, int[] order, int start, int n) {
    int[] values = new int[n];
    for (int i = 0; i < n; i++) {
      values[i] = split.labels()[order[start + i]] & 0xff;
    }
    return TInt32.tensorOf(Shape.of(n), DataBuffers.of(values, true, false));
  }

  /** A Fisher–Yates shuffle of 0..n−1; the same for every optimizer, so they see the same batches. */
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
      w.println("optimizer,step,seconds,train_loss,test_accuracy");
      for (Result r : results) {
        for (Curve.Point p : r.curve().points()) {
          w.printf(Locale.ROOT, "%s,%d,%.4f,%.6f,%s%n", r.choice().flag(), p.step(), p.seconds(), p.trainLoss(),
              Double.isNaN(p.testAccuracy()) ? "" : String.format(Locale.ROOT, "%.4f", p.testAccuracy()));
        }
      }
    }
  }

  /** The final comparison as a Markdown table. */
  static String table(List<Result> results) {
    double adamStep = results.stream().filter(r -> r.choice() == OptimizerChoice.ADAM).mapToDouble(Result::medianStepMillis)
        .findFirst().orElse(Double.NaN);
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "| %-12s | %6s | %9s | %10s | %8s | %8s | %7s | %13s | %12s |%n", "optimizer", "lr",
        "test acc", "train loss", "wall s", "ms/step", "vs Adam", "state", "88% at"));
    b.append("|--------------|--------|-----------|------------|----------|----------|---------|---------------|--------------|\n");
    for (Result r : results) {
      Curve.Point reached = r.curve().firstReaching(TARGET_ACCURACY);
      String at = reached == null ? "not reached" : String.format(Locale.ROOT, "%d / %.0f s", reached.step(), reached.seconds());
      b.append(String.format(Locale.ROOT, "| %-12s | %6s | %8.2f%% | %10.4f | %8.1f | %8.2f | %6.2fx | %13s | %12s |%n",
          r.choice().displayName(), r.learningRate(), 100 * r.testAccuracy(), r.finalTrainLoss(), r.trainSeconds(),
          r.medianStepMillis(), r.medianStepMillis() / adamStep, human(r.stateBytes()), at));
    }
    b.append("\nms/step: median step time; vs Adam: its ratio to Adam's in this run; state: bytes of slot and\n"
        + "hyperparameter variables; 88% at: first evaluation (step / training seconds) at ≥ 88% test accuracy.\n");
    return b.toString();
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

  /** One epoch's progress bar: a line redrawn in place on a terminal, a line per quarter otherwise. */
  private final class Progress {
    private static final int WIDTH = 30;
    private final int epoch;
    private final int steps;
    private long lastDraw;
    private int lastQuarter;
    private final double epochStartSeconds;

    Progress(int epoch, int steps, double startSeconds) {
      this.epoch = epoch;
      this.steps = steps;
      this.epochStartSeconds = startSeconds;
    }

    void update(int done, double seconds, float loss) {
      if (interactive) {
        long now = System.nanoTime();
        if (now - lastDraw > 200_000_000L || done == steps) {
          lastDraw = now;
          out.print("\r" + line(done, seconds, loss));
          out.flush();
        }
      } else {
        int quarter = 4 * done / steps;
        if (quarter > lastQuarter && done < steps) {
          lastQuarter = quarter;
          out.println(line(done, seconds, loss));
        }
      }
    }

    void finish(double seconds, double loss) {
      String line = line(steps, seconds, (float) loss);
      out.println(interactive ? "\r" + line : line);
    }

    private String line(int done, double seconds, float loss) {
      int filled = WIDTH * done / steps;
      double rate = done / Math.max(1e-9, seconds - epochStartSeconds);
      return String.format(Locale.ROOT, "  epoch %d/%d [%s%s] %4d/%d  %6.1f steps/s  loss %.4f", epoch, options.epochs(),
          "#".repeat(filled), ".".repeat(WIDTH - filled), done, steps, rate, loss);
    }
  }
}
