package dev.fisheropt.optimizers;

import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TType;

/**
 * The matrix a matrix optimizer sees in a parameter: a dense kernel [in, out] as itself, a conv
 * kernel [kh, kw, cin, cout] as [kh·kw·cin, cout] in row-major order (the im2col weight matrix).
 */
record MatrixView(long rows, long cols, Shape original) {
  /** The view of a rank-2 or rank-4 static shape, or null for any other parameter. */
  static MatrixView of(Shape shape) {
    if (shape.isUnknown() || shape.hasUnknownDimension()) {
      return null;
    }
    if (shape.numDimensions() == 2) {
      return new MatrixView(shape.size(0), shape.size(1), shape);
    }
    if (shape.numDimensions() == 4) {
      return new MatrixView(shape.size(0) * shape.size(1) * shape.size(2), shape.size(3), shape);
    }
    return null;
  }

  <T extends TType> Operand<T> toMatrix(Ops tf, Operand<T> x) {
    return original.numDimensions() == 2 ? x : tf.reshape(x, tf.constant(new long[] {rows, cols}));
  }

  <T extends TType> Operand<T> toParameter(Ops tf, Operand<T> m) {
    return original.numDimensions() == 2 ? m : tf.reshape(m, tf.constant(original.asArray()));
  }
}
