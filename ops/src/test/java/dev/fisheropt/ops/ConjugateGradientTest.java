package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * Batched conjugate gradient behaves as the theory says: exact after as many steps as a column's
 * matrix has distinct eigenvalues, within the Chebyshev bound 2((√κ−1)/(√κ+1))^k in the energy norm
 * before that, and the columns are independent systems.
 */
class ConjugateGradientTest {
  /** A_j V_j for dense matrices A_j stacked as [m, n, n], an operand carried through the loop. */
  private static <T extends TFloating> ColumnOperator<T> dense(Operand<T> stacked) {
    return new ColumnOperator<>() {
      @Override
      public List<Operand<?>> operands() {
        return List.of(stacked);
      }

      @Override
      @SuppressWarnings("unchecked")
      public Operand<T> apply(Ops tf, List<Operand<?>> in, Operand<T> v) {
        Operand<T> columns = tf.linalg.transpose(v, tf.constant(new int[] {1, 0}));
        Operand<T> products =
            tf.math.mul((Operand<T>) in.get(0), tf.expandDims(columns, tf.constant(1)));
        return tf.linalg.transpose(
            tf.reduceSum(products, tf.constant(2)), tf.constant(new int[] {1, 0}));
      }

      @Override
      public String key() {
        return "dense_test";
      }
    };
  }

  /** m systems of size n: the matrices and right-hand sides of a test problem. */
  private record Systems(double[][][] a, double[][] b) {
    int n() {
      return b[0].length;
    }

    int m() {
      return b.length;
    }

    double[] stacked() {
      double[] out = new double[m() * n() * n()];
      for (int j = 0; j < m(); j++) {
        for (int r = 0; r < n(); r++) {
          System.arraycopy(a[j][r], 0, out, (j * n() + r) * n(), n());
        }
      }
      return out;
    }

    /** The right-hand sides as the columns of an [n, m] matrix. */
    double[] columns() {
      double[] out = new double[n() * m()];
      for (int j = 0; j < m(); j++) {
        for (int i = 0; i < n(); i++) {
          out[i * m() + j] = b[j][i];
        }
      }
      return out;
    }

    double[] column(double[] matrix, int j) {
      double[] c = new double[n()];
      for (int i = 0; i < n(); i++) {
        c[i] = matrix[i * m() + j];
      }
      return c;
    }
  }

  /** Column j's matrix has eigenvalues drawn from {@code spectra[j]}, cycled over n. */
  private static Systems systems(long seed, int n, double[]... spectra) {
    Random random = new Random(seed);
    double[][][] a = new double[spectra.length][][];
    double[][] b = new double[spectra.length][];
    for (int j = 0; j < spectra.length; j++) {
      double[] eigenvalues = new double[n];
      for (int i = 0; i < n; i++) {
        eigenvalues[i] = spectra[j][i % spectra[j].length];
      }
      a[j] = DenseMatrices.withEigenvalues(DenseMatrices.orthogonal(random, n), eigenvalues);
      b[j] = RandomArrays.gaussian(random, n);
    }
    return new Systems(a, b);
  }

