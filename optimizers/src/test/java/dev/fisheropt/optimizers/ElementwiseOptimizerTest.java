package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;

/** The element-wise rules as complete optimizers, against the update rules written out by hand. */
class ElementwiseOptimizerTest {
  private static final double[] START = {0.5, -1.5, 2.0};
  private static final double[] TARGET = {1.0, 0.25, -0.5};

  /** loss = Σ (w − target)² / 2, so the gradient is w − target. */
  private record Problem(Graph graph, Variable<TFloat64> w, Operand<TFloat64> loss) {
    static Problem create() {
      Graph graph = new Graph();
      Ops tf = Ops.create(graph);
      Variable<TFloat64> w = tf.withName("w").variable(tf.withInitScope().constant(START));
      Operand<TFloat64> diff = tf.math.sub(w, tf.constant(TARGET));
      Operand<TFloat64> loss =
          tf.math.mul(tf.constant(0.5), tf.reduceSum(tf.math.mul(diff, diff), tf.constant(0)));
      return new Problem(graph, w, loss);
    }
  }

  private static double[] read(Session session, Operand<TFloat64> v) {
    try (TFloat64 t = (TFloat64) session.runner().fetch(v).run().get(0)) {
      double[] out = new double[(int) t.shape().size(0)];
      for (int i = 0; i < out.length; i++) {
        out[i] = t.getDouble(i);
      }
      return out;
    }
  }

  @Test
  void adamFollowsTheBiasCorrectedRuleWithEpsilonAfterTheCorrection() {
    double eta = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    Problem p = Problem.create();
    ElementwiseOptimizer adam =
        ElementwiseOptimizer.builder(Fallback.adam(eta, b1, b2, eps)).name("Adam").build(p.graph());
    Op step = adam.minimize(p.loss());
    double[] w = START.clone(), m = new double[3], v = new double[3];
    try (Session session = new Session(p.graph())) {
      session.initialize();
      for (int t = 1; t <= 5; t++) {
        session.run(step);
        for (int i = 0; i < 3; i++) {
          double g = w[i] - TARGET[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          w[i] -=
              eta
                  / (1 - Math.pow(b1, t))
                  * m[i]
                  / (Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(b2, t)) + eps);
        }
        assertArrayEquals(w, read(session, p.w()), 1e-14, "step " + t);
      }
      assertArrayEquals(
          m, read(session, adam.<TFloat64>getSlot(p.w().asOutput(), "m").orElseThrow()), 1e-15);
      assertEquals(
          List.of("learning_rate", "beta1", "beta2", "epsilon"),
          List.copyOf(adam.hyperparameters().keySet()));
    }
    p.graph().close();
  }

  @Test
  void momentumWithWeightDecayAddsTheDecayIntoTheBuffer() {
    double eta = 0.05, mu = 0.9, kappa = 0.01;
    Problem p = Problem.create();
    Op step =
        ElementwiseOptimizer.builder(Fallback.momentum(eta, mu, kappa))
            .build(p.graph())
            .minimize(p.loss());
    double[] w = START.clone(), b = new double[3];
    try (Session session = new Session(p.graph())) {
      session.initialize();
      for (int t = 1; t <= 5; t++) {
        session.run(step);
        for (int i = 0; i < 3; i++) {
          b[i] = mu * b[i] + (w[i] - TARGET[i]) + kappa * w[i];
          w[i] -= eta * b[i];
        }
        assertArrayEquals(w, read(session, p.w()), 1e-15, "step " + t);
      }
    }
    p.graph().close();
  }

  @Test
  void aScheduleOperandReplacesTheRulesLearningRate() {
    Problem p = Problem.create();
    Ops tf = Ops.create(p.graph());
    Op step =
        ElementwiseOptimizer.builder(Fallback.momentum(0.05, 0.0))
            .learningRate(tf.constant(0.5))
            .build(p.graph())
            .minimize(p.loss());
    try (Session session = new Session(p.graph())) {
      session.initialize();
      session.run(step);
      double[] w = read(session, p.w());
      for (int i = 0; i < 3; i++) {
        assertEquals(START[i] - 0.5 * (START[i] - TARGET[i]), w[i], 1e-15);
      }
    }
    p.graph().close();
  }

