package dev.fisheropt.bench;

import dev.fisheropt.examples.FashionMnist;
import dev.fisheropt.examples.Model;
import dev.fisheropt.examples.OptimizerChoice;
import dev.fisheropt.examples.StateMemory;
import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.InverseRoot;
import dev.fisheropt.optimizers.LayerCollection;
import dev.fisheropt.xla.Xla;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Step-time benchmark of the optimizers on the MLP 784→w→w→10 (float32, CPU), as ratios to Adam
 * measured in the same run.
 *
 * <p>Method: one graph and session per optimizer, all open at once; {@link #INPUTS} pre-built
 * random batches fed in rotation; a warm-up step, then rounds in which every optimizer runs one
 * block of consecutive steps, the order of optimizers rotating from round to round. A block holds
 * whole refresh intervals: {@link #BLOCK} steps (so FISMO with interval 10 pays exactly one refresh
 * per block), or one step for an optimizer that refreshes on every step ({@link Entry#blockSteps}).
 * A block's time ÷ its steps is one sample; the figures are medians over rounds, and ratios are
 * medians of the per-round ratios, which cancels most of the drift of a machine shared with other
 * jobs.
 *
 * <p>Modes: {@code grid ROUNDS [WIDTHS [BATCHES [ENTRIES]]]} (step time over w × B, against the
 * FLOP model and the roofline of {@link Roofline#step}, whose ceilings it measures in the same
 * run), {@code update ROUNDS [ENTRIES]} (the optimizer update alone, against the MatMul rate of the
 * same run, plus the pieces FISMO spends its time in), {@code profile STEPS W B ENTRY [cnn]}
 * (per-op-type kernel times of one optimizer's step, {@link Profile}). ENTRIES: labels,
 * comma-separated (see {@link #select}).
 */
public final class StepBench {
  static final int INPUTS = 4;
  static final int BLOCK = 10;
  static final int CEILING_ROUNDS = 5;

  /** One benchmarked configuration; {@code xla}: its session clusters with {@link Xla}. */
  record Entry(String label, OptimizerChoice choice, OptimizerChoice.Tuning tuning, boolean xla) {
    Entry(String label, OptimizerChoice choice, OptimizerChoice.Tuning tuning) {
      this(label, choice, tuning, false);
    }

    /**
     * Steps per timed block of the grid. FISMO k=1 refreshes on every step, so one step is a whole
     * interval, and at 0.1–25 s a step it is long enough to time alone; ten would make it most of
     * the run at w = 2048.
     */
    int blockSteps() {
      return choice == OptimizerChoice.FISMO && tuning.fismoInterval() == 1 ? 1 : BLOCK;
    }

    /** XLA sessions and FISMO's other root methods run only when asked for by label. */
    boolean onRequest() {
      return xla || tuning.inverseRoot() != InverseRoot.EIGH;
    }
  }

  static final List<Entry> ENTRIES =
      List.of(
          new Entry("Adam", OptimizerChoice.ADAM, OptimizerChoice.Tuning.defaults()),
          new Entry("SGD+momentum", OptimizerChoice.MOMENTUM, OptimizerChoice.Tuning.defaults()),
          new Entry("Muon", OptimizerChoice.MUON, OptimizerChoice.Tuning.defaults()),
          new Entry("FISMO k=1", OptimizerChoice.FISMO, OptimizerChoice.Tuning.fismoEvery(1)),
          new Entry("FISMO k=10", OptimizerChoice.FISMO, OptimizerChoice.Tuning.fismoEvery(10)),
          new Entry(
              "FISMO k=1 native eigh",
              OptimizerChoice.FISMO,
              OptimizerChoice.Tuning.fismoEvery(1).withInverseRoot(InverseRoot.NATIVE_EIGH)),
          new Entry(
              "FISMO k=10 native eigh",
              OptimizerChoice.FISMO,
              OptimizerChoice.Tuning.fismoEvery(10).withInverseRoot(InverseRoot.NATIVE_EIGH)),
          new Entry("AdaFisher", OptimizerChoice.ADAFISHER, OptimizerChoice.Tuning.defaults()),
          new Entry("AdaFisherW", OptimizerChoice.ADAFISHERW, OptimizerChoice.Tuning.defaults()),
          new Entry("FROG", OptimizerChoice.FROG, OptimizerChoice.Tuning.defaults()),
          new Entry(
              "SGD+momentum XLA",
              OptimizerChoice.MOMENTUM,
              OptimizerChoice.Tuning.defaults(),
              true),
          new Entry("FROG XLA", OptimizerChoice.FROG, OptimizerChoice.Tuning.defaults(), true));

  /**
   * The entries whose labels are listed (comma-separated, case-insensitive), in {@link #ENTRIES}
   * order; Adam always comes first, since every ratio is to Adam. "all" or nothing: every entry but
   * those {@link Entry#onRequest} (asked for by name).
   */
  static List<Entry> select(String labels) {
    if (labels == null || labels.equalsIgnoreCase("all")) {
      return ENTRIES.stream().filter(e -> !e.onRequest()).toList();
    }
    List<String> wanted =
        Arrays.stream(labels.split(",")).map(l -> l.trim().toLowerCase(Locale.ROOT)).toList();
    for (String w : wanted) {
      if (ENTRIES.stream().noneMatch(e -> e.label().toLowerCase(Locale.ROOT).equals(w))) {
        throw new IllegalArgumentException(
            "unknown entry '"
                + w
                + "'; choose from "
                + ENTRIES.stream().map(Entry::label).toList());
      }
    }
    return ENTRIES.stream()
        .filter(e -> e == ENTRIES.get(0) || wanted.contains(e.label().toLowerCase(Locale.ROOT)))
        .toList();
  }

  private StepBench() {}

  public static void main(String[] args) {
    String mode = args.length > 0 ? args[0] : "grid";
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    System.out.printf(
        Locale.ROOT,
        "# %s, %d cores, %s %s, Java %s%n",
        mode,
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("os.name"),
        System.getProperty("os.arch"),
        System.getProperty("java.version"));
    switch (mode) {
      case "grid" ->
          grid(
              rounds,
              args.length > 2 ? ints(args[2]) : new int[] {256, 1024, 2048},
              args.length > 3 ? ints(args[3]) : new int[] {64, 512, 4096},
              select(args.length > 4 ? args[4] : null));
      case "update" -> UpdateBench.run(rounds, select(args.length > 2 ? args[2] : null));
      case "profile" ->
          Profile.run(
              select(args[4]).get(select(args[4]).size() - 1),
              args.length > 5 && args[5].equals("cnn")
                  ? Model.Architecture.CNN
                  : Model.Architecture.MLP,
              Integer.parseInt(args[2]),
              Integer.parseInt(args[3]),
              rounds);
      default ->
          throw new IllegalArgumentException("mode must be grid, update or profile, got " + mode);
    }
  }

  private static int[] ints(String list) {
    return Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
  }

  /** A training step of one optimizer on the MLP, ready to run. */
  static final class Trainer implements AutoCloseable {
    final Entry entry;
    final Graph graph = new Graph();
    final Session session;
    final Model model;
    final Op step;
    final long stateBytes;
    final TFloat32[] images = new TFloat32[INPUTS];
    final TInt32[] labels = new TInt32[INPUTS];
    private int next;

    Trainer(Entry entry, int width, int batch) {
      this(entry, Model.Architecture.MLP, width, batch);
    }

    Trainer(Entry entry, Model.Architecture architecture, int width, int batch) {
      this(
          entry,
          architecture,
          width,
          batch,
          (g, layers) ->
              entry
                  .choice()
                  .build(
                      g,
                      layers,
                      Schedule.constant(entry.choice().defaultLearningRate()),
                      entry.tuning()));
    }

    /** A trainer whose optimizer {@code factory} builds from the graph and the model's layers. */
    Trainer(
        Entry entry,
        Model.Architecture architecture,
        int width,
        int batch,
        BiFunction<Graph, LayerCollection, GuardedOptimizer> factory) {
      this.entry = entry;
      model = new Model(graph, architecture, batch, width, 1);
      GuardedOptimizer optimizer = factory.apply(graph, entry.choice().layersOf(model));
      step = optimizer.minimize(model.loss());
      stateBytes = StateMemory.bytes(optimizer);
      session = entry.xla() ? new Session(graph, Xla.sessionConfig()) : new Session(graph);
      session.initialize();
      SplittableRandom random = new SplittableRandom(42);
      for (int i = 0; i < INPUTS; i++) {
        float[] x = new float[batch * FashionMnist.PIXELS];
        for (int j = 0; j < x.length; j++) {
          x[j] = (float) random.nextDouble();
        }
        int[] y = new int[batch];
        Arrays.setAll(y, j -> random.nextInt(FashionMnist.CLASSES));
        Shape shape =
            architecture == Model.Architecture.CNN
                ? Shape.of(batch, 28, 28, 1)
                : Shape.of(batch, FashionMnist.PIXELS);
        images[i] = TFloat32.tensorOf(shape, DataBuffers.of(x, true, false));
        labels[i] = TInt32.tensorOf(Shape.of(batch), DataBuffers.of(y, true, false));
      }
    }

    /** Runs {@code steps} steps and returns the mean seconds per step. */
    double block(int steps) {
      long t0 = System.nanoTime();
      for (int s = 0; s < steps; s++) {
        int i = next++ % INPUTS;
        session
            .runner()
            .feed(model.trainImages(), images[i])
            .feed(model.trainLabels(), labels[i])
            .addTarget(step)
            .run();
      }
      return (System.nanoTime() - t0) / 1e9 / steps;
    }

    @Override
    public void close() {
      for (int i = 0; i < INPUTS; i++) {
        images[i].close();
        labels[i].close();
      }
      session.close();
      graph.close();
    }
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /**
   * The grid's table, printed at the end: the ceilings are the best rounds of the whole run (one
   * ceiling round per timing round), since a shared machine can be slow for minutes at a time. Each
   * (w, B) also goes to stderr as it finishes.
   */
  private static void grid(int rounds, int[] widths, int[] batches, List<Entry> entries) {
    int momentum = -1;
    for (int i = 0; i < entries.size(); i++) {
      if (entries.get(i).choice() == OptimizerChoice.MOMENTUM) {
        momentum = i;
      }
    }
    List<double[][]> measured = new ArrayList<>();
    Roofline roof;
    try (Roofline.Ceilings ceilings = new Roofline.Ceilings()) {
      for (int r = 0; r < CEILING_ROUNDS; r++) {
        ceilings.round();
      }
      for (int w : widths) {
        for (int b : batches) {
          List<Trainer> trainers = new ArrayList<>();
          for (Entry e : entries) {
            trainers.add(new Trainer(e, w, b));
          }
          for (Trainer t : trainers) {
            t.block(1);
          }
          double[][] times = new double[trainers.size()][rounds];
          for (int r = 0; r < rounds; r++) {
            ceilings.round();
            for (int k = 0; k < trainers.size(); k++) {
              int i = (k + r) % trainers.size();
              times[i][r] = trainers.get(i).block(trainers.get(i).entry.blockSteps());
            }
          }
          trainers.forEach(Trainer::close);
          measured.add(times);
          for (int i = 0; i < entries.size(); i++) {
            System.err.printf(
                Locale.ROOT,
                "# w = %d, B = %d, %s: %.2f ms/step, %.2f x Adam%n",
                w,
                b,
                entries.get(i).label(),
                1000 * median(times[i]),
                medianRatio(times[i], times[0]));
          }
        }
      }
      roof = ceilings.roofline();
    }
    System.out.println(
        "| w | B | B/(m+n) hidden | optimizer | ms/step (median) | roofline ms/step | ratio to Adam"
            + " (median of rounds) | FLOP-predicted ratio | roofline-predicted ratio | measured ÷"
            + " roofline-predicted | ratio to SGD+momentum (median of rounds) |");
    System.out.println("|---|---|---|---|---|---|---|---|---|---|---|");
    int config = 0;
    for (int w : widths) {
      for (int b : batches) {
        double[][] times = measured.get(config++);
        double adamRoof = roof.step(entries.get(0), w, b);
        for (int i = 0; i < entries.size(); i++) {
          Entry e = entries.get(i);
          double stepRoof = roof.step(e, w, b);
          double ratio = medianRatio(times[i], times[0]);
          System.out.printf(
              Locale.ROOT,
              "| %d | %d | %.2f | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |%n",
              w,
              b,
              b / (2.0 * w),
              e.label(),
              1000 * median(times[i]),
              1000 * stepRoof,
              ratio,
              FlopModel.stepRatio(e, w, b),
              stepRoof / adamRoof,
              ratio / (stepRoof / adamRoof),
              momentum < 0 ? Double.NaN : medianRatio(times[i], times[momentum]));
        }
      }
    }
  }

  /** The median over rounds of {@code times[r] ÷ base[r]}. */
  private static double medianRatio(double[] times, double[] base) {
    double[] ratios = new double[times.length];
    for (int r = 0; r < times.length; r++) {
      ratios[r] = times[r] / base[r];
    }
    return median(ratios);
  }

  /** An m×n float32 variable of uniform values in [−0.5, 0.5) from {@code seed}. */
  static Operand<TFloat32> variable(Ops tf, int m, int n, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] v = new float[m * n];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (random.nextDouble() - 0.5);
    }
    return tf.variable(tf.withInitScope().constant(Shape.of(m, n), DataBuffers.of(v)));
  }
}
