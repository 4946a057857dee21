package dev.fisheropt.testing;

import java.util.Arrays;
import java.util.Random;

/**
 * Plain-Java dense linear algebra on row-major {@code double[][]} matrices and {@code double[]}
 * vectors: the independent side the tests compare graph results with.
 */
public final class DenseMatrices {
  private DenseMatrices() {}

  /** The product a·b. */
  public static double[][] multiply(double[][] a, double[][] b) {
    int n = a.length;
    int k = b.length;
    int m = b[0].length;
    double[][] c = new double[n][m];
    for (int i = 0; i < n; i++) {
      for (int p = 0; p < k; p++) {
        double aip = a[i][p];
        for (int j = 0; j < m; j++) {
          c[i][j] += aip * b[p][j];
        }
      }
    }
    return c;
  }

  /** The product a·v of a matrix and a vector. */
  public static double[] multiply(double[][] a, double[] v) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = dot(a[i], v);
    }
    return out;
  }

  /** The transpose aᵀ. */
  public static double[][] transpose(double[][] a) {
    double[][] t = new double[a[0].length][a.length];
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        t[j][i] = a[i][j];
      }
    }
    return t;
  }

  /** The n×n identity. */
  public static double[][] identity(int n) {
    double[][] id = new double[n][n];
    for (int i = 0; i < n; i++) {
      id[i][i] = 1;
    }
    return id;
  }

  /** A deep copy of {@code a}. */
  public static double[][] copy(double[][] a) {
    double[][] c = new double[a.length][];
    for (int i = 0; i < a.length; i++) {
      c[i] = a[i].clone();
    }
    return c;
  }

  /** The inner product Σ a_i b_i. */
  public static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  /** The difference a − b, entry by entry. */
  public static double[] subtract(double[] a, double[] b) {
    double[] d = new double[a.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = a[i] - b[i];
    }
    return d;
  }

  /** The Frobenius norm ‖a‖_F. */
  public static double frobenius(double[][] a) {
    double s = 0;
    for (double[] row : a) {
      for (double v : row) {
        s += v * v;
      }
    }
    return Math.sqrt(s);
  }

  /** max_ij |a_ij − b_ij| over the entries of a (b at least as large). */
  public static double maxAbsDifference(double[][] a, double[][] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
      }
    }
    return max;
  }

  /** x with a·x = b, by Gaussian elimination with partial pivoting. */
  public static double[] solve(double[][] a, double[] b) {
    int n = b.length;
    double[][] m = new double[n][];
    for (int i = 0; i < n; i++) {
      m[i] = Arrays.copyOf(a[i], n + 1);
      m[i][n] = b[i];
    }
    for (int c = 0; c < n; c++) {
      int pivot = c;
      for (int r = c + 1; r < n; r++) {
        if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) {
          pivot = r;
        }
      }
      double[] tmp = m[c];
      m[c] = m[pivot];
      m[pivot] = tmp;
      for (int r = c + 1; r < n; r++) {
        double f = m[r][c] / m[c][c];
        for (int k = c; k <= n; k++) {
          m[r][k] -= f * m[c][k];
        }
      }
    }
    double[] x = new double[n];
    for (int r = n - 1; r >= 0; r--) {
      double s = m[r][n];
      for (int k = r + 1; k < n; k++) {
        s -= m[r][k] * x[k];
      }
      x[r] = s / m[r][r];
    }
    return x;
  }

  /** A random orthogonal n×n matrix (Gram–Schmidt on Gaussian rows drawn from {@code random}). */
  public static double[][] orthogonal(Random random, int n) {
    double[][] q = new double[n][];
    for (int j = 0; j < n; j++) {
      double[] v = RandomArrays.gaussian(random, n);
      for (int i = 0; i < j; i++) {
        double dot = dot(v, q[i]);
        for (int k = 0; k < n; k++) {
          v[k] -= dot * q[i][k];
        }
      }
      double norm = Math.sqrt(dot(v, v));
      for (int k = 0; k < n; k++) {
        v[k] /= norm;
      }
      q[j] = v;
    }
    return q;
  }

  /**
   * Σ_k λ_k q_k q_kᵀ for the rows q_k of {@code q}: with q orthogonal, the symmetric matrix with
   * these eigenpairs.
   */
  public static double[][] withEigenvalues(double[][] q, double[] eigenvalues) {
    int n = q.length;
    double[][] a = new double[n][n];
    for (int k = 0; k < n; k++) {
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          a[i][j] += eigenvalues[k] * q[k][i] * q[k][j];
        }
      }
    }
    return a;
  }

  /** The Householder reflection I − 2vvᵀ/‖v‖², orthogonal and symmetric. */
  public static double[][] householder(double[] v) {
    int n = v.length;
    double norm = dot(v, v);
    double[][] h = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        h[i][j] = (i == j ? 1 : 0) - 2 * v[i] * v[j] / norm;
      }
    }
    return h;
  }

  /**
   * A random SPD matrix Bᵀ B / n + shift·I, B the n×n {@link RandomArrays#gaussian(long, int, int)}
   * of {@code seed}.
   */
  public static double[][] spd(long seed, int n, double shift) {
    double[][] b = RandomArrays.gaussian(seed, n, n);
    double[][] a = multiply(transpose(b), b);
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        a[i][j] /= n;
      }
      a[i][i] += shift;
    }
    return a;
  }

  /**
   * {@code steps} of the Newton–Schulz polar iteration X ← aX + (bXXᵀ + c(XXᵀ)²)X from m/(‖m‖_F +
   * 1e-7), on the wide orientation.
   */
  public static double[][] newtonSchulz(double[][] m, int steps, double a, double b, double c) {
    double[][] schedule = new double[steps][];
    for (int s = 0; s < steps; s++) {
      schedule[s] = new double[] {a, b, c};
    }
    return newtonSchulz(m, schedule, 1);
  }

  /**
   * The Newton–Schulz polar iteration with the coefficients (a, b, c) of row t at step t, from
   * m/(safety·‖m‖_F + 1e-7), on the wide orientation.
   */
  public static double[][] newtonSchulz(double[][] m, double[][] coefficients, double safety) {
    boolean tall = m.length > m[0].length;
    double norm = safety * frobenius(m) + 1e-7;
    double[][] x = tall ? transpose(m) : copy(m);
    for (double[] row : x) {
      for (int j = 0; j < row.length; j++) {
        row[j] /= norm;
      }
    }
    for (double[] abc : coefficients) {
      double[][] gram = multiply(x, transpose(x));
      double[][] gram2 = multiply(gram, gram);
      double[][] poly = new double[gram.length][gram.length];
      for (int i = 0; i < gram.length; i++) {
        for (int j = 0; j < gram.length; j++) {
          poly[i][j] = abc[1] * gram[i][j] + abc[2] * gram2[i][j];
        }
      }
      double[][] px = multiply(poly, x);
      for (int i = 0; i < x.length; i++) {
        for (int j = 0; j < x[0].length; j++) {
          x[i][j] = abc[0] * x[i][j] + px[i][j];
        }
      }
    }
    return tall ? transpose(x) : x;
  }
}
