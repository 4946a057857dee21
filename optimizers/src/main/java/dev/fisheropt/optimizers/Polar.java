package dev.fisheropt.optimizers;

import dev.fisheropt.ops.ExactPolar;
import dev.fisheropt.ops.FusedPolar;
import dev.fisheropt.ops.NewtonSchulz;
import dev.fisheropt.ops.PolarExpress;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * How {@link Fismo} and {@link Muon} compute the polar factor of their momentum: one of the
 * constants, or {@link #schedule} for a coefficient schedule of your own. The number of iterations
 * is the optimizer's {@code nsSteps}.
 */
public final class Polar {
  private enum Method {
    FIXED_QUINTIC,
    EXACT,
    FUSED,
    POLAR_EXPRESS,
    SCHEDULE
  }

  /** Muon's quintic Newton–Schulz iteration as a graph loop (the default). */
  public static final Polar NEWTON_SCHULZ =
      new Polar(Method.FIXED_QUINTIC, null, 1, "NEWTON_SCHULZ");

  /**
   * U_r V_rᵀ from the SVD, over the numerically nonzero singular values: slow, for reference runs.
   */
  public static final Polar EXACT = new Polar(Method.EXACT, null, 1, "EXACT");

  /**
   * The same Newton–Schulz iteration as one native CPU op ({@code FisheroptFusedPolar} from {@code
   * libfisheropt_ops.so}); falls back to {@link #NEWTON_SCHULZ}, with one log line, where the
   * library cannot be loaded.
   */
  public static final Polar FUSED = new Polar(Method.FUSED, null, 1, "FUSED");

  /**
   * Per-iteration minimax quintics ({@link PolarExpress}) for singular values in [1e-3, 1] after
   * normalisation, with the paper's safety factor 1.01 on the polynomials and on the normalisation.
   * Same matrix products per iteration as {@link #NEWTON_SCHULZ}.
   */
  public static final Polar POLAR_EXPRESS =
      new Polar(Method.POLAR_EXPRESS, null, PolarExpress.SAFETY_DEFAULT, "POLAR_EXPRESS");

  private static final Map<Integer, double[][]> POLAR_EXPRESS_SCHEDULES = new ConcurrentHashMap<>();

  private final Method method;
  private final double[][] coefficients;
  private final double normalizationSafety;
  private final String name;

  private Polar(Method method, double[][] coefficients, double safety, String name) {
    this.method = method;
    this.coefficients = coefficients;
    this.normalizationSafety = safety;
    this.name = name;
  }

  /**
   * A Newton–Schulz iteration whose t-th step uses the quintic (a, b, c) in row t of {@code
   * coefficients}: X ← aX + (bA + cA²)X with A = XXᵀ, from X₀ = M/(s·‖M‖_F + 1e-7). With more
   * {@code nsSteps} than rows the last row repeats; with fewer, the schedule is cut.
   *
   * @param normalizationSafety s ≥ 1
   * @throws IllegalArgumentException if the schedule is empty, a row is not three finite numbers or
   *     s &lt; 1
   */
  public static Polar schedule(double[][] coefficients, double normalizationSafety) {
    if (coefficients == null || coefficients.length == 0) {
      throw new IllegalArgumentException("polar coefficient schedule must not be empty");
    }
    double[][] copy = new double[coefficients.length][];
    for (int t = 0; t < coefficients.length; t++) {
      double[] row = coefficients[t];
      if (row == null || row.length != 3 || !Arrays.stream(row).allMatch(Double::isFinite)) {
        throw new IllegalArgumentException(
            "polar coefficient schedule row " + t + " must be three finite numbers (a, b, c)");
      }
      copy[t] = row.clone();
    }
    if (!(normalizationSafety >= 1)) {
      throw new IllegalArgumentException(
          "polar normalization safety must be at least 1, got " + normalizationSafety);
    }
    return new Polar(Method.SCHEDULE, copy, normalizationSafety, "SCHEDULE");
  }

  <T extends TFloating> Operand<T> factor(Ops tf, Operand<T> matrix, int nsSteps) {
    double a = NewtonSchulz.A_DEFAULT;
    double b = NewtonSchulz.B_DEFAULT;
    double c = NewtonSchulz.C_DEFAULT;
    return switch (method) {
      case FIXED_QUINTIC -> NewtonSchulz.polar(tf, matrix, nsSteps, a, b, c);
      case EXACT -> ExactPolar.polar(tf, matrix);
      case FUSED -> FusedPolar.polar(tf, matrix, nsSteps, a, b, c);
      case POLAR_EXPRESS ->
          NewtonSchulz.polar(tf, matrix, polarExpress(nsSteps), normalizationSafety);
      case SCHEDULE ->
          NewtonSchulz.polar(tf, matrix, stretch(coefficients, nsSteps), normalizationSafety);
    };
  }

  private static double[][] polarExpress(int steps) {
    return POLAR_EXPRESS_SCHEDULES.computeIfAbsent(
        steps,
        n ->
            PolarExpress.withSafety(
                PolarExpress.coefficients(PolarExpress.LOWER_BOUND_DEFAULT, n),
                PolarExpress.SAFETY_DEFAULT));
  }

  private static double[][] stretch(double[][] schedule, int steps) {
    double[][] result = new double[steps][];
    for (int t = 0; t < steps; t++) {
      result[t] = schedule[Math.min(t, schedule.length - 1)];
    }
    return result;
  }

  @Override
  public String toString() {
    return name;
  }
}
