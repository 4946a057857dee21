package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.NewtonSchulz;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Graphs;
import dev.fisheropt.testing.Tensors;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

class MuonTest {
  @ParameterizedTest
  @EnumSource(ToyProblem.Kind.class)
  void trainsToAClearlyLowerLoss(ToyProblem.Kind kind) {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(kind, TFloat32.class, 21);
        Session s = new Session(p.graph)) {
      Op step = new Muon(p.graph).minimize(p.loss);
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
   * First step on a wide kernel (6→8): B = (1−β)G, Nesterov U = (1−β)G + βB, and the update is
   * η·√(8/6)·NS5(U).
   */
  @Test
  void firstStepIsScaledNewtonSchulzOfTheNesterovMomentum() {
    Reference ref = Reference.load("fismo_ns5_cfg1_mlp_float64.json");
    ReferenceModel<TFloat64> model = new ReferenceModel<>(ref, TFloat64.class);
    Variable<TFloat64> kernel = model.params.get("dense1/kernel");
    Output<?>[] grad =
        model.graph.addGradients(model.loss.asOutput(), new Output<?>[] {kernel.asOutput()});
    Op step =
        Muon.builder().learningRate(0.05).momentum(0.9).build(model.graph).minimize(model.loss);
    try (Session s = new Session(model.graph)) {
      s.initialize();
      double[] g = Tensors.fetch(s, grad[0]);
      double[] before = Tensors.fetch(s, kernel);
      s.run(step);
      double[] u = new double[g.length];
      for (int i = 0; i < g.length; i++) {
        u[i] = 0.1 * g[i] + 0.9 * (0.1 * g[i]);
      }
      double[] polar = newtonSchulz(u, 6, 8);
      double[] expected = new double[g.length];
      for (int i = 0; i < g.length; i++) {
        expected[i] = before[i] - 0.05 * Math.sqrt(8.0 / 6.0) * polar[i];
      }
      assertTrue(Close.relativeError(Tensors.fetch(s, kernel), expected) < 1e-12);
    } finally {
      model.graph.close();
    }
  }

  private static double[] newtonSchulz(double[] data, long rows, long cols) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> m = Tensors.constant(tf, TFloat64.class, new long[] {rows, cols}, data);
      return Tensors.fetch(s, NewtonSchulz.polar(tf, m));
    }
  }

  @Test
  void rerunsAreBitIdenticalAndANanBatchIsSkipped() {
    Map<String, double[]> first;
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.CNN, TFloat32.class, 22);
        Session s = new Session(p.graph)) {
      Muon muon = new Muon(p.graph);
      Op step = muon.minimize(p.loss);
      s.initialize();
      for (int i = 0; i < 5; i++) {
        p.run(s, step, false);
      }
      first = Graphs.variableValues(p.graph, s);
      p.run(s, step, true);
      Map<String, double[]> afterNan = Graphs.variableValues(p.graph, s);
      for (String name : first.keySet()) {
        if (!name.startsWith("Muon/skipped_")) {
          assertArrayEquals(
              first.get(name), afterNan.get(name), 0.0, name + " changed on a NaN batch");
        }
      }
      assertEquals(1.0, Tensors.scalar(s, muon.skippedSteps()));
      assertEquals(
          1.0,
          Tensors.scalar(
              s, muon.skippedStepsByCause().get(GuardedOptimizer.SkipCause.NONFINITE_GRADIENTS)));
    }
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.CNN, TFloat32.class, 22);
        Session s = new Session(p.graph)) {
      Op step = new Muon(p.graph).minimize(p.loss);
      s.initialize();
      for (int i = 0; i < 5; i++) {
        p.run(s, step, false);
      }
      Map<String, double[]> second = Graphs.variableValues(p.graph, s);
      for (String name : first.keySet()) {
        assertArrayEquals(first.get(name), second.get(name), 0.0, name);
      }
      assertTrue(first.containsKey("conv/kernel-momentum") && first.containsKey("dense/bias-v"));
    }
  }

  @Test
  void excludedMatricesGoToTheFallback() {
    try (ToyProblem<TFloat32> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat32.class, 23)) {
      Variable<TFloat32> head = p.params.get(2);
      Muon muon =
          Muon.builder().exclude(head).fallback(Fallback.momentum(0.01, 0.9)).build(p.graph);
      muon.minimize(p.loss);
      assertTrue(muon.getSlot(head.asOutput(), "momentum").isPresent());
      assertEquals(
          "dense2/kernel-momentum", muon.getSlot(head.asOutput(), "momentum").get().op().name());
      assertTrue(muon.hyperparameters().containsKey("fallback_momentum"));
    }
  }

  @Test
  void badSettingsAreRejectedNamingTheSetting() {
    for (Runnable bad :
        new Runnable[] {
          () -> Muon.builder().learningRate(-1),
          () -> Muon.builder().momentum(1.5),
          () -> Muon.builder().nsSteps(0),
          () -> Muon.builder().weightDecay(Double.POSITIVE_INFINITY),
          () -> Muon.builder().polar(null)
        }) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, bad::run);
      assertTrue(
          e.getMessage().matches("(learningRate|momentum|nsSteps|weightDecay|polar) .*"),
          e.getMessage());
    }
  }
}
