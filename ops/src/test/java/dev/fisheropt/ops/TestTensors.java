package dev.fisheropt.ops;

import java.util.List;
import java.util.Random;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/** Test helpers: constants of a dtype from doubles, fetching as doubles, small dense linear algebra. */
final class TestTensors {
  private TestTensors() {}

  @SuppressWarnings("unchecked")
  static <T extends TFloating> Operand<T> constant(Ops tf, Class<T> type, long[] shape, double[] data) {
    if (type == TFloat64.class) {
      return (Operand<T>) tf.constant(Shape.of(shape), DataBuffers.of(data, true, false));
    }
    float[] f = new float[data.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) data[i];
    }
    return (Operand<T>) tf.constant(Shape.of(shape), DataBuffers.of(f, true, false));
  }

  /** Every operand's value, in order, from one run. */
  static double[][] fetch(Session session, List<Operand<?>> operands) {
    Session.Runner runner = session.runner();
    operands.forEach(runner::fetch);
    try (Result r = runner.run()) {
      double[][] out = new double[operands.size()][];
      for (int i = 0; i < out.length; i++) {
        out[i] = toDoubles(r.get(i));
      }
      return out;
    }
  }

  static double[] toDoubles(Tensor t) {
    int n = (int) t.shape().size();
    double[] out = new double[n];
    if (t instanceof TFloat64 d) {
      d.asRawTensor().data().asDoubles().read(out);
    } else if (t instanceof TFloat32 f) {
      float[] tmp = new float[n];
      f.asRawTensor().data().asFloats().read(tmp);
      for (int i = 0; i < n; i++) {
        out[i] = tmp[i];
      }
    } else if (t instanceof TInt32 v) {
      int[] tmp = new int[n];
      v.asRawTensor().data().asInts().read(tmp);
      for (int i = 0; i < n; i++) {
        out[i] = tmp[i];
      }
    } else {
      throw new IllegalArgumentException("cannot read " + t.dataType());
    }
    return out;
  }

  static double[] gaussian(Random random, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }

  /** A random orthogonal n×n matrix (Gram–Schmidt on Gaussian columns), row-major. */
  static double[][] orthogonal(Random random, int n) {
    double[][] q = new double[n][];
    for (int j = 0; j < n; j++) {
      double[] v = gaussian(random, n);
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

  /** Σ_k λ_k q_k q_kᵀ for the rows q_k of {@code q}. */
  static double[][] withEigenvalues(double[][] q, double[] eigenvalues) {
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

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static double[] multiply(double[][] a, double[] v) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = dot(a[i], v);
    }
    return out;
  }

  /** x with a·x = b, by Gaussian elimination with partial pivoting. */
  static double[] solve(double[][] a, double[] b) {
    int n = b.length;
    double[][] m = new double[n][];
    for (int i = 0; i < n; i++) {
      m[i] = java.util.Arrays.copyOf(a[i], n + 1);
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
}
