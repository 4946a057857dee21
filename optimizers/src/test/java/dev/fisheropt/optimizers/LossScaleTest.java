package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
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
 * How the steps depend on the scale s of the loss (every gradient multiplied by s), on a float64
 * MLP 16→32(tanh)→10. FISMO's paper statistics make its steps depend on s; with {@code
 * normalizedStatistics(true)} they do not; Muon's do not; AdaFisher's grow like s. {@code
 * dev.fisheropt.bench.LossScaleBench} measures the same on every optimizer for docs/reliability.md.
 */
class LossScaleTest {
  private static final double[] SCALES = {1e-3, 1.0, 1e3, 1e6};
  private static final int STEPS = 6;

  @Test
  void normalizedStatisticsMakeFismoStepsIndependentOfTheLossScale() {
    // Exact polar factor and frozen biases: Newton–Schulz's 1e-7 norm guard and Adam's ε are the
    // only other places where the scale of the gradient enters.
    assertSameTrajectories(
        1e-9,
        (g, m) ->
            Fismo.builder()
                .normalizedStatistics(true)
                .polar(Polar.EXACT)
                .fallback(Fallback.none())
                .build(g));
  }

  @Test
  void normalizedStatisticsWorkWithNewtonRootsAndARefreshInterval() {
    assertSameTrajectories(
        1e-9,
        (g, m) ->
            Fismo.builder()
                .normalizedStatistics(true)
                .polar(Polar.EXACT)
                .inverseRoot(InverseRoot.NEWTON)
                .preconditionerInterval(2)
                .fallback(Fallback.none())
                .build(g));
  }

  @Test
  void muonStepsDoNotDependOnTheLossScale() {
    assertSameTrajectories(
        1e-9, (g, m) -> Muon.builder().polar(Polar.EXACT).fallback(Fallback.none()).build(g));
  }

  @Test
  void paperFismoStepsGrowWithTheLossScale() {
    BiFunction<Graph, Mlp, Optimizer> fismo =
        (g, m) -> Fismo.builder().polar(Polar.EXACT).fallback(Fallback.none()).build(g);
    double atOne = norm(trajectory(fismo, 1.0, 1)[0]);
    double atMillion = norm(trajectory(fismo, 1e6, 1)[0]);
    // The first step already leaves P = I for the shape of s²·G Gᵀ, whose small eigenvalues then
    // blow up P^{-1/2} (LossScaleBench: 22× on one step, 10¹² after 20 steps).
    assertTrue(
        atMillion > 5 * atOne,
        "one step at s = 1e6 moves " + atMillion / atOne + "× as far as at s = 1");
    double[][] twenty = trajectory(fismo, 1e3, 20);
    double[][] reference = trajectory(fismo, 1.0, 20);
    assertTrue(
        norm(twenty[19]) > 100 * norm(reference[19]),
        "20 steps at s = 1e3 must move much farther than at s = 1");
  }

  @Test
  void adaFisherStepsGrowLinearlyWithTheLossScale() {
    BiFunction<Graph, Mlp, Optimizer> adaFisher =
        (g, m) -> AdaFisher.builder().layers(m.layers).build(g);
    double atOne = norm(trajectory(adaFisher, 1.0, 1)[0]);
    for (double s : new double[] {1e-3, 1e3}) {
      double ratio = norm(trajectory(adaFisher, s, 1)[0]) / atOne;
      // Within a few percent of s: the Min-Max guard 1e-6 is absolute, so S_D shifts a little with
      // s.
      assertEquals(
          1.0,
          ratio / s,
          0.1,
          "one AdaFisher step at s = " + s + " moves " + ratio + "× as far as at s = 1");
    }
  }

