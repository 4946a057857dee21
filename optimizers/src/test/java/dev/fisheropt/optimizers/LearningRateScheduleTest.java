package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fisheropt.ops.Schedule;
import dev.fisheropt.testing.Tensors;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;

/**
 * Every optimizer takes a {@link Schedule} as its rate, on its own step counter, fallback included.
 */
class LearningRateScheduleTest {
  private static final double[] START = {0.5, -1.5, 2.0};
  private static final double[] TARGET = {1.0, 0.25, -0.5};

  /** loss = Σ (w − target)² / 2 over a vector w, and a 2×2 matrix the loss also reads. */
  private record Problem(
      Graph graph, Variable<TFloat64> w, Variable<TFloat64> matrix, Operand<TFloat64> loss) {
    static Problem create() {
      Graph graph = new Graph();
      Ops tf = Ops.create(graph);
      Variable<TFloat64> w = tf.withName("w").variable(tf.withInitScope().constant(START));
      Variable<TFloat64> m =
          tf.withName("m")
              .variable(tf.withInitScope().constant(new double[][] {{1, 0.5}, {-0.5, 2}}));
      Operand<TFloat64> diff = tf.math.sub(w, tf.constant(TARGET));
      Operand<TFloat64> loss =
          tf.math.add(
              tf.math.mul(tf.constant(0.5), tf.reduceSum(tf.math.mul(diff, diff), tf.constant(0))),
              tf.reduceSum(tf.math.mul(m, m), tf.constant(new int[] {0, 1})));
      return new Problem(graph, w, m, loss);
    }
  }

  @Test
  void theRateIsTheScheduleAtTheCountOfCompletedSteps() {
    Schedule schedule = Schedule.linearDecay(0.5, 4, 0.1);
    Problem p = Problem.create();
    Op step =
        ElementwiseOptimizer.builder(Fallback.momentum(0.01, 0.0))
            .learningRate(schedule)
            .build(p.graph())
            .minimize(p.loss(), List.of(p.w()));
    double[] w = START.clone();
    try (Session session = new Session(p.graph())) {
      session.initialize();
      for (int t = 0; t < 6; t++) {
        session.run(step);
        for (int i = 0; i < 3; i++) {
          w[i] -= schedule.valueAt(t) * (w[i] - TARGET[i]);
        }
        double[] actual = Tensors.fetch(session, p.w());
        for (int i = 0; i < 3; i++) {
          assertEquals(w[i], actual[i], 1e-15, "step " + t);
        }
      }
    }
    p.graph().close();
  }

  @Test
  void theFallbackFollowsTheScheduleScaledByItsOwnRate() {
    Schedule schedule = Schedule.warmupCosine(0.02, 2, 6, 0.002);
    Problem p = Problem.create();
    // Every parameter excluded: all of them take the fallback, plain SGD at 0.1·η(t)/peak.
    Op step =
        Muon.builder()
            .learningRate(schedule)
            .fallback(Fallback.momentum(0.1, 0.0))
            .exclude(p.w(), p.matrix())
            .build(p.graph())
            .minimize(p.loss());
    double[] w = START.clone();
    try (Session session = new Session(p.graph())) {
      session.initialize();
      for (int t = 0; t < 7; t++) {
        session.run(step);
        double rate = 0.1 * schedule.valueAt(t) / schedule.peakValue();
        for (int i = 0; i < 3; i++) {
          w[i] -= rate * (w[i] - TARGET[i]);
        }
        double[] actual = Tensors.fetch(session, p.w());
        for (int i = 0; i < 3; i++) {
          assertEquals(w[i], actual[i], 1e-15, "step " + t);
        }
      }
    }
    p.graph().close();
  }

  @Test
  void aRateAssignedAtRunTimeScalesTheFallbackToo() {
    Problem p = Problem.create();
    Fismo fismo =
        Fismo.builder().learningRate(0.02).fallback(Fallback.momentum(0.1, 0.0)).build(p.graph());
    Op step = fismo.minimize(p.loss());
    Ops tf = Ops.create(p.graph());
    @SuppressWarnings("unchecked")
    Op halve =
        tf.assign(
            (Variable<TFloat64>) fismo.hyperparameters().get("learning_rate"), tf.constant(0.01));
    try (Session session = new Session(p.graph())) {
      session.initialize();
      session.run(step);
      double[] w = Tensors.fetch(session, p.w());
      for (int i = 0; i < 3; i++) {
        assertEquals(
            START[i] - 0.1 * (START[i] - TARGET[i]),
            w[i],
            0.0,
            "at the base rate the fallback's is exact");
      }
      session.run(halve);
      session.run(step);
      double[] after = Tensors.fetch(session, p.w());
      for (int i = 0; i < 3; i++) {
        assertEquals(w[i] - 0.05 * (w[i] - TARGET[i]), after[i], 1e-15);
      }
    }
    p.graph().close();
  }

  @Test
  void aNullScheduleIsRejected() {
    assertThrows(
        IllegalArgumentException.class, () -> Fismo.builder().learningRate((Schedule) null));
  }
}
