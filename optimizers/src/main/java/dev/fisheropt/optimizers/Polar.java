package dev.fisheropt.optimizers;

import dev.fisheropt.ops.ExactPolar;
import dev.fisheropt.ops.FusedPolar;
import dev.fisheropt.ops.NewtonSchulz;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/** How {@link Fismo} and {@link Muon} compute the polar factor of their momentum. */
public enum Polar {
  /** Muon's quintic Newton–Schulz iteration as a graph loop (the default). */
  NEWTON_SCHULZ,
  /**
   * U_r V_rᵀ from the SVD, over the numerically nonzero singular values: slow, for reference runs.
   */
  EXACT,
  /**
   * The same Newton–Schulz iteration as one native CPU op ({@code FisheroptFusedPolar} from {@code
   * libfisheropt_ops.so}); falls back to {@link #NEWTON_SCHULZ}, with one log line, where the
   * library cannot be loaded.
   */
  FUSED;

  <T extends TFloating> Operand<T> factor(Ops tf, Operand<T> matrix, int nsSteps) {
    double a = NewtonSchulz.A_DEFAULT;
    double b = NewtonSchulz.B_DEFAULT;
    double c = NewtonSchulz.C_DEFAULT;
    return switch (this) {
      case NEWTON_SCHULZ -> NewtonSchulz.polar(tf, matrix, nsSteps, a, b, c);
      case EXACT -> ExactPolar.polar(tf, matrix);
      case FUSED -> FusedPolar.polar(tf, matrix, nsSteps, a, b, c);
    };
  }
}
