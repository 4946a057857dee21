package dev.fisheropt.examples;

import dev.fisheropt.optimizers.GuardedOptimizer;
import org.tensorflow.Operand;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Bytes of an optimizer's state: its slot variables (momenta, second moments, Kronecker factors and
 * their roots) plus its hyperparameter variables, from their static shapes and dtypes. The two
 * int64 step counters are left out (16 bytes for every optimizer).
 */
public final class StateMemory {
  private StateMemory() {}

  public static long bytes(GuardedOptimizer optimizer) {
    long total = 0;
    for (Variable<?> slot : optimizer.slotVariables()) {
      total += bytes(slot);
    }
    for (Operand<?> h : optimizer.hyperparameters().values()) {
      if (h instanceof Variable<?> v) {
        total += bytes(v);
      }
    }
    return total;
  }

  private static long bytes(Variable<?> v) {
    Class<?> type = v.type();
    int size;
    if (type == TFloat32.class || type == TInt32.class) {
      size = 4;
    } else if (type == TFloat64.class || type == TInt64.class) {
      size = 8;
    } else {
      throw new IllegalArgumentException(
          "unexpected state dtype " + v.asOutput().dataType() + " of " + v.op().name());
    }
    return v.shape().size() * size;
  }
}
