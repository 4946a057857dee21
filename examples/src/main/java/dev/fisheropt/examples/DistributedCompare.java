package dev.fisheropt.examples;

import dev.fisheropt.distributed.Cluster;
import dev.fisheropt.distributed.DataParallel;
import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.GuardedOptimizer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The comparison's training, data-parallel: one process per worker of the {@link Cluster} in {@code
 * FISHEROPT_CLUSTER} (started by {@code bash run-compare.sh --workers N}, through {@code
 * dev.fisheropt.distributed.LocalCluster}), each on its 1/N of every global batch of the compare
 * protocol's batch order (seed, epoch 1), under the protocol's warmup + cosine schedule. Task 0
 * prints, per optimizer, the global batch's loss (the mean of the workers' losses) at the last
 * steps and the median time per step, and writes every step's loss to {@code
 * OUT/distributed-<model>-<optimizer>[-sharded]-<N>workers.csv}, so runs with different worker
 * counts compare step by step.
 *
 * <p>Arguments (picocli, {@code --help}): {@code --optimizers adam,fismo,… --model cnn|mlp --batch
 * B (global) --steps S --hidden H --seed S --data DIR --out DIR [--sharded-roots]}.
 */
public final class DistributedCompare {
  private DistributedCompare() {}

  /** The command line of a worker (picocli); every worker of a run gets the same one. */
  @Command(
      name = "run-compare.sh --workers N",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = "Data-parallel training of the comparison in N worker processes on loopback.")
  static final class Flags {
    @Option(
        names = "--optimizers",
        paramLabel = "LIST",
        split = ",",
        description = "optimizers to run, e.g. adam,fismo (default: the comparison's six)")
    List<OptimizerChoice> optimizers = new ArrayList<>();

    @Option(
        names = "--model",
        paramLabel = "cnn|mlp",
        description = "model (default: ${DEFAULT-VALUE})")
    Model.Architecture model = Model.Architecture.CNN;

    @Option(
        names = "--batch",
        paramLabel = "B",
        description = "global batch, split equally between the workers (default: ${DEFAULT-VALUE})")
    int batch = CompareOptions.BATCH_DEFAULT;

    @Option(
        names = "--steps",
        paramLabel = "S",
        description = "training steps, within one epoch (default: ${DEFAULT-VALUE})")
    int steps = 100;

    @Option(
        names = "--hidden",
        paramLabel = "H",
        description = "MLP width (default: ${DEFAULT-VALUE})")
    int hidden = CompareOptions.HIDDEN_DEFAULT;

    @Option(
        names = "--seed",
        paramLabel = "N",
        description = "initial weights and batch order (default: ${DEFAULT-VALUE})")
    long seed = CompareOptions.SEED_DEFAULT;

    @Option(names = "--data", paramLabel = "DIR", description = "Fashion-MNIST directory")
    Path data = FashionMnist.DEBIAN_DIRECTORY;

    @Option(
        names = "--out",
        paramLabel = "DIR",
        description = "output directory (default: ${DEFAULT-VALUE})")
    Path out = CompareOptions.OUT_DEFAULT;

    @Option(
        names = "--sharded-roots",
        description = "FISMO splits its factor refresh between the workers")
    boolean shardedRoots;
  }

  /** Parses a worker's command line; a bad one throws with a message that names the flag. */
  static Flags parse(String... args) {
    Flags flags = new Flags();
    CommandLine line = CompareOptions.commandLine(flags);
    try {
      line.parseArgs(args);
    } catch (ParameterException e) {
      throw new IllegalArgumentException(e.getMessage() + " (try --help)", e);
    }
    if (flags.batch < 1 || flags.steps < 1 || flags.hidden < 1) {
      throw new IllegalArgumentException("--batch, --steps and --hidden must be positive");
    }
    return flags;
  }