  @Test
  void normalizedStatisticsEnterTheFactorsWithTheirFormula() {
    // From P = Q = I one step gives P = γI + (1−γ)(m·G Gᵀ/tr(G Gᵀ) + μI)/(1+μ): trace m, no further
    // normalisation needed.
    double gamma = 0.9;
    double mu = 0.5;
    try (Mlp mlp = new Mlp();
        Session s = new Session(mlp.graph)) {
      Variable<TFloat64> kernel = mlp.params.get(0);
      Output<?>[] grad =
          mlp.graph.addGradients(mlp.loss.asOutput(), new Output<?>[] {kernel.asOutput()});
      Fismo fismo =
          Fismo.builder()
              .normalizedStatistics(true)
              .fisherDecay(gamma)
              .damping(mu)
              .fallback(Fallback.none())
              .build(mlp.graph);
      Op step = fismo.minimize(mlp.loss);
      s.initialize();
      double[][] g = mlp.fetchAt(s, 0, 1.0, grad[0], 16, 32);
      mlp.run(s, step, 0, 1.0);
      double[] p = Tensors.fetch(s, fismo.getSlot(kernel.asOutput(), "P").orElseThrow());
      double[] expected = new double[16 * 16];
      double trace = 0;
      for (double[] row : g) {
        for (double v : row) {
          trace += v * v;
        }
      }
      for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) {
          double ggt = 0;
          for (int k = 0; k < 32; k++) {
            ggt += g[i][k] * g[j][k];
          }
          double identity = i == j ? 1 : 0;
          expected[i * 16 + j] =
              gamma * identity + (1 - gamma) * (16 * ggt / trace + mu * identity) / (1 + mu);
        }
      }
      Close.assertClose(1e-12, "P after one step", p, expected);
    }
  }

  /**
   * Every scale's parameters after each of {@value #STEPS} steps equal those at s = 1 within {@code
   * tolerance}.
   */
  private static void assertSameTrajectories(
      double tolerance, BiFunction<Graph, Mlp, Optimizer> build) {
    double[][] reference = trajectory(build, 1.0, STEPS);
    for (double s : SCALES) {
      double[][] scaled = trajectory(build, s, STEPS);
      for (int t = 0; t < STEPS; t++) {
        double err = Close.relativeError(scaled[t], reference[t]);
        assertTrue(
            err < tolerance,
            "s = " + s + ", step " + (t + 1) + ": Δθ differs from s = 1 by " + err);
      }
    }
    assertTrue(norm(reference[STEPS - 1]) > 1e-3, "the optimizer must move the parameters");
  }

  /** θ_t − θ_0 after each of {@code steps} steps at loss scale {@code s}. */
  private static double[][] trajectory(
      BiFunction<Graph, Mlp, Optimizer> build, double s, int steps) {
    try (Mlp mlp = new Mlp();
        Session session = new Session(mlp.graph)) {
      Op step = build.apply(mlp.graph, mlp).minimize(mlp.loss);
      session.initialize();
      double[] start = mlp.parameters(session);
      double[][] out = new double[steps][];
      for (int t = 0; t < steps; t++) {
        mlp.run(session, step, t, s);
        double[] now = mlp.parameters(session);
        out[t] = new double[now.length];
        for (int i = 0; i < now.length; i++) {
          out[t][i] = now[i] - start[i];
        }
      }
      return out;
    }
  }

  private static double norm(double[] a) {
    double sum = 0;
    for (double v : a) {
      sum += v * v;
    }
    return Math.sqrt(sum);
  }

  /**
   * MLP 16→32(tanh)→10, softmax cross-entropy times a fed scale, 4 fixed batches of 64 used in
   * turn.
   */
  private static final class Mlp implements AutoCloseable {
    private static final int BATCHES = 4;
    final Graph graph = new Graph();
    final Ops tf = Ops.create(graph);
    final Placeholder<TFloat64> x =
        tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(64, 16)));
    final Placeholder<TInt32> y = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(64)));
    final Placeholder<TFloat64> scale =
        tf.placeholder(TFloat64.class, Placeholder.shape(Shape.scalar()));
    final List<Variable<TFloat64>> params = new ArrayList<>();
    final LayerCollection layers = new LayerCollection();
    final Operand<TFloat64> loss;
    private final double[][] inputs = new double[BATCHES][];
    private final int[][] labels = new int[BATCHES][64];

    Mlp() {
      Random random = new Random(11);
      for (int b = 0; b < BATCHES; b++) {
        inputs[b] = RandomArrays.gaussian(random, 64 * 16, 1.0);
        for (int i = 0; i < 64; i++) {
          labels[b][i] = random.nextInt(10);
        }
      }
      Operand<TFloat64> h = tf.math.tanh(dense("dense1", x, 16, 32, random));
      loss =
          tf.math.mul(
              SoftmaxCrossEntropy.mean(tf, dense("dense2", h, 32, 10, random), y, 10), scale);
    }

    private Operand<TFloat64> dense(
        String name, Operand<TFloat64> in, int fanIn, int fanOut, Random random) {
      Ops layer = tf.withSubScope(name);
      Variable<TFloat64> kernel =
          layer
              .withName("kernel")
              .variable(
                  Tensors.constant(
                      tf.withInitScope(),
                      TFloat64.class,
                      new long[] {fanIn, fanOut},
                      RandomArrays.gaussian(random, fanIn * fanOut, 1.0 / Math.sqrt(fanIn))));
      Variable<TFloat64> bias =
          layer
              .withName("bias")
              .variable(
                  Tensors.constant(
                      tf.withInitScope(),
                      TFloat64.class,
                      new long[] {fanOut},
                      RandomArrays.gaussian(random, fanOut, 0.1)));
      params.add(kernel);
      params.add(bias);
      Operand<TFloat64> z = tf.math.add(tf.linalg.matMul(in, kernel), bias);
      layers.registerFullyConnected(kernel, bias, in, z);
      return z;
    }

    private Session.Runner feed(Session s, int t, double lossScale, List<AutoCloseable> open) {
      int b = t % BATCHES;
      TFloat64 xs = TFloat64.tensorOf(Shape.of(64, 16), DataBuffers.of(inputs[b]));
      TInt32 ys = TInt32.tensorOf(Shape.of(64), DataBuffers.of(labels[b]));
      TFloat64 sc = TFloat64.scalarOf(lossScale);
      open.addAll(List.of(xs, ys, sc));
      return s.runner().feed(x, xs).feed(y, ys).feed(scale, sc);
    }

    void run(Session s, Op step, int t, double lossScale) {
      List<AutoCloseable> open = new ArrayList<>();
      try {
        feed(s, t, lossScale, open).addTarget(step).run();
      } finally {
        closeAll(open);
      }
    }

    double[][] fetchAt(Session s, int t, double lossScale, Output<?> value, int rows, int cols) {
      List<AutoCloseable> open = new ArrayList<>();
      try (var r = feed(s, t, lossScale, open).fetch(value).run()) {
        double[] flat = Tensors.toDoubles(r.get(0));
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
          System.arraycopy(flat, i * cols, out[i], 0, cols);
        }
        return out;
      } finally {
        closeAll(open);
      }
    }

    double[] parameters(Session s) {
      double[][] values = Tensors.fetch(s, params);
      int n = 0;
      for (double[] v : values) {
        n += v.length;
      }
      double[] all = new double[n];
      int at = 0;
      for (double[] v : values) {
        System.arraycopy(v, 0, all, at, v.length);
        at += v.length;
      }
      return all;
    }

    private static void closeAll(List<AutoCloseable> open) {
      for (AutoCloseable c : open) {
        try {
          c.close();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }
    }

    @Override
    public void close() {
      graph.close();
    }
  }
}
