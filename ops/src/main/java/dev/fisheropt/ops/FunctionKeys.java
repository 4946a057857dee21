package dev.fisheropt.ops;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;

/**
 * Names for the functions that {@link GraphFunctions} builds branches and loops from.
 *
 * <p>TF-Java names a function after its signature key and a graph keeps one function per name, so
 * two loop bodies with the same key but different shapes or constants would silently share one
 * body. A key that spells out everything the body depends on makes equal keys mean equal bodies.
 */
final class FunctionKeys {
  private FunctionKeys() {}

  /** {@code base} followed by every constant, in characters a function name may hold. */
  static String of(String base, double... constants) {
    if (base == null || !base.matches("[A-Za-z0-9_]+")) {
      throw new IllegalArgumentException(
          "function name must hold only letters, digits and '_', got '" + base + "'");
    }
    StringBuilder key = new StringBuilder(base);
    for (double c : constants) {
      key.append('_').append(Long.toHexString(Double.doubleToLongBits(c)));
    }
    return key.toString();
  }

  /** {@code name} followed by the dtype and the shape of every input. */
  static String of(String name, List<? extends Operand<?>> inputs) {
    StringBuilder key = new StringBuilder("fisheropt_").append(of(name));
    for (Operand<?> input : inputs) {
      key.append('_').append(input.type().getSimpleName()).append('_');
      Shape s = input.shape();
      if (s.isUnknown()) {
        key.append("unknown");
      } else if (s.numDimensions() == 0) {
        key.append("scalar");
      }
      for (int i = 0; !s.isUnknown() && i < s.numDimensions(); i++) {
        long size = s.size(i);
        key.append(i == 0 ? "" : "x").append(size < 0 ? "u" : Long.toString(size));
      }
    }
    return key.toString();
  }
}