  public static void main(String[] args) throws Exception {
    if (Arrays.asList(args).contains("--help")) {
      new CommandLine(new Flags()).usage(System.out);
      return;
    }
    Flags flags = parse(args);
    List<OptimizerChoice> choices = new ArrayList<>(flags.optimizers);
    Model.Architecture architecture = flags.model;
    int batch = flags.batch;
    int steps = flags.steps;
    int hidden = flags.hidden;
    long seed = flags.seed;
    Path data = flags.data;
    Path out = flags.out;
    boolean shardedRoots = flags.shardedRoots;
    if (choices.isEmpty()) {
      choices.addAll(
          List.of(
              OptimizerChoice.ADAM,
              OptimizerChoice.MUON,
              OptimizerChoice.FISMO,
              OptimizerChoice.ADAFISHER,
              OptimizerChoice.ADAFISHERW,
              OptimizerChoice.FROG));
    }
    DataParallel job = DataParallel.start(Cluster.fromEnvironment());
    int workers = job.cluster().size();
    if (batch % workers != 0) {
      throw new IllegalArgumentException(
          "--batch " + batch + " does not split into " + workers + " equal shares");
    }
    int share = batch / workers;
    int task = job.cluster().taskIndex();
    FashionMnist.Split train = FashionMnist.load(data).train();
    int[] order = Compare.permutation(train.count(), seed * 1_000_003L + 1);
    if ((long) steps * batch > train.count()) {
      throw new IllegalArgumentException("--steps × --batch exceeds one epoch");
    }
    Files.createDirectories(out);
    Session last = null;
    for (OptimizerChoice choice : choices) {
      Graph graph = new Graph();
      Model model = new Model(graph, architecture, share, hidden, seed);
      Schedule schedule =
          CompareOptions.LearningRates.WARMUP_COSINE.of(choice.defaultLearningRate(), steps);
      // FISMO as the comparison builds it, with the refresh split between the workers.
      GuardedOptimizer optimizer =
          shardedRoots && choice == OptimizerChoice.FISMO
              ? Fismo.builder()
                  .name(choice.displayName())
                  .learningRate(schedule)
                  .preconditionerInterval(OptimizerChoice.Tuning.FISMO_INTERVAL_DEFAULT)
                  .shardedRoots(true)
                  .build(graph)
              : choice.build(
                  graph, choice.layersOf(model), schedule, OptimizerChoice.Tuning.defaults());
      Op step = job.minimize(optimizer, model.loss());
      long reduced = reducedPerStep(graph);
      Ops tf = Ops.create(graph);
      Operand<TFloat32> globalLoss = job.collectives().mean(tf, model.loss());
      // An all-reduce of as many float32 values as the step reduces, alone, to time it.
      Operand<TFloat32> probe =
          job.collectives()
              .mean(tf, tf.zeros(tf.constant(new long[] {Math.max(reduced, 1)}), TFloat32.class));
      Session session = job.newSession(graph);
      job.initialize(session);
      double[] losses = new double[steps];
      double[] millis = new double[steps];
      for (int s = 0; s < steps; s++) {
        int start = s * batch + task * share;
        long t0 = System.nanoTime();
        try (TFloat32 x = Compare.images(architecture, train, order, start, share);
            TInt32 y = Compare.labels(train, order, start, share);
            TFloat32 l =
                (TFloat32)
                    session
                        .runner()
                        .feed(model.trainImages(), x)
                        .feed(model.trainLabels(), y)
                        .addTarget(step)
                        .fetch(globalLoss)
                        .run()
                        .get(0)) {
          losses[s] = l.getFloat();
        }
        millis[s] = (System.nanoTime() - t0) / 1e6;
      }
      double[] probeMillis = new double[20];
      for (int i = 0; i < probeMillis.length; i++) {
        long t0 = System.nanoTime();
        session.runner().fetch(probe).run().close();
        probeMillis[i] = (System.nanoTime() - t0) / 1e6;
      }
      Arrays.sort(probeMillis);
      if (job.isChief()) {
        System.out.printf(
            Locale.ROOT,
            "%-10s all-reduced per step: %d values (%.2f MB float32), alone %.2f ms (median of"
                + " 20)%n",
            choice.displayName(),
            reduced,
            reduced * 4 / 1e6,
            probeMillis[probeMillis.length / 2]);
        double[] timed = Arrays.copyOfRange(millis, Math.min(5, steps - 1), steps);
        Arrays.sort(timed);
        // FISMO and AdaFisher refresh on the steps whose completed count is a multiple of 10.
        double refreshMillis =
            java.util.stream.IntStream.range(1, steps)
                .filter(s -> s % OptimizerChoice.Tuning.FISMO_INTERVAL_DEFAULT == 0)
                .mapToDouble(s -> millis[s])
                .average()
                .orElse(Double.NaN);
        System.out.printf(
            Locale.ROOT,
            "%-10s workers %d, global batch %d (%d per worker): loss at step %d %.7f, mean of the"
                + " last 10 %.7f, median %.1f ms/step, steps 11, 21, … %.1f ms%n",
            choice.displayName(),
            workers,
            batch,
            share,
            steps,
            losses[steps - 1],
            Arrays.stream(losses, Math.max(0, steps - 10), steps).average().orElse(Double.NaN),
            timed[timed.length / 2],
            refreshMillis);
        Path csv =
            out.resolve(
                String.format(
                    Locale.ROOT,
                    "distributed-%s-%s%s-%dworkers.csv",
                    architecture.name().toLowerCase(Locale.ROOT),
                    choice.flag(),
                    shardedRoots && choice == OptimizerChoice.FISMO ? "-sharded" : "",
                    workers));
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(csv))) {
          w.println("step,global_loss,ms");
          for (int s = 0; s < steps; s++) {
            w.printf(Locale.ROOT, "%d,%.9g,%.3f%n", s + 1, losses[s], millis[s]);
          }
        }
      }
      if (last != null) {
        last.close();
      }
      last = session;
    }
    job.finish(last);
    System.exit(0);
  }

  /**
   * The values the step's top-level all-reduces carry (the gradients, FROG's row samples); those
   * inside refresh branches (AdaFisher's statistics, FISMO's sharded refresh) run only on refresh
   * steps and are not counted.
   */
  private static long reducedPerStep(Graph graph) {
    long total = 0;
    Iterator<GraphOperation> ops = graph.operations();
    while (ops.hasNext()) {
      GraphOperation op = ops.next();
      if ("CollectiveReduceV2".equals(op.type())) {
        total += op.input(0).shape().size();
      }
    }
    return total;
  }
}
