package dev.fisheropt.optimizers;

import dev.fisheropt.ops.InverseRoots;
import dev.fisheropt.ops.KroneckerFactors;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.family.TFloating;

/** How {@link Fismo} computes P^{-1/2}, P^{-1} (and the same of Q) of its Kronecker factors. */
public enum InverseRoot {
  /** Symmetric eigendecomposition ({@code SelfAdjointEigV2}) with a relative eigenvalue floor. */
  EIGH,
  /**
   * {@link #EIGH} with the eigendecomposition by LAPACK's divide-and-conquer {@code ?syevd}
   * (OpenBLAS, in the native op library: {@link dev.fisheropt.ops.NativeEigh}), 2.7× faster than
   * {@code SelfAdjointEigV2} at 1024×1024 on the project's CPU. CPU only (on a GPU keep {@link
   * #EIGH}, which runs on cuSOLVER); where the native library is unavailable it builds {@link
   * #EIGH}'s op.
   */
  NATIVE_EIGH,
  /**
   * The coupled Newton–Schulz iteration of {@link InverseRoots#newton} (retried with a small
   * diagonal shift where it cannot converge): matrix products only, so XLA compiles it with the
   * rest of the step (it never auto-clusters {@code SelfAdjointEigV2}). A root whose residual
   * misses the acceptance tolerance is counted in the parameter's {@code unconverged_roots} slot.
   */
  NEWTON;

  /** The two roots of one factor, and whether they are trustworthy (always true for EIGH). */
  record Result<T extends TFloating>(InverseRoots.Roots<T> roots, Operand<TBool> converged) {}

  <T extends TFloating> Result<T> roots(Ops tf, Operand<T> spd) {
    return switch (this) {
      case EIGH, NATIVE_EIGH -> {
        // SelfAdjointEigV2 fails the whole run on NaN or Inf; such a factor is replaced by I here
        // and the step, whose new factor is not finite, is skipped by the guard.
        Operand<TBool> finite = tf.reduceAll(tf.math.isFinite(spd), tf.constant(new int[] {0, 1}));
        Operand<T> safe =
            tf.select(finite, spd, KroneckerFactors.identity(tf, spd.shape().size(0), spd.type()));
        yield new Result<>(
            this == EIGH ? InverseRoots.eigh(tf, safe) : InverseRoots.nativeEigh(tf, safe), finite);
      }
      case NEWTON -> {
        InverseRoots.NewtonRoots<T> r = InverseRoots.newton(tf, spd);
        yield new Result<>(r.roots(), r.converged());
      }
    };
  }
}
