package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.BiFunction;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TNumber;

/**
 * The guard covers the outcome of a step: a step whose inputs, hyperparameters or results are not
 * sound commits nothing (every variable bit-identical), is counted under its cause, and the next
 * clean step trains.
 */
class StepGuardTest {
  private static final int FEATURES = 4;
  private static final int HIDDEN = 8;
  private static final int CLASSES = 3;
  private static final int BATCH = 16;
  private static final Set<String> SKIP_COUNTERS =
      Set.of(
          "skipped_steps",
          "skipped_invalid_hyperparameters",
          "skipped_nonfinite_gradients",
          "skipped_nonfinite_results");

  /** A tanh MLP 4 → 8 → 3 with both layers registered, and a loss scale fed at run time. */
  static final class Model implements AutoCloseable {
    final Graph graph = new Graph();
    final Ops tf = Ops.create(graph);
    final Placeholder<TFloat32> x =
        tf.withName("x").placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, FEATURES)));
    final Placeholder<TInt32> labels =
        tf.withName("labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    final Placeholder<TFloat32> scale =
        tf.withName("scale").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    final LayerCollection layers = new LayerCollection();
    final Operand<TFloat32> loss;
    GuardedOptimizer optimizer;
    Op step;
    Session session;

    Model() {
      Random random = new Random(3);
      Variable<TFloat32> k1 = weights("dense1/kernel", random, FEATURES, HIDDEN);
      Variable<TFloat32> b1 = weights("dense1/bias", random, HIDDEN);
      Variable<TFloat32> k2 = weights("dense2/kernel", random, HIDDEN, CLASSES);
      Variable<TFloat32> b2 = weights("dense2/bias", random, CLASSES);
      Operand<TFloat32> z1 = tf.nn.biasAdd(tf.linalg.matMul(x, k1), b1);
      Operand<TFloat32> h = tf.math.tanh(z1);
      Operand<TFloat32> z2 = tf.nn.biasAdd(tf.linalg.matMul(h, k2), b2);
      layers.registerFullyConnected(k1, b1, x, z1).registerFullyConnected(k2, b2, h, z2);
      loss = tf.math.mul(scale, SoftmaxCrossEntropy.mean(tf, z2, labels, CLASSES));
    }

    private Variable<TFloat32> weights(String name, Random random, long... shape) {
      float[] values = new float[(int) Shape.of(shape).size()];
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) (random.nextGaussian() * 0.5);
      }
      String[] parts = name.split("/");
      Ops scope = tf.withSubScope(parts[0]);
      return scope
          .withName(parts[1])
          .variable(scope.withInitScope().constant(Shape.of(shape), DataBuffers.of(values)));
    }

    Model with(BiFunction<Graph, LayerCollection, GuardedOptimizer> factory) {
      optimizer = factory.apply(graph, layers);
      step = optimizer.minimize(loss);
      session = new Session(graph);
      session.initialize();
      return this;
    }

    void run(Batch batch) {
      try (TFloat32 xs =
              TFloat32.tensorOf(Shape.of(batch.rows(), FEATURES), DataBuffers.of(batch.x()));
          TInt32 ys = TInt32.vectorOf(batch.labels());
          TFloat32 s = TFloat32.scalarOf(batch.scale())) {
        session.runner().feed(x, xs).feed(labels, ys).feed(scale, s).addTarget(step).run();
      }
    }

    long counter(String name) {
      try (TInt64 t =
          (TInt64) session.runner().fetch(optimizer.getOptimizerName() + "/" + name).run().get(0)) {
        return t.getLong();
      }
    }

    /** Every variable's bytes by name, the skip counters left out. */
    Map<String, byte[]> state() {
      List<String> names = new ArrayList<>();
      for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        String last = op.name().substring(op.name().lastIndexOf('/') + 1);
        if (op.type().equals("VariableV2") && !SKIP_COUNTERS.contains(last)) {
          names.add(op.name());
        }
      }
      names.sort(String::compareTo);
      Map<String, byte[]> out = new LinkedHashMap<>();
      Session.Runner runner = session.runner();
      names.forEach(runner::fetch);
      try (Result r = runner.run()) {
        for (int i = 0; i < names.size(); i++) {
          Tensor t = r.get(i);
          byte[] bytes = new byte[(int) t.numBytes()];
          t.asRawTensor().data().read(bytes);
          out.put(names.get(i), bytes);
        }
      }
      return out;
    }

    /** Whether every floating-point variable holds only finite values. */
    boolean finite() {
      for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (!op.type().equals("VariableV2")) {
          continue;
        }
        try (Tensor t = session.runner().fetch(op.name()).run().get(0)) {
          if (t instanceof TFloat32 f) {
            for (long i = 0; i < f.shape().size(); i++) {
              if (!Float.isFinite(f.asRawTensor().data().asFloats().getFloat(i))) {
                return false;
              }
            }
          } else if (t instanceof TFloat64 d) {
            for (long i = 0; i < d.shape().size(); i++) {
              if (!Double.isFinite(d.asRawTensor().data().asDoubles().getDouble(i))) {
                return false;
              }
            }
          }
        }
      }
      return true;
    }

    private final Map<String, Placeholder<TFloat64>> newValues = new LinkedHashMap<>();
    private final Map<String, Op> assigns = new LinkedHashMap<>();

    /** Assigns a hyperparameter variable at run time, as a user would. */
    @SuppressWarnings("unchecked")
    /** The cause whose counter is non-zero, for the outcome table. */
    String cause() {
      for (String c :
          List.of("invalid_hyperparameters", "nonfinite_gradients", "nonfinite_results")) {
        if (counter("skipped_" + c) > 0) {
          return c.replace('_', ' ');
        }
      }
      return "none";
    }

    void assign(String hyperparameter, double value) {
      Op assign =
          assigns.computeIfAbsent(
              hyperparameter,
              k -> {
                Placeholder<TFloat64> v =
                    tf.placeholder(TFloat64.class, Placeholder.shape(Shape.scalar()));
                newValues.put(k, v);
                return tf.assign((Variable<TFloat64>) optimizer.hyperparameters().get(k), v);
              });
      try (TFloat64 t = TFloat64.scalarOf(value)) {
        session.runner().feed(newValues.get(hyperparameter), t).addTarget(assign).run();
      }
    }

    @Override
    public void close() {
      if (session != null) {
        session.close();
      }
      graph.close();
    }
  }

  record Batch(int rows, float[] x, int[] labels, float scale) {
    static Batch clean(Random random, int rows) {
      float[] x = new float[rows * FEATURES];
      int[] y = new int[rows];
      for (int i = 0; i < rows; i++) {
        for (int j = 0; j < FEATURES; j++) {
          x[i * FEATURES + j] = (float) random.nextGaussian();
        }
        y[i] = random.nextInt(CLASSES);
      }
      return new Batch(rows, x, y, 1f);
    }

    Batch withEntry(float value) {
      float[] copy = x.clone();
      copy[copy.length / 2] = value;
      return new Batch(rows, copy, labels, scale);
    }

    Batch scaledInputs(float factor) {
      float[] copy = x.clone();
      for (int i = 0; i < copy.length; i++) {
        copy[i] *= factor;
      }
      return new Batch(rows, copy, labels, scale);
    }

    Batch lossScale(float s) {
      return new Batch(rows, x, labels, s);
    }
  }

  /** The failure cases: a bad batch, and the ones each optimizer must skip. */
  enum Case {
    NAN_INPUT(b -> b.withEntry(Float.NaN)),
    INFINITE_INPUT(b -> b.withEntry(Float.POSITIVE_INFINITY)),
    /** Finite inputs whose squares overflow float32 (FROG's saturated-tanh case). */
    HUGE_INPUTS(b -> b.scaledInputs(1e20f)),
    /** Finite gradients around 1e20: FISMO's factor statistics overflow. */
    HUGE_GRADIENTS(b -> b.lossScale(1e20f)),
    LOSS_TIMES_1E6(b -> b.lossScale(1e6f)),
    EMPTY_BATCH(b -> new Batch(0, new float[0], new int[0], 1f));

    final UnaryOperator<Batch> make;

    Case(UnaryOperator<Batch> make) {
      this.make = make;
    }
  }

  record Config(
      String name,
      BiFunction<Graph, LayerCollection, GuardedOptimizer> factory,
      Set<Case> mustSkip) {
    @Override
    public String toString() {
      return name;
    }
  }

  /** What each failure case did to each optimizer, written to target/ for docs/reliability.md. */
  private static final Map<String, String> OUTCOMES = new ConcurrentSkipListMap<>();

  @AfterAll
  static void writeOutcomes() throws IOException {
    if (OUTCOMES.isEmpty()) {
      return;
    }
    StringBuilder table = new StringBuilder("| optimizer |");
    for (Case c : Case.values()) {
      table.append(' ').append(c).append(" |");
    }
    table.append("\n|---|").append("---|".repeat(Case.values().length)).append('\n');
    for (Config config : configs()) {
      table.append("| ").append(config.name()).append(" |");
      for (Case c : Case.values()) {
        table
            .append(' ')
            .append(OUTCOMES.getOrDefault(config.name() + "|" + c, "not run"))
            .append(" |");
      }
      table.append('\n');
    }
    Files.writeString(Path.of("target", "step-guard-outcomes.md"), table);
  }

  static List<Config> configs() {
    Set<Case> always = Set.of(Case.NAN_INPUT, Case.INFINITE_INPUT);
    Set<Case> fismo = Set.of(Case.NAN_INPUT, Case.INFINITE_INPUT, Case.HUGE_GRADIENTS);
    Set<Case> adaFisher = Set.of(Case.NAN_INPUT, Case.INFINITE_INPUT, Case.EMPTY_BATCH);
    Set<Case> frog = Set.of(Case.NAN_INPUT, Case.INFINITE_INPUT, Case.HUGE_INPUTS);
    List<Config> configs = new ArrayList<>();
    configs.add(
        new Config(
            "Adam", (g, l) -> ElementwiseOptimizer.builder(Fallback.adam()).build(g), always));
    configs.add(new Config("Muon", (g, l) -> Muon.builder().build(g), always));
    for (InverseRoot root : InverseRoot.values()) {
      for (int interval : new int[] {1, 10}) {
        configs.add(
            new Config(
                "Fismo-" + root + "-" + interval,
                (g, l) ->
                    Fismo.builder().inverseRoot(root).preconditionerInterval(interval).build(g),
                fismo));
      }
    }
    for (int interval : new int[] {1, 10}) {
      configs.add(
          new Config(
              "AdaFisher-" + interval,
              (g, l) -> AdaFisher.builder().layers(l).fisherInterval(interval).build(g),
              adaFisher));
      configs.add(
          new Config(
              "AdaFisherW-" + interval,
              (g, l) ->
                  AdaFisherW.builder()
                      .layers(l)
                      .fisherInterval(interval)
                      .weightDecay(0.01)
                      .build(g),
              adaFisher));
    }
    configs.add(
        new Config("Frog", (g, l) -> Frog.builder().layers(l).sampleSize(6).build(g), frog));
    return configs;
  }

  static Stream<Arguments> everyConfigAndCase() {
    return configs().stream()
        .flatMap(c -> Arrays.stream(Case.values()).map(k -> Arguments.of(c, k)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("everyConfigAndCase")
  void aBadStepCommitsNothingOrStaysFiniteAndTheNextCleanStepTrains(Config config, Case failure) {
    Random random = new Random(11);
    try (Model model = new Model().with(config.factory())) {
      // The failure comes first, on a step where every interval refreshes its statistics.
      Map<String, byte[]> before = model.state();
      model.run(failure.make.apply(Batch.clean(random, BATCH)));
      boolean skipped = model.counter("skipped_steps") == 1;
      OUTCOMES.put(
          config.name() + "|" + failure, skipped ? "skipped: " + model.cause() : "committed");
      if (config.mustSkip().contains(failure)) {
        assertTrue(skipped, config + " must skip " + failure);
      }
      if (skipped) {
        assertStateEquals(before, model.state());
        assertEquals(0, model.counter("step"));
      } else {
        assertTrue(model.finite(), config + " committed a non-finite state on " + failure);
      }
      Map<String, byte[]> beforeClean = model.state();
      model.run(Batch.clean(random, BATCH));
      assertEquals(
          skipped ? 1 : 0, model.counter("skipped_steps"), "the clean step is not skipped");
      assertTrue(model.finite());
      assertTrue(
          !Arrays.equals(beforeClean.get("dense2/kernel"), model.state().get("dense2/kernel")),
          "the clean step trains");
    }
  }

  static Stream<Config> everyConfig() {
    return configs().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("everyConfig")
  void invalidHyperparametersAtRunTimeSkipTheStepUntilRestored(Config config) {
    Random random = new Random(5);
    try (Model model = new Model().with(config.factory())) {
      model.run(Batch.clean(random, BATCH));
      for (Map.Entry<String, Operand<? extends TNumber>> h :
          model.optimizer.hyperparameters().entrySet()) {
        double original;
        try (TFloat64 t = (TFloat64) model.session.runner().fetch(h.getValue()).run().get(0)) {
          original = t.getDouble();
        }
        for (double bad : badValues(h.getKey())) {
          long skippedBefore = model.counter("skipped_invalid_hyperparameters");
          Map<String, byte[]> before = model.state();
          model.assign(h.getKey(), bad);
          model.run(Batch.clean(random, BATCH));
          assertEquals(
              skippedBefore + 1,
              model.counter("skipped_invalid_hyperparameters"),
              h.getKey() + " = " + bad);
          Map<String, byte[]> after = model.state();
          after.put(h.getValue().op().name(), before.get(h.getValue().op().name()));
          assertStateEquals(before, after);
          model.assign(h.getKey(), original);
        }
      }
      long steps = model.counter("step");
      model.run(Batch.clean(random, BATCH));
      assertEquals(steps + 1, model.counter("step"), "restored settings train again");
      assertEquals(
          model.counter("skipped_steps"), model.counter("skipped_invalid_hyperparameters"));
    }
  }

  private static double[] badValues(String key) {
    if (key.endsWith("beta1")
        || key.endsWith("beta2")
        || key.equals("beta")
        || key.endsWith("momentum")) {
      return new double[] {Double.NaN, 1.5};
    }
    if (key.endsWith("fisher_decay") || key.startsWith("factor_ema")) {
      return new double[] {Double.NaN, 1.5};
    }
    if (key.endsWith("damping") || key.endsWith("epsilon")) {
      return new double[] {Double.NaN, -1e-3};
    }
    return new double[] {Double.NaN, -0.01};
  }

  @Test
  void aScheduleOperandThatTurnsNaNSkipsTheStep() {
    Random random = new Random(8);
    try (Model model = new Model()) {
      Placeholder<TFloat64> rate =
          model.tf.withName("rate").placeholder(TFloat64.class, Placeholder.shape(Shape.scalar()));
      model.with((g, l) -> Muon.builder().learningRate(rate).build(g));
      Batch batch = Batch.clean(random, BATCH);
      for (double eta : new double[] {Double.NaN, -0.02, 0.02}) {
        try (TFloat32 xs = TFloat32.tensorOf(Shape.of(BATCH, FEATURES), DataBuffers.of(batch.x()));
            TInt32 ys = TInt32.vectorOf(batch.labels());
            TFloat32 s = TFloat32.scalarOf(1f);
            TFloat64 r = TFloat64.scalarOf(eta)) {
          model
              .session
              .runner()
              .feed(model.x, xs)
              .feed(model.labels, ys)
              .feed(model.scale, s)
              .feed(rate, r)
              .addTarget(model.step)
              .run();
        }
      }
      assertEquals(2, model.counter("skipped_invalid_hyperparameters"));
      assertEquals(1, model.counter("step"));
    }
  }

  /**
   * Three hundred mixed batches: the state stays finite, and equals that of a run fed only the
   * batches whose steps were committed.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("mixedRunConfigs")
  void mixedBatchesLeaveTheStateOfTheCommittedStepsAlone(Config config) {
    Random random = new Random(21);
    List<Batch> committed = new ArrayList<>();
    Map<String, byte[]> mixedState;
    long skipped;
    try (Model model = new Model().with(config.factory())) {
      for (int i = 0; i < 300; i++) {
        Batch clean = Batch.clean(random, BATCH);
        Batch batch =
            switch (random.nextInt(8)) {
              case 0 -> clean.withEntry(Float.NaN);
              case 1 -> clean.withEntry(Float.NEGATIVE_INFINITY);
              case 2 -> clean.scaledInputs(1e20f);
              case 3 -> clean.lossScale(1e20f);
              case 4 -> Batch.clean(random, 0);
              default -> clean;
            };
        long before = model.counter("skipped_steps");
        model.run(batch);
        if (model.counter("skipped_steps") == before) {
          committed.add(batch);
        }
      }
      assertTrue(model.finite(), "state stays finite");
      skipped = model.counter("skipped_steps");
      mixedState = model.state();
    }
    assertTrue(skipped > 30 && committed.size() > 150, "a real mix: " + skipped + " skipped");
    try (Model replay = new Model().with(config.factory())) {
      committed.forEach(replay::run);
      assertEquals(0, replay.counter("skipped_steps"));
      assertStateEquals(mixedState, replay.state());
    }
  }

  static Stream<Config> mixedRunConfigs() {
    return configs().stream()
        .filter(c -> Set.of("Muon", "Fismo-NEWTON-10", "AdaFisher-10", "Frog").contains(c.name()));
  }

  private static void assertStateEquals(Map<String, byte[]> expected, Map<String, byte[]> actual) {
    assertEquals(expected.keySet(), actual.keySet());
    for (String name : expected.keySet()) {
      if (!Arrays.equals(expected.get(name), actual.get(name))) {
        fail("variable '" + name + "' changed");
      }
    }
  }
}
