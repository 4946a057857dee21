package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * Losses whose TensorFlow gradient cannot take a {@code VariableV2} input directly are refused
 * before {@code addGradients}; the same losses written through {@code Identity} (or with Mul)
 * train.
 *
 * <p>Every refused pattern here kills the JVM (Square, Log1p, Atanh, Asin) or makes addGradients
 * throw (Sign, Acos, Atan, Pow, BatchMatMul) if it reaches TensorFlow: these tests pass only
 * because the check runs first. Never add a test that bypasses the check.
 */
class GradientHazardsTest {
  /** w is a 1×3 matrix, so that BatchMatMul can take it as it is. */
  private static final float[][] START = {{0.5f, 0.25f, 0.75f}};

  private record Problem(Graph graph, Ops tf, Variable<TFloat32> w) {
    static Problem create() {
      Graph graph = new Graph();
      Ops tf = Ops.create(graph);
      Variable<TFloat32> w = tf.withName("w").variable(tf.withInitScope().constant(START));
      return new Problem(graph, tf, w);
    }

    Operand<TFloat32> sum(Operand<TFloat32> x) {
      return tf.withName("loss").reduceSum(x, tf.constant(new int[] {0, 1}));
    }
  }

  private static ElementwiseOptimizer sgd(Graph graph) {
    return sgd(graph, "Sgd");
  }

  private static ElementwiseOptimizer sgd(Graph graph, String name) {
    return ElementwiseOptimizer.builder(Fallback.momentum(0.1, 0.0)).name(name).build(graph);
  }

  /** The op applied to w directly: the loss is the sum of its elements. */
  private static Operand<TFloat32> direct(Problem p, String type) {
    Ops tf = p.tf();
    Variable<TFloat32> w = p.w();
    return switch (type) {
      case "Square" -> tf.math.square(w);
      case "Log1p" -> tf.math.log1p(w);
      case "Atanh" -> tf.math.atanh(w);
      case "Asin" -> tf.math.asin(w);
      case "Sign" -> tf.math.sign(w);
      case "Acos" -> tf.math.acos(w);
      case "Atan" -> tf.math.atan(w);
      case "Pow" -> tf.math.pow(w, tf.constant(new float[][] {{2f, 2f, 2f}}));
      case "PowExponent" -> tf.math.pow(tf.constant(new float[][] {{2f, 2f, 2f}}), w);
      case "BatchMatMulV3" ->
          tf.train.batchMatMul(w, tf.constant(new float[][] {{1f}, {2f}, {3f}}), TFloat32.class);
      default -> throw new IllegalArgumentException(type);
    };
  }

  private static String opType(String pattern) {
    return pattern.equals("PowExponent") ? "Pow" : pattern;
  }

