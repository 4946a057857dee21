package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;

/**
 * On a fully-connected layer, FROG with as many CG steps as the layer has inputs is the exact
 * row-wise Fisher solve, checked against the D×D systems built and solved in plain Java; with a
 * sample smaller than the batch it is the exact solve on one subset of r rows. With r = 3 rows,
 * fewer than min(k, D) = 5, every column is under-sampled and is solved with its damping raised
 * from τ to 1.
 */
class FrogDenseSolveTest {
  private static final int BATCH = 6;
  private static final int IN = 5;
  private static final int OUT = 4;
  private static final int CLASSES = 3;
  private static final double ETA = 0.1;
  private static final double TAU = 1e-2;

  /**
   * Far below the default 1e-10: the guard adds ε/⟨r, r⟩ to CG's β, which stops the iteration from
   * finishing once ⟨r, r⟩ nears ε; here ⟨G, G⟩ ≈ 0.9 over all columns, so a 1e-8 match needs
   * residuals far below that.
   */
  private static final double GUARD = 1e-30;

  /** A two-layer tanh network whose first layer is registered with FROG. */
  private static final class Problem implements AutoCloseable {
    final Graph graph = new Graph();
    final Ops tf = Ops.create(graph);
    final Operand<TFloat64> x;
    final Variable<TFloat64> kernel;
    final Operand<TFloat64> z;
    final Operand<TFloat64> loss;
    final double[] xData;

    Problem() {
      Random random = new Random(3);
      xData = RandomArrays.gaussian(random, BATCH * IN);
      x = Tensors.constant(tf, TFloat64.class, new long[] {BATCH, IN}, xData);
      kernel =
          variable("dense1/kernel", new long[] {IN, OUT}, RandomArrays.gaussian(random, IN * OUT));
      Variable<TFloat64> bias =
          variable("dense1/bias", new long[] {OUT}, RandomArrays.gaussian(random, OUT));
      Variable<TFloat64> head =
          variable(
              "dense2/kernel",
              new long[] {OUT, CLASSES},
              RandomArrays.gaussian(random, OUT * CLASSES));
      z = tf.math.add(tf.linalg.matMul(x, kernel), bias);
      Operand<TFloat64> logits = tf.linalg.matMul(tf.math.tanh(z), head);
      loss =
          SoftmaxCrossEntropy.mean(tf, logits, tf.constant(new int[] {0, 1, 2, 1, 0, 2}), CLASSES);
    }

    Variable<TFloat64> variable(String name, long[] shape, double[] data) {
      String[] parts = name.split("/");
      return tf.withSubScope(parts[0])
          .withName(parts[1])
          .variable(Tensors.constant(tf.withInitScope(), TFloat64.class, shape, data));
    }

    LayerCollection layers() {
      return new LayerCollection().registerFullyConnected(kernel, null, x, z);
    }

    @Override
    public void close() {
      graph.close();
    }
  }

  /**
   * The first FROG step's kernel, computed in plain Java from G, dZ and the rows in {@code rows}.
   */
  private static double[] expectedKernel(
      double[] w, double[] x, double[] g, double[] dz, int[] rows) {
    int r = rows.length;
    double[] next = w.clone();
    for (int j = 0; j < OUT; j++) {
      double[] y2 = new double[r];
      double trace = 0;
      for (int s = 0; s < r; s++) {
        double y = BATCH * dz[rows[s] * OUT + j];
        y2[s] = y * y / r;
        double norm2 = 0;
        for (int k = 0; k < IN; k++) {
          norm2 += x[rows[s] * IN + k] * x[rows[s] * IN + k];
        }
        trace += y2[s] * norm2 / IN;
      }
      int active = 0;
      double[][] a = new double[IN][IN];
      for (int s = 0; s < r; s++) {
        active += y2[s] > 0 ? 1 : 0;
        double lambda = y2[s] / (trace + GUARD);
        for (int k = 0; k < IN; k++) {
          for (int l = 0; l < IN; l++) {
            a[k][l] += lambda * x[rows[s] * IN + k] * x[rows[s] * IN + l];
          }
        }
      }
      // Fewer active rows than min(k, D) = IN (k = D here): the column's damping is raised to 1.
      double damping = active < IN ? Math.max(TAU, 1.0) : TAU;
      double[] gj = new double[IN];
      for (int k = 0; k < IN; k++) {
        a[k][k] += damping;
        gj[k] = g[k * OUT + j];
      }
      double[] zj = DenseMatrices.solve(a, gj);
      double scale = 1 / Math.sqrt(DenseMatrices.dot(zj, gj) + GUARD);
      for (int k = 0; k < IN; k++) {
        next[k * OUT + j] -= ETA * scale * zj[k];
      }
    }
    return next;
  }

