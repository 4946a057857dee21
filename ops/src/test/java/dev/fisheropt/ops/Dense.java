package dev.fisheropt.ops;

/** Plain-Java dense linear algebra, the independent side of the ops tests. */
final class Dense {
  private Dense() {}

  static double[][] multiply(double[][] a, double[][] b) {
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

  static double[][] transpose(double[][] a) {
    double[][] t = new double[a[0].length][a.length];
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        t[j][i] = a[i][j];
      }
    }
    return t;
  }

  static double[][] identity(int n) {
    double[][] id = new double[n][n];
    for (int i = 0; i < n; i++) {
      id[i][i] = 1;
    }
    return id;
  }

  static double maxAbsDifference(double[][] a, double[][] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
      }
    }
    return max;
  }

  static double frobenius(double[][] a) {
    double s = 0;
    for (double[] row : a) {
      for (double v : row) {
        s += v * v;
      }
    }
    return Math.sqrt(s);
  }

  /** A random SPD matrix Bᵀ B / n + shift·I. */
  static double[][] spd(long seed, int n, double shift) {
    double[][] b = GraphRunner.gaussian(seed, n, n);
    double[][] a = multiply(transpose(b), b);
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        a[i][j] /= n;
      }
      a[i][i] += shift;
    }
    return a;
  }

  /** The quintic Newton–Schulz polar iteration, written out directly. */
  static double[][] newtonSchulz(double[][] m, int steps, double a, double b, double c) {
    boolean tall = m.length > m[0].length;
    double norm = frobenius(m) + 1e-7;
    double[][] x = tall ? transpose(m) : copy(m);
    for (double[] row : x) {
      for (int j = 0; j < row.length; j++) {
        row[j] /= norm;
      }
    }
    for (int s = 0; s < steps; s++) {
      double[][] gram = multiply(x, transpose(x));
      double[][] gram2 = multiply(gram, gram);
      double[][] poly = new double[gram.length][gram.length];
      for (int i = 0; i < gram.length; i++) {
        for (int j = 0; j < gram.length; j++) {
          poly[i][j] = b * gram[i][j] + c * gram2[i][j];
        }
      }
      double[][] px = multiply(poly, x);
      for (int i = 0; i < x.length; i++) {
        for (int j = 0; j < x[0].length; j++) {
          x[i][j] = a * x[i][j] + px[i][j];
        }
      }
    }
    return tall ? transpose(x) : x;
  }

  static double[][] copy(double[][] a) {
    double[][] c = new double[a.length][];
    for (int i = 0; i < a.length; i++) {
      c[i] = a[i].clone();
    }
    return c;
  }
}
