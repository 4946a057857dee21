package dev.fisheropt.optimizers;

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

/** Test helpers: fetching operands as doubles, making constants of a dtype, comparing arrays. */
final class Values {
  private Values() {}

  static double[] fetch(Session session, Operand<?> operand) {
    try (Result r = session.runner().fetch(operand).run()) {
      return toDoubles(r.get(0));
    }
  }

  static double scalar(Session session, Operand<?> operand) {
    return fetch(session, operand)[0];
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
    } else if (t instanceof org.tensorflow.types.TInt64 l) {
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

  /** A constant of {@code type} holding {@code data} (row-major) with the given shape. */
  static <T extends TFloating> Operand<T> constant(Ops tf, Class<T> type, long[] shape, double[] data) {
    if (type == TFloat64.class) {
      return cast(tf.constant(Shape.of(shape), DataBuffers.of(data, true, false)));
    }
    float[] f = new float[data.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) data[i];
    }
    return cast(tf.constant(Shape.of(shape), DataBuffers.of(f, true, false)));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> Operand<T> cast(Operand<?> o) {
    return (Operand<T>) o;
  }

  /** Fails unless ‖actual − expected‖₂ / ‖expected‖₂ ≤ tolerance, naming {@code what} and the error. */
  static void assertClose(double tolerance, String what, double[] actual, double[] expected) {
    double err = relativeError(actual, expected);
    if (!(err <= tolerance)) {
      throw new AssertionError(what + ": relative error " + err + " > " + tolerance);
    }
  }

  /** ‖a − b‖₂ / ‖b‖₂ (absolute error where b is zero). */
  static double relativeError(double[] a, double[] b) {
    if (a.length != b.length) {
      throw new AssertionError("length " + a.length + " != " + b.length);
    }
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < a.length; i++) {
      diff += (a[i] - b[i]) * (a[i] - b[i]);
      norm += b[i] * b[i];
    }
    return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
  }
}