  @ParameterizedTest
  @ValueSource(strings = {"Square", "Log1p", "Atanh", "Asin"})
  void opsWhoseGradientKillsTheJvmOnAVariableAreRefusedWithTheWorkaround(String type) {
    Problem p = Problem.create();
    try (Graph g = p.graph()) {
      Operand<TFloat32> loss = p.sum(direct(p, type));
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> sgd(g).minimize(loss));
      String m = e.getMessage();
      assertTrue(m.contains("(" + type + ","), m);
      assertTrue(m.contains("'w'"), m);
      assertTrue(m.contains("SIGSEGV"), m);
      assertTrue(m.contains("tf.identity(w)"), m);
      if (type.equals("Square")) {
        assertTrue(m.contains("tf.math.square(tf.identity(w))"), m);
        assertTrue(m.contains("tf.math.mul(w, w)"), m);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"Sign", "Acos", "Atan", "Pow", "PowExponent", "BatchMatMulV3"})
  void opsWhoseGradientFailsOnAVariableAreRefusedWithTheWorkaround(String pattern) {
    Problem p = Problem.create();
    try (Graph g = p.graph()) {
      Operand<TFloat32> loss = p.sum(direct(p, pattern));
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> sgd(g).minimize(loss));
      String m = e.getMessage();
      assertTrue(m.contains("(" + opType(pattern) + ","), m);
      assertTrue(m.contains("'w'"), m);
      assertTrue(m.contains("reference type value of float_ref"), m);
      assertTrue(m.contains("tf.identity(w)"), m);
    }
  }

  @Test
  void minimizeWithAnExplicitVariableListIsCheckedToo() {
    Problem p = Problem.create();
    try (Graph g = p.graph()) {
      Operand<TFloat32> loss = p.sum(p.tf().math.square(p.w()));
      List<Variable<?>> variables = List.of(p.w());
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> sgd(g).minimize(loss, variables));
      assertTrue(e.getMessage().contains("(Square, tf.math.square)"), e.getMessage());
    }
  }

  /** Runs five steps of gradient descent, returns the loss before and after. */
  private static float[] train(BiFunction<Ops, Variable<TFloat32>, Operand<TFloat32>> elementwise) {
    Problem p = Problem.create();
    try (Graph g = p.graph()) {
      Operand<TFloat32> loss = p.sum(elementwise.apply(p.tf(), p.w()));
      Op step = sgd(g).minimize(loss);
      try (Session session = new Session(g)) {
        session.initialize();
        float before = scalar(session, loss);
        for (int i = 0; i < 5; i++) {
          session.run(step);
        }
        return new float[] {before, scalar(session, loss)};
      }
    }
  }

  private static float scalar(Session session, Operand<TFloat32> x) {
    try (TFloat32 t = (TFloat32) session.runner().fetch(x).run().get(0)) {
      return t.getFloat();
    }
  }

  @Test
  void theWorkaroundsTrain() {
    List<BiFunction<Ops, Variable<TFloat32>, Operand<TFloat32>>> losses =
        List.of(
            (tf, w) -> tf.math.mul(w, w),
            (tf, w) -> tf.math.square(tf.identity(w)),
            (tf, w) -> tf.reshape(tf.nn.l2Loss(w), tf.constant(new int[] {1, 1})),
            (tf, w) -> tf.math.log1p(tf.identity(w)),
            (tf, w) -> tf.math.pow(tf.identity(w), tf.constant(new float[][] {{2f, 2f, 2f}})),
            (tf, w) ->
                tf.math.square(
                    tf.train.batchMatMul(
                        tf.identity(w),
                        tf.constant(new float[][] {{0.1f}, {0.2f}, {0.3f}}),
                        TFloat32.class)));
    for (int i = 0; i < losses.size(); i++) {
      float[] loss = train(losses.get(i));
      assertTrue(loss[1] < loss[0], "loss " + i + ": " + loss[0] + " -> " + loss[1]);
    }
  }

  @Test
  void squareOfIdentityGetsTheExactGradient() {
    Problem p = Problem.create();
    try (Graph g = p.graph()) {
      Ops tf = p.tf();
      // loss = Σ w², one step of plain gradient descent: w ← w − 0.1·2w = 0.8·w.
      Op step = sgd(g).minimize(p.sum(tf.math.square(tf.identity(p.w()))));
      try (Session session = new Session(g)) {
        session.initialize();
        session.run(step);
        try (TFloat32 t = (TFloat32) session.runner().fetch(p.w()).run().get(0)) {
          float[] w = new float[3];
          for (int i = 0; i < 3; i++) {
            w[i] = t.getFloat(0, i);
          }
          assertArrayEquals(new float[] {0.4f, 0.2f, 0.6f}, w, 1e-6f);
        }
      }
    }
  }

  @Test
  void aHazardOnAVariableThatIsNotTrainedIsLeftToTensorFlowWhichNeverDifferentiatesIt() {
    // TensorFlow runs the gradient of Square(frozen) only if frozen is a target; addGradients with
    // only w as a target does not crash (checked in a separate JVM), so this must not be refused.
    Problem p = Problem.create();
    try (Graph g = p.graph()) {
      Ops tf = p.tf();
      Variable<TFloat32> frozen =
          tf.withName("frozen").variable(tf.withInitScope().constant(START));
      Operand<TFloat32> loss =
          tf.math.add(
              p.sum(tf.math.mul(p.w(), p.w())),
              tf.reduceSum(tf.math.square(frozen), tf.constant(new int[] {0, 1})));
      List<Variable<?>> variables = List.of(p.w());
      Op step = sgd(g).minimize(loss, variables);
      try (Session session = new Session(g)) {
        session.initialize();
        float before = scalar(session, loss);
        session.run(step);
        assertTrue(scalar(session, loss) < before);
        try (TFloat32 t = (TFloat32) session.runner().fetch(frozen).run().get(0)) {
          assertEquals(START[0][0], t.getFloat(0, 0));
        }
      }
      // minimize(loss) differentiates every variable the loss reads, frozen included: refused.
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> sgd(g, "Sgd2").minimize(loss));
      assertTrue(e.getMessage().contains("'frozen'"), e.getMessage());
    }
  }
}