  /**
   * Solutions after each number of steps in {@code steps}, as [n, m] matrices, plus residual norms.
   */
  private static <T extends TFloating> List<double[]> run(
      Systems s, Class<T> type, ConjugateGradient cg, boolean withDiagnostics) {
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<T> stacked =
          Tensors.constant(tf, type, new long[] {s.m(), s.n(), s.n()}, s.stacked());
      Operand<T> b = Tensors.constant(tf, type, new long[] {s.n(), s.m()}, s.columns());
      ConjugateGradient.Solution<T> solution = cg.solve(tf, dense(stacked), b);
      List<Operand<?>> fetches = new ArrayList<>(List.of(solution.x()));
      if (withDiagnostics) {
        fetches.add(solution.residualNorms());
        fetches.add(solution.iterations());
      }
      return List.of(Tensors.fetch(session, fetches));
    }
  }

  /** ‖A_j x_j − b_j‖ / ‖b_j‖. */
  private static double relativeResidual(Systems s, double[] x, int j) {
    return Close.relativeError(DenseMatrices.multiply(s.a()[j], s.column(x, j)), s.b()[j]);
  }

  @Test
  void solvesEachColumnExactlyInAsManyStepsAsItHasDistinctEigenvalues() {
    Systems s =
        systems(
            1, 12, new double[] {1, 4}, new double[] {0.5, 2, 9}, new double[] {1, 3, 7, 20, 60});
    int[] distinct = {2, 3, 5};
    // Unguarded: the guard ε adds ε/⟨r, r⟩ to β, which spoils exactness once ⟨r, r⟩ nears 1e-10.
    for (int k = 1; k <= 5; k++) {
      double[] x =
          run(s, TFloat64.class, ConjugateGradient.steps(k).denominatorGuard(0), false).get(0);
      for (int j = 0; j < s.m(); j++) {
        double residual = relativeResidual(s, x, j);
        if (k >= distinct[j]) {
          assertTrue(
              residual < 1e-10,
              "column " + j + " after " + k + " steps: relative residual " + residual);
        } else {
          assertTrue(
              residual > 1e-3,
              "column "
                  + j
                  + " cannot be solved in "
                  + k
                  + " < "
                  + distinct[j]
                  + " steps, residual "
                  + residual);
        }
      }
    }
  }

  @Test
  void energyNormErrorStaysWithinTheChebyshevBound() {
    int n = 40;
    double kappa = 400;
    double[] spectrum = new double[n];
    for (int i = 0; i < n; i++) {
      spectrum[i] = Math.pow(kappa, i / (double) (n - 1));
    }
    Systems s = systems(2, n, spectrum, spectrum);
    double rate = (Math.sqrt(kappa) - 1) / (Math.sqrt(kappa) + 1);
    for (int j = 0; j < s.m(); j++) {
      double[] exact = DenseMatrices.solve(s.a()[j], s.b()[j]);
      double initialError =
          Math.sqrt(DenseMatrices.dot(exact, DenseMatrices.multiply(s.a()[j], exact)));
      double previous = initialError;
      for (int k = 1; k <= 12; k++) {
        double[] xk = s.column(run(s, TFloat64.class, ConjugateGradient.steps(k), false).get(0), j);
        double[] e = DenseMatrices.subtract(xk, exact);
        double error = Math.sqrt(DenseMatrices.dot(e, DenseMatrices.multiply(s.a()[j], e)));
        assertTrue(
            error <= 2 * Math.pow(rate, k) * initialError,
            "column "
                + j
                + " step "
                + k
                + ": ‖e‖_A "
                + error
                + " > bound "
                + 2 * Math.pow(rate, k) * initialError);
        assertTrue(error < previous, "the energy-norm error decreases at every step");
        previous = error;
      }
    }
  }

  @Test
  void float32AgreesWithFloat64() {
    Systems s = systems(3, 16, new double[] {1, 2, 3, 5, 8});
    double[] x64 = run(s, TFloat64.class, ConjugateGradient.steps(5), false).get(0);
    double[] x32 = run(s, TFloat32.class, ConjugateGradient.steps(5), false).get(0);
    assertTrue(
        relativeResidual(s, x32, 0) < 1e-5, "float32 residual " + relativeResidual(s, x32, 0));
    for (int i = 0; i < x64.length; i++) {
      assertEquals(x64[i], x32[i], 1e-5 * Math.max(1, Math.abs(x64[i])));
    }
  }

  @Test
  void toleranceStopsOnceEveryColumnHasConverged() {
    Systems s = systems(4, 20, new double[] {1, 2}, new double[] {1, 5, 25});
    List<double[]> out = run(s, TFloat64.class, ConjugateGradient.steps(50).tolerance(1e-8), true);
    double[] residualNorms = out.get(1);
    assertEquals(3.0, out.get(2)[0], "the slowest column needs three steps");
    for (int j = 0; j < s.m(); j++) {
      assertTrue(relativeResidual(s, out.get(0), j) <= 1e-8);
      assertTrue(residualNorms[j] <= 1e-8 * Math.sqrt(DenseMatrices.dot(s.b()[j], s.b()[j])));
    }
    assertEquals(
        50.0,
        run(s, TFloat64.class, ConjugateGradient.steps(50), true).get(2)[0],
        "without a tolerance every step runs");
  }

  @Test
  void zeroRightHandSideGivesZeroThanksToTheGuard() {
    Systems s = new Systems(systems(5, 6, new double[] {1, 2}).a(), new double[][] {new double[6]});
    for (double v : run(s, TFloat64.class, ConjugateGradient.steps(3), false).get(0)) {
      assertEquals(0.0, v);
    }
    double[] unguarded =
        run(s, TFloat64.class, ConjugateGradient.steps(3).denominatorGuard(0), false).get(0);
    assertTrue(Double.isNaN(unguarded[0]), "without the guard 0/0 appears");
  }

  @Test
  void rejectsBadSettings() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ConjugateGradient.steps(0));
    assertTrue(
        e.getMessage().contains("iterations") && e.getMessage().contains("0"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ConjugateGradient.steps(2).tolerance(-1));
    assertThrows(
        IllegalArgumentException.class,
        () -> ConjugateGradient.steps(2).denominatorGuard(Double.NaN));
  }
}
