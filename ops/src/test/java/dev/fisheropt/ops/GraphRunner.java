package dev.fisheropt.ops;

import java.util.Random;
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
import org.tensorflow.types.family.TFloating;

/** Builds a small graph, runs it once and returns its output as a row-major double matrix. */
final class GraphRunner {
  private GraphRunner() {}

  static double[][] run(Function<Ops, Operand<?>> build) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Operand<?> out = build.apply(Ops.create(g));
      try (Result r = s.runner().fetch(out).run()) {
        return toMatrix(r.get(0));
      }
    }
  }

  static double[][] toMatrix(Tensor t) {
    Shape shape = t.shape();
    int rows = shape.numDimensions() == 0 ? 1 : (int) shape.size(0);
    int cols = (int) (shape.size() / Math.max(rows, 1));
    double[] flat = new double[(int) shape.size()];
    if (t instanceof TFloat64 d) {
      d.asRawTensor().data().asDoubles().read(flat);
    } else {
      float[] f = new float[flat.length];
      ((TFloat32) t).asRawTensor().data().asFloats().read(f);
      for (int i = 0; i < f.length; i++) {
        flat[i] = f[i];
      }
    }
    double[][] out = new double[rows][cols];
    for (int i = 0; i < rows; i++) {
      System.arraycopy(flat, i * cols, out[i], 0, cols);
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  static <T extends TFloating> Operand<T> constant(Ops tf, double[][] m, Class<T> type) {
    int rows = m.length;
    int cols = m[0].length;
    if (type == TFloat64.class) {
      double[] flat = new double[rows * cols];
      for (int i = 0; i < rows; i++) {
        System.arraycopy(m[i], 0, flat, i * cols, cols);
      }
      return (Operand<T>) tf.constant(Shape.of(rows, cols), DataBuffers.of(flat, true, false));
    }
    float[] flat = new float[rows * cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        flat[i * cols + j] = (float) m[i][j];
      }
    }
    return (Operand<T>) tf.constant(Shape.of(rows, cols), DataBuffers.of(flat, true, false));
  }

  static double[][] gaussian(long seed, int rows, int cols) {
    Random r = new Random(seed);
    double[][] m = new double[rows][cols];
    for (double[] row : m) {
      for (int j = 0; j < cols; j++) {
        row[j] = r.nextGaussian();
      }
    }
    return m;
  }
}
