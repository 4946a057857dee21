package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

/**
 * The matrix-free row-wise Fisher operators equal Σ_i Λ_ij x_i x_iᵀ v_j + τv_j written out with
 * explicit rows: the input rows of a dense layer, the zero-padded receptive-field patches of a conv
 * layer (strided, dilated, SAME and VALID).
 */
class RowFisherTest {
  private static final double TAU = 0.3;

  @Test
  void fullyConnectedOperatorSumsWeightedOuterProductsOfInputRows() {
    Random random = new Random(7);
    int r = 5;
    int d = 4;
    int m = 3;
    double[] x = RandomArrays.gaussian(random, r * d);
    double[] lambda = positive(random, r * m);
    double[] v = RandomArrays.gaussian(random, d * m);
    double[] actual;
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      ColumnOperator<TFloat64> a =
          RowFisher.fullyConnected(
              Tensors.constant(tf, TFloat64.class, new long[] {r, d}, x),
              Tensors.constant(tf, TFloat64.class, new long[] {r, m}, lambda),
              tf.constant(TAU));
      Operand<TFloat64> vOp = Tensors.constant(tf, TFloat64.class, new long[] {d, m}, v);
      actual = Tensors.fetch(session, List.of(a.apply(tf, a.operands(), vOp)))[0];
    }
    for (int j = 0; j < m; j++) {
      for (int k = 0; k < d; k++) {
        double expected = TAU * v[k * m + j];
        for (int i = 0; i < r; i++) {
          double xv = 0;
          for (int l = 0; l < d; l++) {
            xv += x[i * d + l] * v[l * m + j];
          }
          expected += lambda[i * m + j] * x[i * d + k] * xv;
        }
        assertEquals(expected, actual[k * m + j], 1e-12 * Math.max(1, Math.abs(expected)));
      }
    }
  }

  /**
   * Conjugate gradient in the row-space coordinates takes the steps it takes on the full [d, m]
   * systems: four steps (not enough to converge) land on the same iterate, column by column, for
   * inputs with repeated and zero rows, zero weights, two dampings, and right-hand sides inside the
   * row space, outside it, mixed, and zero.
   */
  @Test
  void conjugateGradientInRowSpaceMatchesConjugateGradientOnTheFullSystems() {
    Random random = new Random(5);
    int r = 6;
    int d = 20;
    int m = 5;
    double[] x = RandomArrays.gaussian(random, r * d);
    System.arraycopy(x, 0, x, 3 * d, d);
    Arrays.fill(x, 5 * d, 6 * d, 0.0);
    double[] lambda = positive(random, r * m);
    lambda[2 * m + 1] = 0.0;
    double[] tau = {1e-6, 1.0, 1e-6, 1e-6, 1e-3};
    double[] b = RandomArrays.gaussian(random, d * m);
    for (int k = 0; k < d; k++) {
      b[k * m + 1] = 0.7 * x[k] - 1.3 * x[2 * d + k];
      b[k * m + 2] = 0.0;
      b[k * m + 4] = x[4 * d + k] + 1e-3 * b[k * m + 4];
    }
    double[][] out;
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> xs = Tensors.constant(tf, TFloat64.class, new long[] {r, d}, x);
      Operand<TFloat64> weights = Tensors.constant(tf, TFloat64.class, new long[] {r, m}, lambda);
      Operand<TFloat64> damping = Tensors.constant(tf, TFloat64.class, new long[] {1, m}, tau);
      Operand<TFloat64> rhs = Tensors.constant(tf, TFloat64.class, new long[] {d, m}, b);
      ConjugateGradient cg = ConjugateGradient.steps(4);
      RowFisher.RowSpaceSystem<TFloat64> system =
          RowFisher.fullyConnectedInRowSpace(tf, xs, weights, damping, rhs);
      out =
          Tensors.fetch(
              session,
              List.of(
                  cg.solve(tf, RowFisher.fullyConnected(xs, weights, damping), rhs).x(),
                  system.expand(tf, cg.solve(tf, system.operator(), system.rhs()).x())));
    }
    for (int j = 0; j < m; j++) {
      double[] full = new double[d];
      double[] reduced = new double[d];
      for (int k = 0; k < d; k++) {
        full[k] = out[0][k * m + j];
        reduced[k] = out[1][k * m + j];
      }
      if (j == 2) {
        assertArrayEquals(new double[d], reduced, "a zero right-hand side gives 0");
      } else {
        Close.assertClose(1e-12, "column " + j, reduced, full);
      }
    }
  }

  @ParameterizedTest(name = "stride {0}x{1} dilation {2}x{3} {4}")
  @CsvSource({"1, 1, 1, 1, SAME", "2, 1, 1, 1, SAME", "1, 2, 1, 2, VALID", "2, 2, 2, 1, SAME"})
  void convOperatorSumsWeightedOuterProductsOfPatches(
      long sh, long sw, long dh, long dw, String padding) {
    Random random = new Random(11);
    int batch = 2;
    int h = 7;
    int w = 6;
    int cin = 3;
    long[] kernel = {3, 2, cin, 4};
    long[] strides = {1, sh, sw, 1};
    long[] dilations = {1, dh, dw, 1};
    Patches p = Patches.of(batch, h, w, cin, kernel, strides, padding, dilations);
    int cout = (int) kernel[3];
    int depth = (int) (kernel[0] * kernel[1] * cin);
    double[] x = RandomArrays.gaussian(random, batch * h * w * cin);
    double[] lambda = positive(random, p.rows() * cout);
    double[] v = RandomArrays.gaussian(random, depth * cout);
    double[][] out;
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> xOp =
          Tensors.constant(tf, TFloat64.class, new long[] {batch, h, w, cin}, x);
      Operand<TFloat64> lambdaOp =
          Tensors.constant(tf, TFloat64.class, new long[] {batch, p.oh, p.ow, cout}, lambda);
      ColumnOperator<TFloat64> a =
          RowFisher.conv2d(xOp, lambdaOp, tf.constant(TAU), kernel, strides, padding, dilations);
      Operand<TFloat64> vOp = Tensors.constant(tf, TFloat64.class, new long[] {depth, cout}, v);
      out =
          Tensors.fetch(
              session,
              List.of(
                  a.apply(tf, a.operands(), vOp),
                  RowFisher.patchSquaredNorms(tf, xOp, kernel, strides, padding, dilations)));
    }
    double[][] patches = p.extract(x);
    for (int i = 0; i < p.rows(); i++) {
      assertEquals(DenseMatrices.dot(patches[i], patches[i]), out[1][i], 1e-12);
    }
    for (int j = 0; j < cout; j++) {
      double[] vj = new double[depth];
      for (int k = 0; k < depth; k++) {
        vj[k] = v[k * cout + j];
      }
      for (int k = 0; k < depth; k++) {
        double expected = TAU * vj[k];
        for (int i = 0; i < p.rows(); i++) {
          expected += lambda[i * cout + j] * patches[i][k] * DenseMatrices.dot(patches[i], vj);
        }
        assertEquals(
            expected,
            out[0][k * cout + j],
            1e-11 * Math.max(1, Math.abs(expected)),
            "column " + j + " entry " + k);
      }
    }
  }

  private static double[] positive(Random random, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = 0.1 + random.nextDouble();
    }
    return v;
  }

  /**
   * im2col by hand, with TensorFlow's output sizes and SAME padding split (the smaller half first).
   */
  private record Patches(
      int batch,
      int h,
      int w,
      int cin,
      long[] kernel,
      long[] strides,
      long[] dilations,
      int oh,
      int ow,
      int padTop,
      int padLeft) {
    static Patches of(
        int batch,
        int h,
        int w,
        int cin,
        long[] kernel,
        long[] strides,
        String padding,
        long[] dilations) {
      int[] out = new int[2];
      int[] before = new int[2];
      int[] in = {h, w};
      for (int a = 0; a < 2; a++) {
        long effective = (kernel[a] - 1) * dilations[a + 1] + 1;
        if (padding.equals("SAME")) {
          out[a] = (int) ((in[a] + strides[a + 1] - 1) / strides[a + 1]);
          long total = Math.max((out[a] - 1) * strides[a + 1] + effective - in[a], 0);
          before[a] = (int) (total / 2);
        } else {
          out[a] = (int) ((in[a] - effective + strides[a + 1]) / strides[a + 1]);
        }
      }
      return new Patches(
          batch, h, w, cin, kernel, strides, dilations, out[0], out[1], before[0], before[1]);
    }

    int rows() {
      return batch * oh * ow;
    }

    /** One row per (sample, output row, output column), entries in [kh, kw, cin] order. */
    double[][] extract(double[] x) {
      int depth = (int) (kernel[0] * kernel[1] * cin);
      double[][] rows = new double[rows()][depth];
      for (int b = 0; b < batch; b++) {
        for (int i = 0; i < oh; i++) {
          for (int j = 0; j < ow; j++) {
            double[] row = rows[(b * oh + i) * ow + j];
            for (int u = 0; u < kernel[0]; u++) {
              for (int t = 0; t < kernel[1]; t++) {
                long y = i * strides[1] + u * dilations[1] - padTop;
                long z = j * strides[2] + t * dilations[2] - padLeft;
                if (y < 0 || y >= h || z < 0 || z >= w) {
                  continue;
                }
                for (int c = 0; c < cin; c++) {
                  row[(int) ((u * kernel[1] + t) * cin + c)] =
                      x[(int) (((b * h + y) * w + z) * cin + c)];
                }
              }
            }
          }
        }
      }
      return rows;
    }
  }
}
