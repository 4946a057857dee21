package dev.fisheropt.optimizers;

import dev.fisheropt.ops.InverseRoots;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/** How {@link Fismo} computes P^{-1/2}, P^{-1} (and the same of Q) of its Kronecker factors. */
public enum InverseRoot {
  /** Symmetric eigendecomposition ({@code SelfAdjointEigV2}) with a relative eigenvalue floor. */
  EIGH;

  <T extends TFloating> InverseRoots.Roots<T> roots(Ops tf, Operand<T> spd) {
    return switch (this) {
      case EIGH -> InverseRoots.eigh(tf, spd);
    };
  }
}
