package dev.fisheropt.bench;

import dev.fisheropt.ops.CustomOps;
import dev.fisheropt.ops.FusedPolar;
import dev.fisheropt.ops.NewtonSchulz;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.Polar;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * Step time of the fused Newton–Schulz polar op ({@code Polar.FUSED}) against the graph loop
 * ({@code Polar.NEWTON_SCHULZ}), alone (float32 and float64) and inside a float32 FISMO step, on
 * CPU.
 *
 * <p>Both variants of a case are built in separate graphs and sessions, warmed up, then timed
 * alternately (fused, graph, fused, graph, ...) so that load from other processes hits both alike;
 * the table reports medians and the ratio graph ÷ fused (above 1: the fused op is faster).
 *
 * <p>Usage: {@code PolarBench [reps] [size ...]} with sizes like {@code 256x256}; defaults 15 and
 * 256x256 512x2048 1024x4096.
 */
public final class PolarBench {
  private static final int WARMUP = 3;

  private PolarBench() {}

  public static void main(String[] args) {
    int reps = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    List<long[]> sizes = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      String[] parts = args[i].split("x");
      sizes.add(new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])});
    }
    if (sizes.isEmpty()) {
      sizes = List.of(new long[] {256, 256}, new long[] {512, 2048}, new long[] {1024, 4096});
    }
    if (!CustomOps.shared().isLoaded()) {
      throw new IllegalStateException(
          "the custom op library did not load: "
              + CustomOps.shared().unavailableReason().orElse(""));
    }
    System.out.println("| case | size | fused median (ms) | graph median (ms) | graph ÷ fused |");
    System.out.println("|---|---|---:|---:|---:|");
    for (long[] size : sizes) {
      row(
          "NS5 polar, float32",
          size,
          reps,
          compare(
              reps, polarCase(size, TFloat32.class, true), polarCase(size, TFloat32.class, false)));
    }
    for (long[] size : sizes) {
      row(
          "NS5 polar, float64",
          size,
          reps,
          compare(
              reps, polarCase(size, TFloat64.class, true), polarCase(size, TFloat64.class, false)));
    }
    for (long[] size : sizes) {
      row(
          "FISMO step (float32), preconditionerInterval 1000",
          size,
          reps,
          compare(
              reps,
              fismoCase(size, Polar.FUSED, 1000),
              fismoCase(size, Polar.NEWTON_SCHULZ, 1000)));
    }
    long[] small = sizes.get(0);
    row(
        "FISMO step (float32), preconditionerInterval 1",
        small,
        reps,
        compare(reps, fismoCase(small, Polar.FUSED, 1), fismoCase(small, Polar.NEWTON_SCHULZ, 1)));
  }

  private static void row(String name, long[] size, int reps, double[] medians) {
    System.out.printf(
        Locale.ROOT,
        "| %s | %d×%d | %.2f | %.2f | %.2f |%n",
        name,
        size[0],
        size[1],
        medians[0],
        medians[1],
        medians[1] / medians[0]);
  }

  /** A graph, its session, and what one timed run executes: a target op or a fetched scalar. */
  private record Case(Graph graph, Session session, Op target, Operand<?> fetch)
      implements AutoCloseable {
    void run() {
      Session.Runner runner = session.runner();
      if (target != null) {
        runner.addTarget(target);
      }
      if (fetch != null) {
        runner.fetch(fetch);
      }
      runner.run().close();
    }

    @Override
    public void close() {
      session.close();
      graph.close();
    }
  }

  private static double[] compare(int reps, Case fused, Case graph) {
    try (fused;
        graph) {
      for (int i = 0; i < WARMUP; i++) {
        fused.run();
        graph.run();
      }
      double[] fusedTimes = new double[reps];
      double[] graphTimes = new double[reps];
      for (int i = 0; i < reps; i++) {
        fusedTimes[i] = time(fused);
        graphTimes[i] = time(graph);
      }
      return new double[] {StepBench.median(fusedTimes), StepBench.median(graphTimes)};
    }
  }

  private static double time(Case c) {
    long start = System.nanoTime();
    c.run();
    return (System.nanoTime() - start) / 1e6;
  }

  /**
   * The polar factor of a variable (read every run, so nothing can be constant-folded), fetched as
   * its sum: a target op alone let the session skip the work, and fetching the whole matrix would
   * time a copy.
   */
  private static <T extends TFloating> Case polarCase(long[] size, Class<T> type, boolean fused) {
    Graph g = new Graph();
    Ops tf = Ops.create(g);
    Variable<T> m =
        tf.variable(tf.withInitScope().dtypes.cast(random(tf.withInitScope(), size, 1), type));
    Operand<T> x =
        fused
            ? FusedPolar.polar(
                tf,
                m,
                NewtonSchulz.STEPS_DEFAULT,
                NewtonSchulz.A_DEFAULT,
                NewtonSchulz.B_DEFAULT,
                NewtonSchulz.C_DEFAULT)
            : NewtonSchulz.polar(
                tf,
                m,
                NewtonSchulz.STEPS_DEFAULT,
                NewtonSchulz.A_DEFAULT,
                NewtonSchulz.B_DEFAULT,
                NewtonSchulz.C_DEFAULT);
    Session s = new Session(g);
    s.initialize();
    return new Case(g, s, null, tf.reduceSum(x, tf.constant(new int[] {0, 1})));
  }

  /**
   * One FISMO step on a single m×n weight with loss ⟨W, C⟩ + ½‖W‖², so that the step, not the
   * model, dominates the time.
   */
  private static Case fismoCase(long[] size, Polar polar, int preconditionerInterval) {
    Graph g = new Graph();
    Ops tf = Ops.create(g);
    Variable<TFloat32> w = tf.withName("w").variable(random(tf.withInitScope(), size, 2));
    Operand<TFloat32> c = random(tf, size, 3);
    Operand<TFloat32> loss =
        tf.math.add(
            tf.reduceSum(tf.math.mul(w, c), tf.constant(new int[] {0, 1})),
            tf.math.mul(
                tf.constant(0.5f), tf.reduceSum(tf.math.mul(w, w), tf.constant(new int[] {0, 1}))));
    Op step =
        Fismo.builder()
            .polar(polar)
            .preconditionerInterval(preconditionerInterval)
            .build(g)
            .minimize(loss);
    Session s = new Session(g);
    s.initialize();
    return new Case(g, s, step, null);
  }

  private static Operand<TFloat32> random(Ops tf, long[] size, long seed) {
    Random r = new Random(seed);
    float[] data = new float[Math.toIntExact(size[0] * size[1])];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) r.nextGaussian();
    }
    return tf.constant(Shape.of(size), DataBuffers.of(data, true, false));
  }
}
