package dev.fisheropt.ops;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * The symmetric eigendecomposition as {@code FisheroptSymmetricEigh} from {@link CustomOps}:
 * LAPACK's divide-and-conquer {@code ?syevd} (OpenBLAS, single-threaded), with the outputs of
 * TensorFlow's {@code SelfAdjointEigV2}: ascending eigenvalues and the eigenvectors in the columns
 * of v.
 *
 * <p>TensorFlow's CPU kernel for {@code SelfAdjointEigV2} runs Eigen's tridiagonal QR iteration; at
 * 1024×1024 in float32 the op measured 2.7× faster on the project's CPU ({@code
 * docs/benchmarks.md}), and FISMO with a refresh every step spends most of its time in
 * eigendecompositions. The op has a CPU kernel only: on a GPU, {@code SelfAdjointEigV2} (cuSOLVER)
 * is the one to use. Where the library is unavailable, {@link #decompose} builds {@code
 * SelfAdjointEigV2} instead, with one log line. A matrix holding a NaN or an infinity gives NaNs
 * (where {@code SelfAdjointEigV2} fails the run).
 */
public final class NativeEigh {
  /** The op type registered by the native library. */
  public static final String OP_TYPE = "FisheroptSymmetricEigh";

  private static final Logger LOG = Logger.getLogger("dev.fisheropt.ops");
  private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

  private NativeEigh() {}

  /** Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix. */
  public record Decomposition<T extends TFloating>(Operand<T> values, Operand<T> vectors) {}

  /**
   * The eigendecomposition of the symmetric matrix {@code a} (its upper triangle is read by the op,
   * the whole of it by the fallback).
   *
   * @throws IllegalArgumentException if {@code a} is not a square matrix of float32 or float64
   */
  public static <T extends TFloating> Decomposition<T> decompose(Ops tf, Operand<T> a) {
    return decompose(tf, a, CustomOps.shared());
  }

  static <T extends TFloating> Decomposition<T> decompose(Ops tf, Operand<T> a, CustomOps library) {
    Matrices.squareSide(a, "eigendecomposition input");
    if (a.type() != TFloat32.class && a.type() != TFloat64.class) {
      throw new IllegalArgumentException(
          "eigendecomposition supports TFloat32 and TFloat64, got " + a.type().getSimpleName());
    }
    if (buildsOp(library)) {
      GraphOperation op =
          (GraphOperation)
              tf.scope().opBuilder(OP_TYPE, "SymmetricEigh").addInput(a.asOutput()).build();
      return new Decomposition<>(op.output(0), op.output(1));
    }
    if (FALLBACK_LOGGED.compareAndSet(false, true)) {
      LOG.info(
          "native eigendecomposition unavailable, using SelfAdjointEigV2: "
              + library.unavailableReason().orElse(""));
    }
    SelfAdjointEig<T> eig = tf.linalg.selfAdjointEig(a, SelfAdjointEig.computeV(true));
    return new Decomposition<>(eig.e(), eig.v());
  }

  /** Whether {@link #decompose} builds the native op in this JVM. */
  public static boolean buildsOp() {
    return buildsOp(CustomOps.shared());
  }

  static boolean buildsOp(CustomOps library) {
    return library.isLoaded();
  }
}
