package dev.fisheropt.bench;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.optimizers.AdaFisher;
import dev.fisheropt.optimizers.ElementwiseOptimizer;
import dev.fisheropt.optimizers.Fallback;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.LayerCollection;
import dev.fisheropt.optimizers.Muon;
import dev.fisheropt.optimizers.Polar;
import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.BiFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.framework.optimizers.Optimizer;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * How much each optimizer's steps depend on the scale of the loss, on a float64 MLP 16→32(tanh)→10
 * with softmax cross-entropy, 20 fixed batches of 64 (seed 1) used in turn, every optimizer at its
 * defaults. The loss is multiplied by a fed scale s, so every gradient is s times the unscaled one.
 *
 * <ul>
 *   <li>Constant scale: the parameter change θ_T − θ_0 after T = 1 and T = 20 steps at s ∈ {1e-3,
 *       1e3, 1e6}, as ‖Δθ(s)‖/‖Δθ(1)‖ (1 = scale-free; s = the step grows like SGD's), and after 20
 *       steps ‖Δθ(s) − Δθ(1)‖/‖Δθ(1)‖ (0 = the same trajectory).
 *   <li>Spike: 10 steps at s = 1, one step at s = 1000, 50 more at s = 1; each step's size ‖θ_t −
 *       θ_{t−1}‖ divided by that of the same step of an unspiked run.
 *   <li>The unscaled mean loss over the 20 batches after 100 steps at s = 1 and s = 1e3, with the
 *       normalised statistics also at dampings 0.01, 0.1, 1 and 10, and FISMO with its factors
 *       frozen.
 *   <li>How far FISMO's factors of the first kernel have moved from I after 20 steps at each scale.
 * </ul>
 *
 * All parameters (kernels and biases) count; Muon and FISMO send the biases to their Adam fallback.
 *
 * <p>Usage: {@code LossScaleBench} (about a minute on two cores); prints five Markdown tables.
 */
public final class LossScaleBench {
  private static final int IN = 16;
  private static final int HIDDEN = 32;
  private static final int CLASSES = 10;
  private static final int BATCH = 64;
  private static final int BATCHES = 20;
  private static final double[] SCALES = {1e-3, 1e3, 1e6};
  private static final int WARMUP = 10;
  private static final int AFTER = 50;
  private static final double SPIKE = 1000;

  private LossScaleBench() {}

  /** One optimizer under test: a name and how to build it on a model. */
  record Case(String name, BiFunction<Graph, Model, Optimizer> build) {}

  static List<Case> cases() {
    return List.of(
        new Case("Muon", (g, m) -> Muon.builder().build(g)),
        new Case("FISMO (default)", (g, m) -> Fismo.builder().build(g)),
        new Case(
            "FISMO (default) polar(EXACT)", (g, m) -> Fismo.builder().polar(Polar.EXACT).build(g)),
        new Case(
            "FISMO normalizedStatistics(true)",
            (g, m) -> Fismo.builder().normalizedStatistics(true).build(g)),
        new Case("AdaFisher", (g, m) -> AdaFisher.builder().layers(m.layers).build(g)),
        new Case(
            "Adam (ElementwiseOptimizer)",
            (g, m) -> ElementwiseOptimizer.builder(Fallback.adam()).build(g)));
  }

  public static void main(String[] args) {
    Data data = new Data(1);
    System.out.println(
        "| optimizer | 1 step: s=1e-3 | s=1e3 | s=1e6 | 20 steps: s=1e-3 | s=1e3 | s=1e6 |");
    System.out.println("|---|---:|---:|---:|---:|---:|---:|");
    List<String> deviations = new ArrayList<>();
    for (Case c : cases()) {
      double[] one1 = displacement(c, data, constant(1, 1.0));
      double[] one20 = displacement(c, data, constant(20, 1.0));
      StringBuilder row = new StringBuilder("| " + c.name());
      StringBuilder row20 = new StringBuilder();
      StringBuilder deviation = new StringBuilder("| " + c.name());
      for (double s : SCALES) {
        row.append(" | ").append(fmt(norm(displacement(c, data, constant(1, s))) / norm(one1)));
        double[] d20 = displacement(c, data, constant(20, s));
        row20.append(" | ").append(fmt(norm(d20) / norm(one20)));
        deviation.append(" | ").append(fmt(norm(DenseMatrices.subtract(d20, one20)) / norm(one20)));
      }
      System.out.println(row.append(row20).append(" |"));
      deviations.add(deviation.append(" |").toString());
    }
    System.out.println();
    System.out.println(
        "| optimizer | ‖Δθ(s)−Δθ(1)‖/‖Δθ(1)‖ after 20 steps: s=1e-3 | s=1e3 | s=1e6 |");
    System.out.println("|---|---:|---:|---:|");
    deviations.forEach(System.out::println);
    System.out.println();
    System.out.println(
        "| FISMO, after 20 steps, ‖P − I‖_F/‖I‖_F of dense1 (P 16×16, Q 32×32) | s=1e-3 | s=1 |"
            + " s=1e3 | s=1e6 |");
    System.out.println("|---|---:|---:|---:|---:|");
    for (Case c : List.of(cases().get(1), cases().get(3))) {
      for (String slot : List.of("P", "Q")) {
        StringBuilder row = new StringBuilder("| " + c.name() + ", " + slot);
        for (double s : new double[] {1e-3, 1, 1e3, 1e6}) {
          row.append(" | ").append(fmt(distanceFromIdentity(c, data, constant(20, s), slot)));
        }
        System.out.println(row.append(" |"));
      }
    }
    System.out.println();
    System.out.println(
        "| optimizer | mean loss over the 20 batches after 100 steps: s=1 | s=1e3 |");
    System.out.println("|---|---:|---:|");
    List<Case> withDampings = new ArrayList<>(cases());
    withDampings.add(
        new Case(
            "FISMO fisherDecay(1) (factors frozen at I)",
            (g, m) -> Fismo.builder().fisherDecay(1.0).build(g)));
    for (double mu : new double[] {1e-2, 1e-1, 1.0, 10.0}) {
      withDampings.add(
          new Case(
              "FISMO normalizedStatistics(true) damping(" + mu + ")",
              (g, m) -> Fismo.builder().normalizedStatistics(true).damping(mu).build(g)));
    }
    for (Case c : withDampings) {
      System.out.println(
          "| "
              + c.name()
              + " | "
              + fmt(lossAfter(c, data, constant(100, 1.0)))
              + " | "
              + fmt(lossAfter(c, data, constant(100, 1e3)))
              + " |");
    }
    System.out.println();
    System.out.println(
        "| optimizer | spike step | +1 | +5 | +10 | +20 | +50 | max over +1..+50 | min over +1..+50"
            + " | steps > 2× | steps < ½× |");
    System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    int total = WARMUP + 1 + AFTER;
    double[] spiked = new double[total];
    java.util.Arrays.fill(spiked, 1.0);
    spiked[WARMUP] = SPIKE;
    for (Case c : cases()) {
      double[] clean = stepSizes(c, data, constant(total, 1.0));
      double[] hit = stepSizes(c, data, spiked);
      double[] r = new double[total];
      for (int t = 0; t < total; t++) {
        r[t] = hit[t] / clean[t];
      }
      double max = 0;
      double min = Double.POSITIVE_INFINITY;
      int above = 0;
      int below = 0;
      for (int k = 1; k <= AFTER; k++) {
        double v = r[WARMUP + k];
        max = Math.max(max, v);
        min = Math.min(min, v);
        above += v > 2 ? 1 : 0;
        below += v < 0.5 ? 1 : 0;
      }
      System.out.println(
          "| "
              + c.name()
              + " | "
              + fmt(r[WARMUP])
              + " | "
              + fmt(r[WARMUP + 1])
              + " | "
              + fmt(r[WARMUP + 5])
              + " | "
              + fmt(r[WARMUP + 10])
              + " | "
              + fmt(r[WARMUP + 20])
              + " | "
              + fmt(r[WARMUP + 50])
              + " | "
              + fmt(max)
              + " | "
              + fmt(min)
              + " | "
              + above
              + " | "
              + below
              + " |");
    }
  }

  private static double[] constant(int steps, double s) {
    double[] scales = new double[steps];
    java.util.Arrays.fill(scales, s);
    return scales;
  }

  /** θ_T − θ_0 over all parameters after one step per entry of {@code scales}. */
  static double[] displacement(Case c, Data data, double[] scales) {
    try (Model m = new Model();
        Session s = new Session(m.graph)) {
      Op step = c.build().apply(m.graph, m).minimize(m.loss);
      s.initialize();
      double[] start = m.parameters(s);
      for (int t = 0; t < scales.length; t++) {
        m.run(s, step, data, t, scales[t]);
      }
      return DenseMatrices.subtract(m.parameters(s), start);
    }
  }

  /** ‖F − I‖_F/‖I‖_F of FISMO's factor {@code slot} of the first kernel after the steps. */
  static double distanceFromIdentity(Case c, Data data, double[] scales, String slot) {
    try (Model m = new Model();
        Session s = new Session(m.graph)) {
      Optimizer optimizer = c.build().apply(m.graph, m);
      Op step = optimizer.minimize(m.loss);
      Variable<TFloat64> kernel = m.params.get(0);
      Operand<?> factor = optimizer.getSlot(kernel.asOutput(), slot).orElseThrow();
      s.initialize();
      for (int t = 0; t < scales.length; t++) {
        m.run(s, step, data, t, scales[t]);
      }
      double[] f;
      try (Result r = s.runner().fetch(factor).run()) {
        TFloat64 value = (TFloat64) r.get(0);
        List<Double> all = new ArrayList<>();
        value.scalars().forEach(v -> all.add(v.getDouble()));
        f = all.stream().mapToDouble(Double::doubleValue).toArray();
      }
      int d = (int) Math.round(Math.sqrt(f.length));
      for (int i = 0; i < d; i++) {
        f[i * d + i] -= 1;
      }
      return norm(f) / Math.sqrt(d);
    }
  }

  /** The unscaled mean loss over all batches after one step per entry of {@code scales}. */
  static double lossAfter(Case c, Data data, double[] scales) {
    try (Model m = new Model();
        Session s = new Session(m.graph)) {
      Op step = c.build().apply(m.graph, m).minimize(m.loss);
      s.initialize();
      for (int t = 0; t < scales.length; t++) {
        m.run(s, step, data, t, scales[t]);
      }
      double sum = 0;
      for (int b = 0; b < BATCHES; b++) {
        sum += m.loss(s, data, b);
      }
      return sum / BATCHES;
    }
  }

  /** ‖θ_t − θ_{t−1}‖ of each step, one step per entry of {@code scales}. */
  static double[] stepSizes(Case c, Data data, double[] scales) {
    try (Model m = new Model();
        Session s = new Session(m.graph)) {
      Op step = c.build().apply(m.graph, m).minimize(m.loss);
      s.initialize();
      double[] sizes = new double[scales.length];
      double[] before = m.parameters(s);
      for (int t = 0; t < scales.length; t++) {
        m.run(s, step, data, t, scales[t]);
        double[] after = m.parameters(s);
        sizes[t] = norm(DenseMatrices.subtract(after, before));
        before = after;
      }
      return sizes;
    }
  }

  /** Fixed inputs and teacher labels, {@value #BATCHES} batches of {@value #BATCH}. */
  static final class Data {
    final double[][] x = new double[BATCHES][];
    final int[][] y = new int[BATCHES][];

    Data(long seed) {
      Random random = new Random(seed);
      double[] teacher = RandomArrays.gaussian(random, IN * CLASSES, 1.0);
      for (int b = 0; b < BATCHES; b++) {
        x[b] = RandomArrays.gaussian(random, BATCH * IN, 1.0);
        y[b] = new int[BATCH];
        for (int i = 0; i < BATCH; i++) {
          int best = 0;
          double bestValue = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < CLASSES; j++) {
            double v = random.nextGaussian() * 0.5;
            for (int k = 0; k < IN; k++) {
              v += x[b][i * IN + k] * teacher[k * CLASSES + j];
            }
            if (v > bestValue) {
              bestValue = v;
              best = j;
            }
          }
          y[b][i] = best;
        }
      }
    }
  }

  /** The MLP, its scaled loss and its registered layers, with fixed initial weights (seed 2). */
  static final class Model implements AutoCloseable {
    final Graph graph = new Graph();
    final Ops tf = Ops.create(graph);
    final Placeholder<TFloat64> x =
        tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(BATCH, IN)));
    final Placeholder<TInt32> y = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(BATCH)));
    final Placeholder<TFloat64> scale =
        tf.placeholder(TFloat64.class, Placeholder.shape(Shape.scalar()));
    final List<Variable<TFloat64>> params = new ArrayList<>();
    final LayerCollection layers = new LayerCollection();
    final Operand<TFloat64> loss;

    Model() {
      Random random = new Random(2);
      Operand<TFloat64> h = tf.math.tanh(dense("dense1", x, IN, HIDDEN, random));
      Operand<TFloat64> logits = dense("dense2", h, HIDDEN, CLASSES, random);
      loss = tf.math.mul(SoftmaxCrossEntropy.mean(tf, logits, y, CLASSES), scale);
    }

    private Operand<TFloat64> dense(
        String name, Operand<TFloat64> in, int fanIn, int fanOut, Random random) {
      Ops layer = tf.withSubScope(name);
      Ops init = tf.withInitScope();
      Variable<TFloat64> kernel =
          layer
              .withName("kernel")
              .variable(
                  init.constant(
                      Shape.of(fanIn, fanOut),
                      DataBuffers.of(
                          RandomArrays.gaussian(random, fanIn * fanOut, 1.0 / Math.sqrt(fanIn)))));
      Variable<TFloat64> bias =
          layer
              .withName("bias")
              .variable(init.constant(Shape.of(fanOut), DataBuffers.of(new double[fanOut])));
      params.add(kernel);
      params.add(bias);
      Operand<TFloat64> z = tf.math.add(tf.linalg.matMul(in, kernel), bias);
      layers.registerFullyConnected(kernel, bias, in, z);
      return z;
    }

    void run(Session s, Op step, Data data, int t, double lossScale) {
      int b = t % BATCHES;
      try (TFloat64 xs = TFloat64.tensorOf(Shape.of(BATCH, IN), DataBuffers.of(data.x[b]));
          TInt32 ys = TInt32.tensorOf(Shape.of(BATCH), DataBuffers.of(data.y[b]));
          TFloat64 sc = TFloat64.scalarOf(lossScale)) {
        s.runner().feed(x, xs).feed(y, ys).feed(scale, sc).addTarget(step).run();
      }
    }

    double loss(Session s, Data data, int b) {
      try (TFloat64 xs = TFloat64.tensorOf(Shape.of(BATCH, IN), DataBuffers.of(data.x[b]));
          TInt32 ys = TInt32.tensorOf(Shape.of(BATCH), DataBuffers.of(data.y[b]));
          TFloat64 sc = TFloat64.scalarOf(1.0);
          Result r = s.runner().feed(x, xs).feed(y, ys).feed(scale, sc).fetch(loss).run()) {
        return ((TFloat64) r.get(0)).getDouble();
      }
    }

    double[] parameters(Session s) {
      Session.Runner runner = s.runner();
      params.forEach(runner::fetch);
      List<Double> all = new ArrayList<>();
      try (Result r = runner.run()) {
        for (int i = 0; i < params.size(); i++) {
          TFloat64 t = (TFloat64) r.get(i);
          t.scalars().forEach(v -> all.add(v.getDouble()));
        }
      }
      return all.stream().mapToDouble(Double::doubleValue).toArray();
    }

    @Override
    public void close() {
      graph.close();
    }
  }

  private static double norm(double[] a) {
    return Math.sqrt(DenseMatrices.dot(a, a));
  }

  private static String fmt(double v) {
    if (v == 0) {
      return "0";
    }
    double a = Math.abs(v);
    return a >= 1e-2 && a < 1e4
        ? String.format(Locale.ROOT, "%.3g", v)
        : String.format(Locale.ROOT, "%.2e", v);
  }
}
