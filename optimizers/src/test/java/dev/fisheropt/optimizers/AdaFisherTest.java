package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.Graphs;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * AdaFisher and AdaFisherW as a user meets them: training, refresh schedule, weight decay, guards,
 * settings.
 */
class AdaFisherTest {
  private static final int CLASSES = 3;

  /** A model on a fed batch, its registered layers, and a fixed learnable data set. */
  private record Problem(
      Graph graph,
      Ops tf,
      Placeholder<TFloat32> x,
      Operand<TFloat32> loss,
      LayerCollection layers,
      long[] batchShape,
      float[] batch)
      implements AutoCloseable {
    TFloat32 tensor(float[] values) {
      return Tensors.tensorOf(batchShape, values);
    }

    double run(Session session, Op step, float[] values) {
      try (TFloat32 t = tensor(values)) {
        if (step != null) {
          session.runner().feed(x, t).addTarget(step).run();
          return Double.NaN;
        }
        try (var r = session.runner().feed(x, t).fetch(loss).run()) {
          return ((TFloat32) r.get(0)).getFloat();
        }
      }
    }

    @Override
    public void close() {
      graph.close();
    }
  }

  /** x[64, 6] → Dense(6→12, tanh) → Dense(12→3); labels from a fixed linear rule of x. */
  private static Problem mlp() {
    Random random = new Random(11);
    int batch = 64;
    float[] data = gaussian(random, batch * 6);
    int[] labels = new int[batch];
    double[][] rule = {
      {1, -1, 0.5}, {-0.5, 1, 1}, {1, 0.5, -1}, {0, -1, 1}, {-1, 0, 0.5}, {0.5, 0.5, -0.5}
    };
    for (int b = 0; b < batch; b++) {
      double[] score = new double[CLASSES];
      for (int i = 0; i < 6; i++) {
        for (int c = 0; c < CLASSES; c++) {
          score[c] += data[b * 6 + i] * rule[i][c];
        }
      }
      labels[b] = argmax(score);
    }
    Graph graph = new Graph();
    Ops tf = Ops.create(graph);
    Placeholder<TFloat32> x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(batch, 6)));
    Ops d1 = tf.withSubScope("dense1");
    Ops d2 = tf.withSubScope("dense2");
    Variable<TFloat32> k1 = d1.withName("kernel").variable(init(tf, random, 0.4, 6, 12));
    Variable<TFloat32> b1 = d1.withName("bias").variable(init(tf, random, 0.0, 12));
    Variable<TFloat32> k2 = d2.withName("kernel").variable(init(tf, random, 0.4, 12, CLASSES));
    Variable<TFloat32> b2 = d2.withName("bias").variable(init(tf, random, 0.0, CLASSES));
    Operand<TFloat32> z1 = tf.math.add(tf.linalg.matMul(x, k1), b1);
    Operand<TFloat32> h = tf.math.tanh(z1);
    Operand<TFloat32> logits = tf.math.add(tf.linalg.matMul(h, k2), b2);
    Operand<TFloat32> loss = SoftmaxCrossEntropy.mean(tf, logits, tf.constant(labels), CLASSES);
    LayerCollection layers =
        new LayerCollection()
            .registerFullyConnected(k1, b1, x, z1)
            .registerFullyConnected(k2, b2, h, logits);
    return new Problem(graph, tf, x, loss, layers, new long[] {batch, 6}, data);
  }

  /**
   * x[32, 8, 8, 2] → Conv(2→6, 3×3, stride 2, SAME) → relu → Conv(6→6, 3×3, VALID, no bias) → relu
   * → global mean → Dense(6→3); labels from which channel and half of the image is brightest.
   */
  private static Problem cnn() {
    Random random = new Random(5);
    int batch = 32;
    float[] data = gaussian(random, batch * 8 * 8 * 2);
    int[] labels = new int[batch];
    for (int b = 0; b < batch; b++) {
      double[] score = new double[CLASSES];
      for (int r = 0; r < 8; r++) {
        for (int c = 0; c < 8; c++) {
          int at = ((b * 8 + r) * 8 + c) * 2;
          score[0] += data[at];
          score[1] += data[at + 1];
          score[2] += r < 4 ? data[at] + data[at + 1] : 0;
        }
      }
      labels[b] = argmax(score);
    }
    Graph graph = new Graph();
    Ops tf = Ops.create(graph);
    Placeholder<TFloat32> x =
        tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(batch, 8, 8, 2)));
    Ops c1 = tf.withSubScope("conv1");
    Ops c2 = tf.withSubScope("conv2");
    Ops d = tf.withSubScope("dense");
    Variable<TFloat32> k1 = c1.withName("kernel").variable(init(tf, random, 0.3, 3, 3, 2, 6));
    Variable<TFloat32> b1 = c1.withName("bias").variable(init(tf, random, 0.0, 6));
    Variable<TFloat32> k2 = c2.withName("kernel").variable(init(tf, random, 0.2, 3, 3, 6, 6));
    Variable<TFloat32> k3 = d.withName("kernel").variable(init(tf, random, 0.4, 6, CLASSES));
    Variable<TFloat32> b3 = d.withName("bias").variable(init(tf, random, 0.0, CLASSES));
    long[] two = {1, 2, 2, 1};
    long[] one = {1, 1, 1, 1};
    Operand<TFloat32> z1 =
        tf.nn.biasAdd(
            tf.nn.conv2d(x, k1, List.of(1L, 2L, 2L, 1L), "SAME", Conv2d.dataFormat("NHWC")), b1);
    Operand<TFloat32> a1 = tf.nn.relu(z1);
    Operand<TFloat32> z2 =
        tf.nn.conv2d(a1, k2, List.of(1L, 1L, 1L, 1L), "VALID", Conv2d.dataFormat("NHWC"));
    Operand<TFloat32> pooled = tf.math.mean(tf.nn.relu(z2), tf.constant(new int[] {1, 2}));
    Operand<TFloat32> logits = tf.math.add(tf.linalg.matMul(pooled, k3), b3);
    Operand<TFloat32> loss = SoftmaxCrossEntropy.mean(tf, logits, tf.constant(labels), CLASSES);
    LayerCollection layers =
        new LayerCollection()
            .registerConv2d(k1, b1, two, "SAME", x, z1)
            .registerConv2d(k2, null, one, "VALID", a1, z2)
            .registerFullyConnected(k3, b3, pooled, logits);
    return new Problem(graph, tf, x, loss, layers, new long[] {batch, 8, 8, 2}, data);
  }

  static Stream<Arguments> optimizersAndProblems() {
    Function<LayerCollection, AdaFisherBase.Builder<?>> adaFisher =
        l -> AdaFisher.builder().layers(l);
    Function<LayerCollection, AdaFisherBase.Builder<?>> adaFisherW =
        l -> AdaFisherW.builder().layers(l).weightDecay(1e-2);
    return Stream.of(
        Arguments.of("AdaFisher", adaFisher, "mlp"),
        Arguments.of("AdaFisher", adaFisher, "cnn"),
        Arguments.of("AdaFisherW", adaFisherW, "mlp"),
        Arguments.of("AdaFisherW", adaFisherW, "cnn"));
  }

  private static Problem problem(String name) {
    return name.equals("mlp") ? mlp() : cnn();
  }

  private static GuardedOptimizer build(AdaFisherBase.Builder<?> builder, Graph graph) {
    return builder instanceof AdaFisher.Builder a
        ? a.build(graph)
        : ((AdaFisherW.Builder) builder).build(graph);
  }

  @ParameterizedTest(name = "{0} {2}")
  @MethodSource("optimizersAndProblems")
  void trainsToAClearlyLowerLoss(
      String optimizerName,
      Function<LayerCollection, AdaFisherBase.Builder<?>> settings,
      String problemName) {
    try (Problem p = problem(problemName)) {
      GuardedOptimizer optimizer = build(settings.apply(p.layers()).fisherInterval(10), p.graph());
      Op step = optimizer.minimize(p.loss());
      try (Session session = new Session(p.graph())) {
        session.initialize();
        double initial = p.run(session, null, p.batch());
        for (int t = 0; t < 100; t++) {
          p.run(session, step, p.batch());
        }
        double trained = p.run(session, null, p.batch());
        assertTrue(
            trained < 0.25 * initial,
            optimizerName + " on " + problemName + ": loss " + initial + " → " + trained);
      }
    }
  }

  @Test
  void stepComputesEveryGradientInOneAddGradientsCall() {
    try (Problem p = cnn()) {
      Set<String> before = gradientScopes(p.graph());
      AdaFisher.builder().layers(p.layers()).build(p.graph()).minimize(p.loss());
      Set<String> added = gradientScopes(p.graph());
      added.removeAll(before);
      // TF names each addGradients call's ops gradients/, gradients_1/, ...: the pre-activation
      // gradients dLoss/dZ come from the same call as the parameter gradients.
      assertEquals(Set.of("gradients"), added);
    }
  }

  @Test
  void layersOfAModelTheLossDoesNotReadAreLeftAlone() {
    try (Problem p = mlp();
        Session session = new Session(p.graph())) {
      Ops other = p.tf().withSubScope("other");
      Variable<TFloat32> kernel =
          other
              .withName("kernel")
              .variable(p.tf().withInitScope().constant(new float[][] {{1, 2}, {3, 4}}));
      Operand<TFloat32> otherInputs = p.tf().constant(new float[][] {{1, 0}});
      p.layers()
          .registerFullyConnected(
              kernel, null, otherInputs, p.tf().linalg.matMul(otherInputs, kernel));
      Op step = AdaFisher.builder().layers(p.layers()).build(p.graph()).minimize(p.loss());
      session.initialize();
      p.run(session, step, p.batch());
      assertArrayEquals(new double[] {1, 2, 3, 4}, Tensors.fetch(session, kernel), 0.0);
    }
  }

  private static Set<String> gradientScopes(Graph graph) {
    Set<String> scopes = new HashSet<>();
    graph
        .operations()
        .forEachRemaining(
            op -> {
              String top = op.name().split("/")[0];
              if (top.matches("gradients(_\\d+)?") && op.name().contains("/")) {
                scopes.add(top);
              }
            });
    return scopes;
  }

  @Test
  void factorsRefreshOnlyWhenCompletedStepsAreAMultipleOfTheInterval() {
    try (Problem p = mlp()) {
      AdaFisher adaFisher =
          AdaFisher.builder().layers(p.layers()).fisherInterval(3).build(p.graph());
      Op step = adaFisher.minimize(p.loss());
      Variable<?> kernel = p.layers().layers().get(0).kernel();
      Operand<?> hD = adaFisher.getSlot(kernel.asOutput(), "H_D").orElseThrow();
      Operand<?> sD = adaFisher.getSlot(kernel.asOutput(), "S_D").orElseThrow();
      Operand<?> momentum = adaFisher.getSlot(kernel.asOutput(), "exp_avg").orElseThrow();
      Random random = new Random(3);
      try (Session session = new Session(p.graph())) {
        session.initialize();
        double[] h = Tensors.fetch(session, hD);
        double[] s = Tensors.fetch(session, sD);
        double[] m = Tensors.fetch(session, momentum);
        assertArrayEquals(ones(h.length), h, 0.0);
        for (int t = 1; t <= 7; t++) {
          p.run(session, step, gaussian(random, p.batch().length));
          double[] hNext = Tensors.fetch(session, hD);
          double[] sNext = Tensors.fetch(session, sD);
          double[] mNext = Tensors.fetch(session, momentum);
          boolean due = (t - 1) % 3 == 0;
          assertEquals(due, !Arrays.equals(h, hNext), "H_D refreshed on step " + t);
          assertEquals(due, !Arrays.equals(s, sNext), "S_D refreshed on step " + t);
          assertNotEquals(Arrays.toString(m), Arrays.toString(mNext), "exp_avg moves on step " + t);
          h = hNext;
          s = sNext;
          m = mNext;
        }
      }
    }
  }

  /**
   * A parameter outside every registered layer is stepped with F̃ = 1; with loss Σ c·θ (gradient c)
   * two steps give, for AdaFisher (L2, κθ in the gradient) θ₁ = θ₀ − η(c + κθ₀), θ₂ = θ₁ −
   * η(β(1−β)g₁ + (1−β)g₂)/(1−β²) with g_t = c + κθ_{t−1}, and for AdaFisherW (decoupled) θ₂ = θ₁ −
   * η(c + κθ₁).
   */
  @Test
  void unregisteredParametersAreNotPreconditionedAndWeightDecayIsPlacedPerVariant() {
    double eta = 0.05;
    double beta = 0.8;
    double kappa = 0.3;
    double[] theta0 = {1.0, -2.0, 0.5};
    double[] c = {0.25, 1.0, -3.0};
    for (boolean decoupled : new boolean[] {false, true}) {
      try (Graph graph = new Graph()) {
        Ops tf = Ops.create(graph);
        Variable<TFloat64> theta =
            tf.withName("theta").variable(tf.withInitScope().constant(theta0));
        Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(tf.constant(c), theta), tf.constant(0));
        GuardedOptimizer optimizer =
            decoupled
                ? AdaFisherW.builder().learningRate(eta).beta(beta).weightDecay(kappa).build(graph)
                : AdaFisher.builder().learningRate(eta).beta(beta).weightDecay(kappa).build(graph);
        Op step = optimizer.minimize(loss);
        double[] expected = new double[theta0.length];
        for (int i = 0; i < expected.length; i++) {
          double theta1 = theta0[i] - eta * (c[i] + kappa * theta0[i]);
          if (decoupled) {
            expected[i] = theta1 - eta * (c[i] + kappa * theta1);
          } else {
            double m2 =
                beta * (1 - beta) * (c[i] + kappa * theta0[i])
                    + (1 - beta) * (c[i] + kappa * theta1);
            expected[i] = theta1 - eta * m2 / (1 - beta * beta);
          }
        }
        try (Session session = new Session(graph)) {
          session.initialize();
          session.run(step);
          session.run(step);
          assertArrayEquals(
              expected,
              Tensors.fetch(session, theta),
              1e-14,
              decoupled ? "AdaFisherW" : "AdaFisher");
        }
      }
    }
  }

  @Test
  void rerunsAreBitIdentical() {
    assertEquals(trainedState(), trainedState());
  }

  private static Map<String, List<Double>> trainedState() {
    try (Problem p = cnn()) {
      Op step =
          AdaFisher.builder()
              .layers(p.layers())
              .fisherInterval(2)
              .learningRate(3e-3)
              .build(p.graph())
              .minimize(p.loss());
      try (Session session = new Session(p.graph())) {
        session.initialize();
        for (int t = 0; t < 8; t++) {
          p.run(session, step, p.batch());
        }
        return allVariables(session, p.graph());
      }
    }
  }

  @Test
  void aBatchWithNaNChangesNothingButTheSkipCounter() {
    try (Problem p = mlp()) {
      AdaFisherW adaFisher =
          AdaFisherW.builder()
              .layers(p.layers())
              .fisherInterval(1)
              .weightDecay(0.1)
              .build(p.graph());
      Op step = adaFisher.minimize(p.loss());
      try (Session session = new Session(p.graph())) {
        session.initialize();
        p.run(session, step, p.batch());
        Map<String, List<Double>> before = allVariables(session, p.graph());
        float[] poisoned = p.batch().clone();
        poisoned[5] = Float.NaN;
        p.run(session, step, poisoned);
        Map<String, List<Double>> after = allVariables(session, p.graph());
        assertEquals(List.of(0.0), before.get("AdaFisherW/skipped_steps"));
        assertEquals(List.of(1.0), after.get("AdaFisherW/skipped_steps"));
        assertEquals(List.of(1.0), after.get("AdaFisherW/skipped_nonfinite_gradients"));
        after.put("AdaFisherW/skipped_steps", before.get("AdaFisherW/skipped_steps"));
        after.put(
            "AdaFisherW/skipped_nonfinite_gradients",
            before.get("AdaFisherW/skipped_nonfinite_gradients"));
        assertEquals(before, after);
        assertTrue(
            before.containsKey("dense1/kernel-H_D") && before.containsKey("dense2/bias-exp_avg"),
            before.keySet().toString());
      }
    }
  }

  @Test
  void slotsAreNamedAfterTheirVariables() {
    try (Problem p = cnn()) {
      AdaFisher.builder().layers(p.layers()).build(p.graph()).minimize(p.loss());
      for (String slot :
          List.of(
              "conv1/kernel-H_D",
              "conv1/kernel-S_D",
              "conv1/kernel-exp_avg",
              "conv1/bias-exp_avg",
              "conv2/kernel-H_D",
              "dense/kernel-S_D",
              "dense/bias-exp_avg")) {
        assertTrue(p.graph().operation(slot) != null, "slot " + slot);
      }
      assertEquals(null, p.graph().operation("conv1/bias-H_D"));
      // H_D holds kh·kw·cin entries plus one for the bias; conv2 has no bias.
      assertEquals(
          Shape.of(3 * 3 * 2 + 1),
          ((GraphOperation) p.graph().operation("conv1/kernel-H_D")).output(0).shape());
      assertEquals(
          Shape.of(3 * 3 * 6),
          ((GraphOperation) p.graph().operation("conv2/kernel-H_D")).output(0).shape());
      assertEquals(
          Shape.of(6),
          ((GraphOperation) p.graph().operation("conv2/kernel-S_D")).output(0).shape());
    }
  }

  @Test
  void defaultsAreTheAuthorsSettings() {
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      AdaFisher adaFisher = new AdaFisher(graph);
      session.initialize();
      Map<String, Double> values = new LinkedHashMap<>();
      adaFisher.hyperparameters().forEach((k, v) -> values.put(k, Tensors.scalar(session, v)));
      assertEquals(
          Map.of(
              "learning_rate",
              1e-3,
              "beta",
              0.9,
              "factor_ema_old",
              0.08,
              "factor_ema_new",
              0.008,
              "damping",
              1e-3,
              "weight_decay",
              0.0),
          values);
      assertEquals("AdaFisher", adaFisher.getOptimizerName());
      assertEquals("AdaFisherW", new AdaFisherW(graph).getOptimizerName());
      assertEquals(100, AdaFisher.FISHER_INTERVAL_DEFAULT);
    }
  }

  @Test
  void badSettingsAreRejectedNamingTheSetting() {
    assertRejected("learningRate", () -> AdaFisher.builder().learningRate(0));
    assertRejected("beta", () -> AdaFisher.builder().beta(1.0));
    assertRejected("beta", () -> AdaFisherW.builder().beta(-0.1));
    assertRejected("factorEma oldWeight", () -> AdaFisher.builder().factorEma(1.5, 0.008));
    assertRejected("factorEma newWeight", () -> AdaFisher.builder().factorEma(0.08, Double.NaN));
    assertRejected("damping", () -> AdaFisher.builder().damping(0));
    assertRejected("fisherInterval", () -> AdaFisherW.builder().fisherInterval(0));
    assertRejected("weightDecay", () -> AdaFisherW.builder().weightDecay(-1e-4));
    assertRejected("layers", () -> AdaFisher.builder().layers(null));
  }

  private static void assertRejected(String setting, Executable configure) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, configure);
    assertTrue(
        e.getMessage().startsWith(setting),
        "message '" + e.getMessage() + "' should name " + setting);
  }

  /**
   * Every VariableV2 of the graph by name, as doubles (boxed so that maps compare by value,
   * bit-exactly).
   */
  private static Map<String, List<Double>> allVariables(Session session, Graph graph) {
    Map<String, List<Double>> out = new LinkedHashMap<>();
    Graphs.variableValues(graph, session)
        .forEach((name, values) -> out.put(name, Arrays.stream(values).boxed().toList()));
    return out;
  }

  private static Operand<TFloat32> init(Ops tf, Random random, double scale, long... shape) {
    return Tensors.constant(
        tf.withInitScope(),
        TFloat32.class,
        shape,
        RandomArrays.gaussian(random, (int) Shape.of(shape).size(), scale));
  }

  private static float[] gaussian(Random random, int n) {
    return Tensors.toFloats(RandomArrays.gaussian(random, n));
  }

  private static double[] ones(int n) {
    double[] out = new double[n];
    Arrays.fill(out, 1.0);
    return out;
  }

  private static int argmax(double[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }
}
