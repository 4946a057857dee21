package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;

/**
 * FROG on a ReLU MLP whose hidden layer has dead and rarely active units, with the defaults (r = 24
 * sampled rows of a batch of 128, k = 4 CG steps, τ = 1e-6): no column of the preconditioned kernel
 * moves by more than a few η.
 *
 * <p>A rarely active unit (active in 1 to 3 of the 128 rows) has at most 3 active sampled rows,
 * fewer than k, and takes the under-sampled rule (damping max(τ, 1)), which bounds its step by η.
 * Measured on this problem with the code before that rule (10 steps, 60 rare-column steps): the
 * rare columns moved by a median 73η, 16 of the 60 steps by 999–1000η (η/√τ), the largest 1000.0η;
 * the other columns by 2.6η to 15.7η. With the rule: rare columns 0.17η to 1.0η, the other columns
 * 2.6η to 11.9η.
 */
class FrogDeadUnitsTest {
  private static final int BATCH = 128;
  private static final int IN = 32;
  private static final int HIDDEN = 16;
  private static final int CLASSES = 4;
  private static final int STEPS = 10;
  private static final double ETA = 1e-3;

  /**
   * Units 0–3 never active (bias −50), 4–9 active in this many rows of the batch, 10–15 unbiased.
   */
  private static final int[] RARE_ROWS = {1, 2, 3, 1, 2, 3};

  private static final int FIRST_RARE = 4;
  private static final int FIRST_NORMAL = FIRST_RARE + RARE_ROWS.length;

  /** ‖ΔW_j‖/η of every hidden column j at every step: [STEPS][HIDDEN]. */
  private static double[][] hiddenColumnSteps() {
    Random random = new Random(11);
    double[] xData = RandomArrays.gaussian(random, BATCH * IN);
    double[] w1 = RandomArrays.gaussian(random, IN * HIDDEN, 1 / Math.sqrt(IN));
    double[] w2 = RandomArrays.gaussian(random, HIDDEN * CLASSES, 1 / Math.sqrt(HIDDEN));
    int[] labels = new int[BATCH];
    for (int i = 0; i < BATCH; i++) {
      labels[i] = random.nextInt(CLASSES);
    }
    double[] b1 = new double[HIDDEN];
    for (int j = 0; j < FIRST_RARE; j++) {
      b1[j] = -50;
    }
    for (int u = 0; u < RARE_ROWS.length; u++) {
      int j = FIRST_RARE + u;
      double[] z = new double[BATCH];
      for (int i = 0; i < BATCH; i++) {
        for (int d = 0; d < IN; d++) {
          z[i] += xData[i * IN + d] * w1[d * HIDDEN + j];
        }
      }
      Arrays.sort(z);
      int c = RARE_ROWS[u];
      b1[j] = -(z[BATCH - c] + z[BATCH - c - 1]) / 2;
    }
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      Operand<TFloat64> x = Tensors.constant(tf, TFloat64.class, new long[] {BATCH, IN}, xData);
      Variable<TFloat64> kernel1 = variable(tf, "dense1", "kernel", new long[] {IN, HIDDEN}, w1);
      Variable<TFloat64> bias1 = variable(tf, "dense1", "bias", new long[] {HIDDEN}, b1);
      Variable<TFloat64> kernel2 =
          variable(tf, "dense2", "kernel", new long[] {HIDDEN, CLASSES}, w2);
      Variable<TFloat64> bias2 =
          variable(tf, "dense2", "bias", new long[] {CLASSES}, new double[CLASSES]);
      Operand<TFloat64> z1 = tf.math.add(tf.linalg.matMul(x, kernel1), bias1);
      Operand<TFloat64> h = tf.nn.relu(z1);
      Operand<TFloat64> logits = tf.math.add(tf.linalg.matMul(h, kernel2), bias2);
      Operand<TFloat64> loss = SoftmaxCrossEntropy.mean(tf, logits, tf.constant(labels), CLASSES);
      LayerCollection layers =
          new LayerCollection()
              .registerFullyConnected(kernel1, bias1, x, z1)
              .registerFullyConnected(kernel2, bias2, h, logits);
      Op step = Frog.builder().layers(layers).learningRate(ETA).build(graph).minimize(loss);
      double[][] steps = new double[STEPS][HIDDEN];
      try (Session session = new Session(graph)) {
        session.initialize();
        for (int t = 0; t < STEPS; t++) {
          double[] before = Tensors.fetch(session, kernel1);
          session.run(step);
          double[] after = Tensors.fetch(session, kernel1);
          for (int j = 0; j < HIDDEN; j++) {
            double s = 0;
            for (int d = 0; d < IN; d++) {
              double diff = after[d * HIDDEN + j] - before[d * HIDDEN + j];
              s += diff * diff;
            }
            steps[t][j] = Math.sqrt(s) / ETA;
          }
        }
      }
      return steps;
    }
  }

  private static Variable<TFloat64> variable(
      Ops tf, String scope, String name, long[] shape, double[] data) {
    return tf.withSubScope(scope)
        .withName(name)
        .variable(Tensors.constant(tf.withInitScope(), TFloat64.class, shape, data));
  }

  @Test
  void rareColumnsMoveByAtMostEtaAndNoColumnByMoreThanThreeRootDEta() {
    double[][] steps = hiddenColumnSteps();
    for (int t = 0; t < STEPS; t++) {
      for (int j = 0; j < HIDDEN; j++) {
        double s = steps[t][j];
        assertTrue(
            s <= 3 * Math.sqrt(IN), "step " + (t + 1) + " column " + j + " moved by " + s + "·η");
        if (j < FIRST_RARE) {
          assertTrue(
              s == 0,
              "step "
                  + (t + 1)
                  + ": dead column "
                  + j
                  + " has no momentum yet moved by "
                  + s
                  + "·η");
        } else if (j < FIRST_NORMAL) {
          // Under-sampled: damping 1 ≤ every eigenvalue, so ‖Z‖ ≤ √⟨Z, M⟩ and the column moves by
          // at most η.
          assertTrue(
              s > 0 && s <= 1 + 1e-9,
              "step " + (t + 1) + ": rare column " + j + " moved by " + s + "·η");
        }
      }
    }
  }
}
