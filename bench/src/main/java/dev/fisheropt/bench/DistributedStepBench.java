package dev.fisheropt.bench;

import dev.fisheropt.distributed.Cluster;
import dev.fisheropt.distributed.DataParallel;
import dev.fisheropt.examples.Compare;
import dev.fisheropt.examples.CompareOptions;
import dev.fisheropt.examples.FashionMnist;
import dev.fisheropt.examples.Model;
import dev.fisheropt.examples.OptimizerChoice;
import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.GuardedOptimizer;
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

/**
 * What data parallelism costs per step: one worker of a {@link Cluster} ({@code FISHEROPT_CLUSTER},
 * set by {@code dev.fisheropt.distributed.LocalCluster --workers N}) trains the comparison's model
 * with each of the six optimizers for STEPS steps of the global batch 128 (its 1/N share; the first
 * training images in order), as {@code compare} builds them (default rates, warmup + cosine, FISMO
 * and AdaFisher refreshing every 10 steps). Task 0 prints, per optimizer, the values the step's
 * top-level all-reduces carry (the gradients, FROG's row samples; the reductions inside refresh
 * branches run on refresh steps only and are not counted), the median time of one all-reduce of
 * that many float32 values alone (20 runs after training), the median step time after the first 5
 * steps, and the mean time of the refresh steps 11, 21, 31, ….
 *
 * <p>{@code DistributedStepBench cnn|mlp STEPS [sharded]}: with {@code sharded}, FISMO alone, with
 * its factor refresh split between the workers ({@code Fismo.builder().shardedRoots(true)}).
 */
public final class DistributedStepBench {
  private static final int BATCH = CompareOptions.BATCH_DEFAULT;
  private static final int PROBE_RUNS = 20;
  private static final int WARMUP_STEPS = 5;

  private DistributedStepBench() {}

  public static void main(String[] args) throws Exception {
    Model.Architecture architecture = Model.Architecture.valueOf(args[0].toUpperCase(Locale.ROOT));
    int steps = Integer.parseInt(args[1]);
    boolean sharded = args.length > 2 && args[2].equals("sharded");
    List<OptimizerChoice> choices =
        sharded
            ? List.of(OptimizerChoice.FISMO)
            : List.of(
                OptimizerChoice.ADAM,
                OptimizerChoice.MUON,
                OptimizerChoice.FISMO,
                OptimizerChoice.ADAFISHER,
                OptimizerChoice.ADAFISHERW,
                OptimizerChoice.FROG);
    DataParallel job = DataParallel.start(Cluster.fromEnvironment());
    DataParallel.Share share = job.share(BATCH);
    FashionMnist.Split train = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY).train();
    int[] order = new int[steps * BATCH];
    Arrays.setAll(order, i -> i);
    if (job.isChief()) {
      System.out.printf(
          Locale.ROOT,
          "%s, %d worker%s, global batch %d (%d per worker), %d steps%s%n",
          architecture,
          job.cluster().size(),
          job.cluster().size() > 1 ? "s" : "",
          BATCH,
          share.rows(),
          steps,
          sharded ? ", FISMO with sharded roots" : "");
      System.out.println(
          "| optimizer | all-reduced per step | alone, ms | ms/step | refresh steps, ms |");
      System.out.println("|---|---|---|---|---|");
    }
    Session last = null;
    for (OptimizerChoice choice : choices) {
      Graph graph = new Graph();
      Model model = new Model(graph, architecture, share.rows(), CompareOptions.HIDDEN_DEFAULT, 1);
      Schedule schedule =
          CompareOptions.LearningRates.WARMUP_COSINE.of(choice.defaultLearningRate(), steps);
      GuardedOptimizer optimizer =
          sharded
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
      Operand<TFloat32> probe =
          job.collectives()
              .mean(tf, tf.zeros(tf.constant(new long[] {Math.max(reduced, 1)}), TFloat32.class));
      Session session = job.newSession(graph);
      job.initialize(session);
      double[] millis = new double[steps];
      for (int s = 0; s < steps; s++) {
        int first = s * BATCH + share.start();
        long t0 = System.nanoTime();
        try (TFloat32 x = Compare.images(architecture, train, order, first, share.rows());
            TInt32 y = Compare.labels(train, order, first, share.rows())) {
          session
              .runner()
              .feed(model.trainImages(), x)
              .feed(model.trainLabels(), y)
              .addTarget(step)
              .run();
        }
        millis[s] = (System.nanoTime() - t0) / 1e6;
      }
      double[] probeMillis = new double[PROBE_RUNS];
      for (int i = 0; i < PROBE_RUNS; i++) {
        long t0 = System.nanoTime();
        session.runner().fetch(probe).run().close();
        probeMillis[i] = (System.nanoTime() - t0) / 1e6;
      }
      if (job.isChief()) {
        System.out.printf(
            Locale.ROOT,
            "| %s | %,d values (%.2f MB) | %.1f | %.1f | %s |%n",
            choice.displayName(),
            reduced,
            reduced * 4 / 1e6,
            StepBench.median(probeMillis),
            StepBench.median(Arrays.copyOfRange(millis, Math.min(WARMUP_STEPS, steps - 1), steps)),
            refreshes(choice) ? String.format(Locale.ROOT, "%.1f", refreshMillis(millis)) : "—");
      }
      if (last != null) {
        last.close();
      }
      last = session;
    }
    job.finish(last);
    System.exit(0);
  }

  /** Whether the optimizer, as the comparison builds it, refreshes every 10 steps. */
  private static boolean refreshes(OptimizerChoice choice) {
    return choice == OptimizerChoice.FISMO || choice == OptimizerChoice.ADAFISHER;
  }

  /** The mean time of the steps run after 10, 20, … completed ones (steps 11, 21, …). */
  private static double refreshMillis(double[] millis) {
    int interval = OptimizerChoice.Tuning.FISMO_INTERVAL_DEFAULT;
    double sum = 0;
    int n = 0;
    for (int s = interval; s < millis.length; s += interval) {
      sum += millis[s];
      n++;
    }
    return n == 0 ? Double.NaN : sum / n;
  }

  /** The values the step's top-level all-reduces carry. */
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