  @Test
  void twoMinimizeCallsOnOneOptimizerBuildIndependentSteps() {
    Problem p = Problem.create();
    ElementwiseOptimizer sgd =
        ElementwiseOptimizer.builder(Fallback.momentum(0.1, 0.0)).build(p.graph());
    Op first = sgd.minimize(p.loss());
    Ops tf = Ops.create(p.graph());
    Op second = sgd.minimize(tf.math.mul(tf.constant(2.0), p.loss()));
    try (Session session = new Session(p.graph())) {
      session.initialize();
      session.run(first);
      session.run(second);
      try (TInt64 steps = (TInt64) session.runner().fetch(sgd.stepCount()).run().get(0)) {
        assertEquals(2, steps.getLong());
      }
      double[] w = read(session, p.w());
      for (int i = 0; i < 3; i++) {
        double afterFirst = START[i] - 0.1 * (START[i] - TARGET[i]);
        assertEquals(afterFirst - 0.1 * 2 * (afterFirst - TARGET[i]), w[i], 1e-15);
      }
    }
    p.graph().close();
  }

  @Test
  void twoMinimizeCallsOfALayerwiseOptimizerEachReadTheirOwnAuxiliaryGradients() {
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      Operand<TFloat64> x = tf.constant(new double[][] {{1, 2}, {-1, 0.5}, {0.25, -2}});
      Variable<TFloat64> kernel =
          tf.withSubScope("dense")
              .withName("kernel")
              .variable(tf.withInitScope().constant(new double[][] {{0.1, -0.2}, {0.3, 0.4}}));
      Operand<TFloat64> z = tf.linalg.matMul(x, kernel);
      LayerCollection layers = new LayerCollection().registerFullyConnected(kernel, null, x, z);
      AdaFisher adaFisher =
          AdaFisher.builder().layers(layers).fisherInterval(1).learningRate(0.01).build(graph);
      Operand<TFloat64> squares = tf.reduceSum(tf.math.mul(z, z), tf.constant(new int[] {0, 1}));
      Op first = adaFisher.minimize(squares);
      // dLoss/dZ of the second loss is a constant: S_D after it is MinMax of that constant's
      // squares.
      Op second =
          adaFisher.minimize(
              tf.reduceSum(
                  tf.math.mul(z, tf.constant(new double[][] {{1, 3}, {1, 3}, {1, 3}})),
                  tf.constant(new int[] {0, 1})));
      try (Session session = new Session(graph)) {
        session.initialize();
        session.run(first);
        session.run(second);
        double[] sD =
            read(session, adaFisher.<TFloat64>getSlot(kernel.asOutput(), "S_D").orElseThrow());
        // Step 1: dZ = 2Z at the initial kernel; step 2: dZ = the constant rows (1, 3), Ŝ_D = (1,
        // 9).
        double[][] xs = {{1, 2}, {-1, 0.5}, {0.25, -2}};
        double[][] k0 = {{0.1, -0.2}, {0.3, 0.4}};
        double[] s1 = new double[2];
        for (double[] row : xs) {
          for (int j = 0; j < 2; j++) {
            double dz = 2 * (row[0] * k0[0][j] + row[1] * k0[1][j]);
            s1[j] += dz * dz / xs.length;
          }
        }
        double[] expected = new double[2];
        double lo1 = Math.min(s1[0], s1[1]), hi1 = Math.max(s1[0], s1[1]);
        double[] s2 = {1, 9};
        for (int j = 0; j < 2; j++) {
          double afterFirst = 0.08 + 0.008 * (s1[j] - lo1) / (hi1 - lo1 + 1e-6);
          expected[j] = 0.08 * afterFirst + 0.008 * (s2[j] - 1) / (8 + 1e-6);
        }
        assertArrayEquals(expected, sD, 1e-15);
        try (TInt64 steps = (TInt64) session.runner().fetch(adaFisher.stepCount()).run().get(0)) {
          assertEquals(2, steps.getLong());
        }
      }
    }
  }

  @Test
  void badRulesAreRejectedByName() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Fallback.momentum(0.1, 0.9, -1));
    assertTrue(e.getMessage().contains("weightDecay"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ElementwiseOptimizer.builder(null));
  }
}
