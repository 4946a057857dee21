package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Graphs;
import dev.fisheropt.testing.Tensors;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TNumber;

/** What a user of {@link Fismo} relies on beyond the reference trajectories. */
class FismoTest {
  @ParameterizedTest
  @EnumSource(ToyProblem.Kind.class)
  void trainsToAClearlyLowerLoss(ToyProblem.Kind kind) {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(kind, TFloat32.class, 1);
        Session s = new Session(p.graph)) {
      Op step = Fismo.builder().build(p.graph).minimize(p.loss);
      s.initialize();
      double before = p.loss(s);
      for (int i = 0; i < 100; i++) {
        p.run(s, step, false);
      }
      double after = p.loss(s);
      assertTrue(after < 0.5 * before, "loss " + before + " -> " + after);
    }
  }

  /**
   * With sharded roots each replica eigendecomposes only the factors of the matrices it owns: the
   * two replicas together build the unsharded step's eigendecompositions, each of them fewer. (That
   * the results equal the unsharded ones is checked on two processes in {@code distributed}.)
   */
  @Test
  void shardedRootsSplitTheEigendecompositionsBetweenReplicas() {
    int unsharded = eigendecompositions(null);
    int first = eigendecompositions(0);
    int second = eigendecompositions(1);
    assertEquals(4, unsharded, "P and Q of the MLP's two kernels");
    assertEquals(unsharded, first + second);
    assertTrue(first > 0 && second > 0, first + " and " + second);
  }

  /** SelfAdjointEigV2 ops of a refresh-every-step FISMO step, as replica {@code index} of two. */
  private static int eigendecompositions(Integer index) {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat32.class, 1)) {
      Fismo fismo =
          Fismo.builder().preconditionerInterval(1).shardedRoots(index != null).build(p.graph);
      fismo.minimize(p.loss, index == null ? Replicas.single() : new OneOfTwo(index));
      return Graphs.countOps(p.graph, "SelfAdjointEigV2");
    }
  }

  /** Replica {@code index} of two whose reductions are the identity: enough to build a step. */
  private record OneOfTwo(int index) implements Replicas {
    @Override
    public int count() {
      return 2;
    }

    @Override
    public Operand<TInt32> newKey(Ops tf) {
      return tf.constant(0);
    }

    @Override
    public <T extends TNumber> Operand<T> mean(Ops tf, Operand<T> value, Operand<TInt32> key) {
      return value;
    }

    @Override
    public <T extends TNumber> Operand<T> sum(Ops tf, Operand<T> value, Operand<TInt32> key) {
      return value;
    }
  }

  @Test
  void twoRunsFromTheSameSeedAreBitIdentical() {
    Map<String, double[]> first = train(ToyProblem.Kind.CNN, 8);
    Map<String, double[]> second = train(ToyProblem.Kind.CNN, 8);
    assertEquals(first.keySet(), second.keySet());
    for (String name : first.keySet()) {
      assertArrayEquals(first.get(name), second.get(name), 0.0, name);
    }
    assertTrue(
        first.containsKey("conv/kernel-P") && first.containsKey("dense/bias-m"),
        "slots must be part of the state compared");
  }

  private static Map<String, double[]> train(ToyProblem.Kind kind, int steps) {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(kind, TFloat32.class, 2);
        Session s = new Session(p.graph)) {
      Op step = Fismo.builder().preconditionerInterval(3).build(p.graph).minimize(p.loss);
      s.initialize();
      for (int i = 0; i < steps; i++) {
        p.run(s, step, false);
      }
      return Graphs.variableValues(p.graph, s);
    }
  }

  @Test
  void zeroGradientGivesZeroUpdate() {
    try (ToyProblem<TFloat64> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat64.class, 3);
        Session s = new Session(p.graph)) {
      Fismo fismo = Fismo.builder().build(p.graph);
      Op step = fismo.minimize(p.tf.math.mul(p.loss, p.tf.constant(0.0)));
      s.initialize();
      Map<String, double[]> before = Graphs.variableValues(p.graph, s);
      p.run(s, step, false);
      for (Variable<TFloat64> v : p.params) {
        assertArrayEquals(before.get(v.op().name()), Tensors.fetch(s, v), 0.0, v.op().name());
      }
      double[] momentum =
          Tensors.fetch(s, fismo.getSlot(p.params.get(0).asOutput(), "momentum").orElseThrow());
      for (double m : momentum) {
        assertEquals(0.0, m);
      }
      assertEquals(1.0, Tensors.scalar(s, fismo.stepCount()));
    }
  }

  @Test
  void weightDecayIsDecoupledAndOnlyOnPreconditionedMatrices() {
    try (ToyProblem<TFloat64> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat64.class, 3);
        Session s = new Session(p.graph)) {
      Variable<TFloat64> head = p.params.get(2);
      Fismo fismo = Fismo.builder().learningRate(0.1).weightDecay(0.5).exclude(head).build(p.graph);
      Op step = fismo.minimize(p.tf.math.mul(p.loss, p.tf.constant(0.0)));
      s.initialize();
      double[] kernel = Tensors.fetch(s, p.params.get(0));
      double[] headBefore = Tensors.fetch(s, head);
      p.run(s, step, false);
      double[] expected = new double[kernel.length];
      for (int i = 0; i < kernel.length; i++) {
        expected[i] = kernel[i] - 0.1 * 0.5 * kernel[i];
      }
      assertArrayEquals(
          expected,
          Tensors.fetch(s, p.params.get(0)),
          1e-15,
          "W <- W - eta*lambda*W with a zero gradient");
      assertArrayEquals(
          headBefore,
          Tensors.fetch(s, head),
          0.0,
          "an excluded matrix goes to Adam, which has no weight decay");
      assertTrue(
          fismo.getSlot(head.asOutput(), "m").isPresent()
              && fismo.getSlot(head.asOutput(), "P").isEmpty());
    }
  }

  @Test
  void nonFiniteBatchChangesNothingButTheSkipCounter() {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat32.class, 4);
        Session s = new Session(p.graph)) {
      Fismo fismo = Fismo.builder().build(p.graph);
      Op step = fismo.minimize(p.loss);
      s.initialize();
      p.run(s, step, false);
      p.run(s, step, false);
      Map<String, double[]> before = Graphs.variableValues(p.graph, s);
      p.run(s, step, true);
      Map<String, double[]> after = Graphs.variableValues(p.graph, s);
      for (String name : before.keySet()) {
        if (!name.startsWith("Fismo/skipped_")) {
          assertArrayEquals(
              before.get(name), after.get(name), 0.0, name + " changed on a NaN batch");
        }
      }
      assertEquals(1.0, Tensors.scalar(s, fismo.skippedSteps()));
      assertEquals(
          1.0,
          Tensors.scalar(
              s, fismo.skippedStepsByCause().get(GuardedOptimizer.SkipCause.NONFINITE_GRADIENTS)));
      assertEquals(2.0, Tensors.scalar(s, fismo.stepCount()));
      p.run(s, step, false);
      assertFalse(
          Arrays.equals(after.get("dense1/kernel"), Tensors.fetch(s, p.params.get(0))),
          "training resumes after a skipped step");
      assertEquals(3.0, Tensors.scalar(s, fismo.stepCount()));
    }
  }

  @Test
  void withSkippingOffANonFiniteBatchIsNotHidden() {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat32.class, 4);
        Session s = new Session(p.graph)) {
      Fismo fismo = Fismo.builder().skipNonFinite(false).build(p.graph);
      Op step = fismo.minimize(p.loss);
      s.initialize();
      // No guard: the step commits what it computed (the eigendecomposition still gets a finite
      // stand-in, so the run itself does not fail), and the NaN shows in the parameters.
      p.run(s, step, true);
      assertTrue(Double.isNaN(Tensors.fetch(s, p.params.get(0))[0]));
      assertEquals(0.0, Tensors.scalar(s, fismo.skippedSteps()));
    }
  }

  @Test
  void badSettingsAreRejectedNamingTheSetting() {
    assertRejects("learningRate", () -> Fismo.builder().learningRate(0));
    assertRejects("learningRate", () -> Fismo.builder().learningRate(Double.NaN));
    assertRejects("momentum", () -> Fismo.builder().momentum(1.0));
    assertRejects("fisherDecay", () -> Fismo.builder().fisherDecay(-0.1));
    assertRejects("damping", () -> Fismo.builder().damping(0));
    assertRejects("nsSteps", () -> Fismo.builder().nsSteps(0));
    assertRejects("preconditionerInterval", () -> Fismo.builder().preconditionerInterval(0));
    assertRejects("weightDecay", () -> Fismo.builder().weightDecay(-1e-4));
    assertRejects("name", () -> Fismo.builder().name("a/b"));
    assertRejects("fallback", () -> Fismo.builder().fallback(null));
    assertRejects("fallback beta2", () -> Fallback.adam(1e-3, 0.9, 1.0, 1e-8));
  }

  private static void assertRejects(String setting, Executable build) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build);
    assertTrue(
        e.getMessage().startsWith(setting),
        "message should name " + setting + ": " + e.getMessage());
  }

  @Test
  void slotsAndHyperparametersHaveStableNamesUnderNameScopes() {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat32.class, 5)) {
      Fismo fismo = Fismo.builder().build(p.graph);
      fismo.minimize(p.loss);
      for (String slot :
          List.of("P", "Q", "Q_inverse", "P_inverse_sqrt", "Q_inverse_sqrt", "momentum")) {
        assertEquals(
            "dense1/kernel-" + slot,
            fismo.getSlot(p.params.get(0).asOutput(), slot).orElseThrow().op().name());
      }
      assertEquals(
          "dense1/bias-m",
          fismo.getSlot(p.params.get(1).asOutput(), "m").orElseThrow().op().name());
      assertEquals("Fismo/learning_rate", fismo.hyperparameters().get("learning_rate").op().name());
      assertEquals(
          "Fismo/fallback_beta2", fismo.hyperparameters().get("fallback_beta2").op().name());
      assertEquals("Fismo/step", fismo.stepCount().op().name());
      assertEquals("Fismo/skipped_steps", fismo.skippedSteps().op().name());
    }
  }

  @Test
  void explicitVariableListLeavesOtherVariablesAlone() {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat32.class, 6);
        Session s = new Session(p.graph)) {
      Fismo fismo = Fismo.builder().build(p.graph);
      Variable<TFloat32> head = p.params.get(2);
      Op step = fismo.minimize(p.loss, List.of(head));
      s.initialize();
      double[] firstLayer = Tensors.fetch(s, p.params.get(0));
      double[] headBefore = Tensors.fetch(s, head);
      p.run(s, step, false);
      assertArrayEquals(firstLayer, Tensors.fetch(s, p.params.get(0)), 0.0);
      assertFalse(Arrays.equals(headBefore, Tensors.fetch(s, head)));
      assertTrue(
          fismo.getSlot(p.params.get(0).asOutput(), "P").isEmpty(),
          "no slot for a variable outside the list");
    }
  }

  @Test
  void variablesTheLossDoesNotReadAreIgnoredOrRejected() {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat32.class, 7);
        Session s = new Session(p.graph)) {
      Variable<TFloat32> unrelated =
          p.tf.withName("unrelated").variable(p.tf.withInitScope().constant(new float[] {1, 2}));
      Fismo fismo = Fismo.builder().build(p.graph);
      Op step = fismo.minimize(p.loss);
      s.initialize();
      p.run(s, step, false);
      assertArrayEquals(new double[] {1, 2}, Tensors.fetch(s, unrelated), 0.0);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  Fismo.builder()
                      .name("Other")
                      .build(p.graph)
                      .minimize(p.loss, List.of(unrelated)));
      assertTrue(e.getMessage().contains("'unrelated' is not read by the loss"), e.getMessage());
    }
  }

  @Test
  void factorsRefreshOnlyOnMultiplesOfThePreconditionerInterval() {
    try (ToyProblem<TFloat64> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat64.class, 8);
        Session s = new Session(p.graph)) {
      Fismo fismo = Fismo.builder().preconditionerInterval(3).build(p.graph);
      Op step = fismo.minimize(p.loss);
      Variable<TFloat64> pFactor = fismo.getSlot(p.params.get(0).asOutput(), "P").orElseThrow();
      Variable<TFloat64> root =
          fismo.getSlot(p.params.get(0).asOutput(), "P_inverse_sqrt").orElseThrow();
      s.initialize();
      double[] previous = Tensors.fetch(s, pFactor);
      double[] previousRoot = Tensors.fetch(s, root);
      for (int completed = 0; completed < 7; completed++) {
        p.run(s, step, false);
        double[] now = Tensors.fetch(s, pFactor);
        double[] nowRoot = Tensors.fetch(s, root);
        boolean due = completed % 3 == 0;
        assertEquals(
            due,
            !Arrays.equals(previous, now),
            "P refreshed after " + completed + " completed steps");
        assertEquals(
            due,
            !Arrays.equals(previousRoot, nowRoot),
            "P^-1/2 refreshed after " + completed + " completed steps");
        previous = now;
        previousRoot = nowRoot;
      }
    }
  }

  @Test
  void learningRateScheduleIsEvaluatedEveryStep() {
    try (ToyProblem<TFloat64> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat64.class, 9);
        Session s = new Session(p.graph)) {
      Variable<TFloat64> rate = p.tf.withName("rate").variable(p.tf.withInitScope().constant(0.02));
      Fismo fismo = Fismo.builder().learningRate(rate).build(p.graph);
      Op step = fismo.minimize(p.loss);
      s.initialize();
      p.run(s, step, false);
      double[] afterFirst = Tensors.fetch(s, p.params.get(0));
      s.runner().addTarget(p.tf.assign(rate, p.tf.constant(0.0))).run();
      p.run(s, step, false);
      assertArrayEquals(
          afterFirst,
          Tensors.fetch(s, p.params.get(0)),
          0.0,
          "a zero learning rate must freeze the matrix parameters");
      assertNotEquals(
          0.0,
          Tensors.fetch(s, fismo.getSlot(p.params.get(0).asOutput(), "momentum").orElseThrow())[0]);
      assertEquals(2.0, Tensors.scalar(s, fismo.stepCount()));
    }
  }
}
