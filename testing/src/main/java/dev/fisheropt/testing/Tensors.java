package dev.fisheropt.testing;

import java.util.List;
import java.util.function.Function;
import org.tensorflow.Graph;
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
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * Between tensors and Java arrays: constants and tensors of a floating dtype from row-major doubles
 * (any rank, given its shape) or from a matrix, and values read back as doubles, one run at a time.
 */
public final class Tensors {
  private Tensors() {}

  /**
   * A constant of {@code type} (float32 or float64) holding the row-major {@code data} with the
   * given shape.
   */
  public static <T extends TFloating> Operand<T> constant(
      Ops tf, Class<T> type, long[] shape, double[] data) {
    return constant(tf, type, Shape.of(shape), data);
  }

  /**
   * A constant of {@code type} (float32 or float64) holding the row-major {@code data} with the
   * given shape.
   */
  @SuppressWarnings("unchecked")
  public static <T extends TFloating> Operand<T> constant(
      Ops tf, Class<T> type, Shape shape, double[] data) {
    if (type == TFloat64.class) {
      return (Operand<T>) tf.constant(shape, DataBuffers.of(data, true, false));
    }
    return (Operand<T>) tf.constant(shape, DataBuffers.of(toFloats(data), true, false));
  }

  /** A [rows, cols] constant of {@code type} (float32 or float64) holding the matrix {@code m}. */
  public static <T extends TFloating> Operand<T> constant(Ops tf, Class<T> type, double[][] m) {
    return constant(tf, type, new long[] {m.length, m[0].length}, flatten(m));
  }

  /**
   * A tensor of {@code type} (float32 or float64) holding the row-major {@code data} with the given
   * shape; the caller closes it.
   */
  @SuppressWarnings("unchecked")
  public static <T extends TFloating> T tensorOf(Class<T> type, long[] shape, double[] data) {
    if (type == TFloat64.class) {
      return (T) TFloat64.tensorOf(Shape.of(shape), DataBuffers.of(data, true, false));
    }
    return (T) tensorOf(shape, toFloats(data));
  }

  /**
   * A float32 tensor holding the row-major {@code data} with the given shape; the caller closes it.
   */
  public static TFloat32 tensorOf(long[] shape, float[] data) {
    return TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(data, true, false));
  }

  /** Every value of a float64, float32, int32 or int64 tensor, row-major, as doubles. */
  public static double[] toDoubles(Tensor t) {
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
    } else if (t instanceof TInt64 l) {
      long[] tmp = new long[n];
      l.asRawTensor().data().asLongs().read(tmp);
      for (int i = 0; i < n; i++) {
        out[i] = tmp[i];
      }
    } else {
      throw new IllegalArgumentException("cannot read " + t.dataType());
    }
    return out;
  }

  /** A tensor as a matrix: one row per index of its first dimension (a scalar is one 1×1 row). */
  public static double[][] toMatrix(Tensor t) {
    Shape shape = t.shape();
    int rows = shape.numDimensions() == 0 ? 1 : (int) shape.size(0);
    int cols = (int) (shape.size() / Math.max(rows, 1));
    double[] flat = toDoubles(t);
    double[][] out = new double[rows][cols];
    for (int i = 0; i < rows; i++) {
      System.arraycopy(flat, i * cols, out[i], 0, cols);
    }
    return out;
  }

  /** The rows of {@code m} one after another (row-major). */
  public static double[] flatten(double[][] m) {
    int cols = m.length == 0 ? 0 : m[0].length;
    double[] flat = new double[m.length * cols];
    for (int i = 0; i < m.length; i++) {
      System.arraycopy(m[i], 0, flat, i * cols, cols);
    }
    return flat;
  }

  /** Each value rounded to float. */
  public static float[] toFloats(double[] data) {
    float[] f = new float[data.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) data[i];
    }
    return f;
  }

  /** The value of {@code operand} from one run of {@code session}, as doubles. */
  public static double[] fetch(Session session, Operand<?> operand) {
    try (Result r = session.runner().fetch(operand).run()) {
      return toDoubles(r.get(0));
    }
  }

  /** Every operand's value, in order, from one run of {@code session}. */
  public static double[][] fetch(Session session, List<? extends Operand<?>> operands) {
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

  /** Every operand's value, in order, from one run of a fresh session on {@code graph}. */
  public static double[][] fetch(Graph graph, Operand<?>... operands) {
    try (Session session = new Session(graph)) {
      return fetch(session, List.of(operands));
    }
  }

  /**
   * The first (for a scalar, the only) value of {@code operand} from one run of {@code session}.
   */
  public static double scalar(Session session, Operand<?> operand) {
    return fetch(session, operand)[0];
  }

  /**
   * Builds a graph with {@code build}, runs its output once in a fresh session and returns it as a
   * matrix (see {@link #toMatrix}).
   */
  public static double[][] evaluateMatrix(Function<Ops, Operand<?>> build) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Operand<?> out = build.apply(Ops.create(g));
      try (Result r = s.runner().fetch(out).run()) {
        return toMatrix(r.get(0));
      }
    }
  }
}