  /** W before the step, G, dZ and W after one FROG step, all fetched from the same graph. */
  private static double[][] oneStep(int sampleSize, long seed) {
    try (Problem p = new Problem()) {
      Output<?>[] grads =
          p.graph.addGradients(
              p.loss.asOutput(), new Output<?>[] {p.kernel.asOutput(), p.z.asOutput()});
      Frog frog =
          Frog.builder()
              .layers(p.layers())
              .learningRate(ETA)
              .damping(TAU)
              .cgIterations(IN)
              .sampleSize(sampleSize)
              .seed(seed)
              .denominatorGuard(GUARD)
              .build(p.graph);
      var step = frog.minimize(p.loss);
      try (Session session = new Session(p.graph)) {
        session.initialize();
        double[] w = Tensors.fetch(session, p.kernel);
        double[] g = Tensors.fetch(session, grads[0]);
        double[] dz = Tensors.fetch(session, grads[1]);
        session.run(step);
        return new double[][] {w, p.xData, g, dz, Tensors.fetch(session, p.kernel)};
      }
    }
  }

  @Test
  void cgWithAsManyStepsAsInputsIsTheDirectRowWiseSolve() {
    double[][] s = oneStep(BATCH, 0);
    double[] expected = expectedKernel(s[0], s[1], s[2], s[3], new int[] {0, 1, 2, 3, 4, 5});
    double err =
        Close.relativeError(
            DenseMatrices.subtract(s[4], s[0]), DenseMatrices.subtract(expected, s[0]));
    assertTrue(err < 1e-8, "update differs from the direct solve by " + err);
  }

  @Test
  void aSampleSmallerThanTheBatchSolvesOnExactlyOneSubsetOfThatSize() {
    int r = 3;
    Set<String> chosen = new HashSet<>();
    for (long seed = 0; seed < 4; seed++) {
      double[][] s = oneStep(r, seed);
      double best = Double.POSITIVE_INFINITY;
      double second = Double.POSITIVE_INFINITY;
      String bestRows = null;
      for (int[] rows : subsets(BATCH, r)) {
        double err =
            Close.relativeError(
                DenseMatrices.subtract(s[4], s[0]),
                DenseMatrices.subtract(expectedKernel(s[0], s[1], s[2], s[3], rows), s[0]));
        if (err < best) {
          second = best;
          best = err;
          bestRows = Arrays.toString(rows);
        } else if (err < second) {
          second = err;
        }
      }
      assertTrue(
          best < 1e-8,
          "seed " + seed + ": no subset of " + r + " rows explains the update (best " + best + ")");
      assertTrue(second > 1e-3, "seed " + seed + ": the subset is identifiable");
      chosen.add(bestRows);
    }
    assertTrue(chosen.size() > 1, "different seeds draw different rows: " + chosen);
    assertEquals(oneStep(r, 1)[4][0], oneStep(r, 1)[4][0], 0.0, "one seed, one sample");
  }

  private static List<int[]> subsets(int n, int k) {
    List<int[]> out = new ArrayList<>();
    for (int mask = 0; mask < 1 << n; mask++) {
      if (Integer.bitCount(mask) == k) {
        int[] rows = new int[k];
        for (int i = 0, c = 0; i < n; i++) {
          if ((mask & 1 << i) != 0) {
            rows[c++] = i;
          }
        }
        out.add(rows);
      }
    }
    return out;
  }
}
