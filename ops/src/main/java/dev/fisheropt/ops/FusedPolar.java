package dev.fisheropt.ops;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Unstack;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * The Newton–Schulz polar factor of {@link NewtonSchulz#polar} as one native op, {@code
 * FisheroptFusedPolar} from {@link CustomOps}, for a matrix or a batch of matrices.
 *
 * <p>Per matrix M (the innermost two dimensions): X₀ = M/(‖M‖_F + 1e-7) on the wide orientation,
 * then {@code steps} times A = XXᵀ, B = bA + cA², X ← aX + BX, and the result transposed back when
 * M is tall. The graph version runs each step as several MatMul/Mul/Add kernels inside a {@code
 * StatelessWhile}; the op runs the whole iteration in one CPU kernel on TensorFlow's thread pool.
 * Where the library is unavailable (see {@link CustomOps}) the same function builds the graph
 * iteration instead, per matrix of a batch, so callers never need to check. A matrix holding a NaN
 * or an infinity gives NaNs (the graph version also gives non-finite values there).
 *
 * <p>The op is used only where it beats the graph ({@link #buildsOp}): with the AVX-512 build of
 * the library in float32 and float64, with the AVX2+FMA build (CPUs without AVX-512) in float64
 * only. In float32 TensorFlow's MatMul is oneDNN's GEMM, which that build's kernel does not match
 * (measured 0.66–0.73× the graph's speed, docs/benchmarks.md), so float32 gets the graph iteration
 * there, with one log line the first time.
 */
public final class FusedPolar {
  /** The op type registered by the native library. */
  public static final String OP_TYPE = "FisheroptFusedPolar";

  private static final Logger LOG = Logger.getLogger("dev.fisheropt.ops");
  private static final AtomicBoolean ROUTED_LOGGED = new AtomicBoolean();

  private FusedPolar() {}

  /**
   * The polar factor of {@code m} (rank ≥ 2, the last two dimensions a matrix) after {@code steps}
   * iterations with coefficients (a, b, c).
   *
   * @throws IllegalArgumentException if {@code steps < 1}, a coefficient is not finite, or {@code
   *     m} has rank below 2 or a shape that is not fully static
   */
  public static <T extends TFloating> Operand<T> polar(
      Ops tf, Operand<T> m, int steps, double a, double b, double c) {
    return polar(tf, m, steps, a, b, c, CustomOps.shared());
  }

  static <T extends TFloating> Operand<T> polar(
      Ops tf, Operand<T> m, int steps, double a, double b, double c, CustomOps library) {
    if (steps < 1) {
      throw new IllegalArgumentException("Newton–Schulz steps must be at least 1, got " + steps);
    }
    for (double coefficient : new double[] {a, b, c}) {
      if (!Double.isFinite(coefficient)) {
        throw new IllegalArgumentException(
            "Newton–Schulz coefficients must be finite, got (" + a + ", " + b + ", " + c + ")");
      }
    }
    Shape shape = m.shape();
    if (shape.isUnknown() || shape.numDimensions() < 2 || shape.hasUnknownDimension()) {
      throw new IllegalArgumentException(
          "fused polar input must be a matrix or a batch of matrices with a static shape, got shape"
              + " "
              + shape);
    }
    if (m.type() != TFloat32.class && m.type() != TFloat64.class) {
      throw new IllegalArgumentException(
          "fused polar supports TFloat32 and TFloat64, got " + m.type().getSimpleName());
    }
    if (buildsOp(m.type(), library)) {
      return fused(tf, m, steps, a, b, c);
    }
    if (library.isLoaded() && ROUTED_LOGGED.compareAndSet(false, true)) {
      LOG.info(
          "float32 fused polar runs as graph ops: the AVX2+FMA build of the fisheropt op library is"
              + " slower than TensorFlow's float32 MatMul (float64 still uses the op)");
    }
    return graph(tf, m, steps, a, b, c);
  }

  /**
   * Whether {@link #polar} builds the native op for matrices of {@code type} in this JVM (the
   * library of {@link CustomOps#shared()}), rather than the graph iteration.
   */
  public static boolean buildsOp(Class<? extends TFloating> type) {
    return buildsOp(type, CustomOps.shared());
  }

  static boolean buildsOp(Class<? extends TFloating> type, CustomOps library) {
    return library.isLoaded() && (type == TFloat64.class || library.isAvx512Build());
  }

  private static <T extends TFloating> Operand<T> fused(
      Ops tf, Operand<T> m, int steps, double a, double b, double c) {
    try (TFloat64 ta = TFloat64.scalarOf(a);
        TFloat64 tb = TFloat64.scalarOf(b);
        TFloat64 tc = TFloat64.scalarOf(c)) {
      Operation op =
          tf.scope()
              .opBuilder(OP_TYPE, "FusedPolar")
              .addInput(m.asOutput())
              .setAttr("steps", (long) steps)
              .setAttr("a", ta)
              .setAttr("b", tb)
              .setAttr("c", tc)
              .build();
      return op.output(0);
    }
  }

  private static <T extends TFloating> Operand<T> graph(
      Ops tf, Operand<T> m, int steps, double a, double b, double c) {
    Shape shape = m.shape();
    int rank = shape.numDimensions();
    if (rank == 2) {
      return NewtonSchulz.polar(tf, m, steps, a, b, c);
    }
    long rows = shape.size(rank - 2);
    long cols = shape.size(rank - 1);
    long batch = 1;
    for (int i = 0; i < rank - 2; i++) {
      batch *= shape.size(i);
    }
    if (batch == 0) {
      return m;
    }
    Operand<T> flat = tf.reshape(m, tf.constant(new long[] {batch, rows, cols}));
    Unstack<T> matrices = tf.unstack(flat, batch, Unstack.axis(0L));
    List<Operand<T>> factors = new ArrayList<>();
    for (Operand<T> matrix : matrices) {
      factors.add(NewtonSchulz.polar(tf, matrix, steps, a, b, c));
    }
    return tf.reshape(tf.stack(factors), tf.constant(shape.asArray()));
  }
}
