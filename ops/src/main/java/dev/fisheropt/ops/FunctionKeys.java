package dev.fisheropt.ops;

import org.tensorflow.ndarray.Shape;

/**
 * Names for the {@link org.tensorflow.ConcreteFunction}s that loops and branches are built from.
 *
 * <p>TF-Java names a function after its signature key and a graph keeps one function per name, so
 * two loop bodies with the same key but different shapes or constants would silently share one
 * body. A key that spells out everything the body depends on makes equal keys mean equal bodies.
 */
public final class FunctionKeys {
  private FunctionKeys() {}

  /**
   * {@code base} followed by the dtype, every shape and every parameter, in characters a function
   * name may hold.
   */
  public static String of(String base, Class<?> type, Shape[] shapes, double... parameters) {
    StringBuilder key = new StringBuilder("fisheropt_").append(base).append('_').append(type.getSimpleName());
    for (Shape s : shapes) {
      key.append('_');
      for (int i = 0; i < s.numDimensions(); i++) {
        long size = s.size(i);
        key.append(i == 0 ? "" : "x").append(size < 0 ? "u" : Long.toString(size));
      }
      if (s.numDimensions() == 0) {
        key.append("scalar");
      }
    }
    for (double p : parameters) {
      key.append('_').append(Long.toHexString(Double.doubleToLongBits(p)));
    }
    return key.toString();
  }
}
