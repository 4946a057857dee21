package dev.fisheropt.ops;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * Small matrix helpers shared by the blocks of this package: dtype-exact scalars, traces,
 * identities.
 */
final class Matrices {
  private Matrices() {}

  /**
   * A scalar constant of {@code type}, converted from the double once: float64 sees the value
   * itself, float32 its nearest float.
   */
  static <T extends TFloating> Operand<T> scalar(Ops tf, double value, Class<T> type) {
    return tf.constant(type, value);
  }

  /** Machine epsilon of a floating dtype (the gap between 1 and the next representable value). */
  static double epsilon(Class<? extends TFloating> type) {
    if (type == TFloat64.class) {
      return Math.ulp(1.0);
    }
    if (type == TFloat32.class) {
      return Math.ulp(1.0f);
    }
    throw new IllegalArgumentException(
        "dtype " + type.getSimpleName() + " is not supported; use TFloat32 or TFloat64");
  }

  /** The static shape of a rank-2 operand as {rows, cols}, or a clear error. */
  static long[] matrixShape(Operand<?> x, String what) {
    Shape s = x.shape();
    if (s.numDimensions() != 2 || s.isUnknown() || s.size(0) < 0 || s.size(1) < 0) {
      throw new IllegalArgumentException(
          what + " must be a matrix with a static shape, got shape " + s);
    }
    return new long[] {s.size(0), s.size(1)};
  }

  /** The side n of a square n×n operand of static shape, or a clear error. */
  static long squareSide(Operand<?> a, String what) {
    long[] shape = matrixShape(a, what);
    if (shape[0] != shape[1]) {
      throw new IllegalArgumentException(
          what + " must be square, got " + shape[0] + "x" + shape[1]);
    }
    return shape[0];
  }

  /** tr(A) of a square matrix. */
  static <T extends TFloating> Operand<T> trace(Ops tf, Operand<T> a) {
    return tf.reduceSum(diagonal(tf, a), tf.constant(0));
  }

  /** The main diagonal of a square matrix as a vector. */
  static <T extends TFloating> Operand<T> diagonal(Ops tf, Operand<T> a) {
    return tf.linalg.matrixDiagPart(a, tf.constant(0), scalar(tf, 0.0, a.type()));
  }

  /** A + c·I for a square A and a scalar c, touching only the diagonal. */
  static <T extends TFloating> Operand<T> addToDiagonal(Ops tf, Operand<T> a, Operand<T> c) {
    return tf.linalg.matrixSetDiag(a, tf.math.add(diagonal(tf, a), c), tf.constant(0));
  }

  /** The n×n identity, built from a vector of ones (no n² constant in the graph). */
  static <T extends TFloating> Operand<T> identity(Ops tf, long n, Class<T> type) {
    Operand<T> ones = tf.fill(tf.constant(new long[] {n}), scalar(tf, 1.0, type));
    return tf.linalg.matrixDiag(
        ones, tf.constant(0), tf.constant((int) n), tf.constant((int) n), scalar(tf, 0.0, type));
  }

  /** (A + Aᵀ)/2. */
  static <T extends TFloating> Operand<T> symmetrize(Ops tf, Operand<T> a) {
    Operand<T> sum = tf.math.add(a, tf.linalg.transpose(a, tf.constant(new int[] {1, 0})));
    return tf.math.mul(sum, scalar(tf, 0.5, a.type()));
  }

  /** A·B. */
  static <T extends TFloating> Operand<T> matmul(Ops tf, Operand<T> a, Operand<T> b) {
    return tf.linalg.matMul(a, b);
  }

  /** A·Bᵀ. */
  static <T extends TFloating> Operand<T> matmulTransposeB(Ops tf, Operand<T> a, Operand<T> b) {
    return tf.linalg.matMul(a, b, MatMul.transposeB(true));
  }

  /** Aᵀ·B. */
  static <T extends TFloating> Operand<T> matmulTransposeA(Ops tf, Operand<T> a, Operand<T> b) {
    return tf.linalg.matMul(a, b, MatMul.transposeA(true));
  }

  /** ‖A‖_F. */
  static <T extends TFloating> Operand<T> frobeniusNorm(Ops tf, Operand<T> a) {
    return tf.math.sqrt(tf.reduceSum(tf.math.square(a), tf.constant(new int[] {0, 1})));
  }
}
