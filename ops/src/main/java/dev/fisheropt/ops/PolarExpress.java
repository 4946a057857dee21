package dev.fisheropt.ops;

import java.util.Arrays;

/**
 * Per-iteration coefficients of an odd quintic polar iteration chosen by the "Polar Express"
 * construction (Amsel, Persson, Musco, Gower, 2025): each iteration's polynomial p(x) = ax + bx³ +
 * cx⁵ is the one that maps the interval [ℓ, u] holding the current singular values as close to 1 as
 * possible in the worst case (minimax), and the next iteration starts from the interval p maps to.
 *
 * <p>Muon's fixed quintic is tuned to push every singular value into roughly [0.7, 1.2] fast;
 * composing per-interval minimax polynomials instead shrinks the error of the whole composition at
 * every step, so with an equal number of matrix products the result is closer to the exact polar
 * factor. The construction follows the paper's: the polynomial for [ℓ, u] is fitted on [max(ℓ,
 * cushion·u), u] (the cushion keeps the coefficients moderate when ℓ is tiny) and then rescaled so
 * that p(ℓ) and p(u) lie symmetrically around 1; the minimax fit is a Remez exchange. From ℓ = 1e-3
 * it reproduces the paper's published coefficients (8.2872, −23.5959, 17.3004), (4.1071, −2.9478,
 * 0.5448), … to about 1e-10.
 *
 * <p>{@link #withSafety} applies the paper's safety factor: each polynomial is evaluated at x/s, so
 * a singular value up to s times the assumed upper bound (rounding, a norm estimate that is
 * slightly low) is still mapped near 1 instead of past the polynomial's stable range.
 */
public final class PolarExpress {
  /** The lower bound on the normalised singular values the paper designs for. */
  public static final double LOWER_BOUND_DEFAULT = 1e-3;

  /** The paper's safety factor. */
  public static final double SAFETY_DEFAULT = 1.01;

  /** The paper's cushion: the fit never uses a lower end below this fraction of the upper one. */
  public static final double CUSHION = 0.02407327424182761;

  private static final int GRID = 200_001;
  private static final int REMEZ_ITERATIONS = 100;

  private PolarExpress() {}

  /**
   * The coefficients (a, b, c) of {@code steps} iterations for singular values in [{@code
   * lowerBound}, 1], without safety factor.
   *
   * @throws IllegalArgumentException if {@code steps < 1} or {@code lowerBound} is not in (0, 1)
   */
  public static double[][] coefficients(double lowerBound, int steps) {
    if (steps < 1) {
      throw new IllegalArgumentException("Polar Express steps must be at least 1, got " + steps);
    }
    if (!(lowerBound > 0 && lowerBound < 1)) {
      throw new IllegalArgumentException(
          "Polar Express lower bound must lie in (0, 1), got " + lowerBound);
    }
    double lo = lowerBound;
    double hi = 1;
    double[][] result = new double[steps][];
    for (int t = 0; t < steps; t++) {
      double[] p = minimax(Math.max(lo, CUSHION * hi), hi);
      double scale = 2 / (eval(p, lo) + eval(p, hi));
      for (int i = 0; i < 3; i++) {
        p[i] *= scale;
      }
      lo = eval(p, lo);
      hi = 2 - lo;
      result[t] = p;
    }
    return result;
  }

  /**
   * The same polynomials evaluated at x/s: (a/s, b/s³, c/s⁵) for each row.
   *
   * @throws IllegalArgumentException if {@code safety < 1}
   */
  public static double[][] withSafety(double[][] coefficients, double safety) {
    if (!(safety >= 1)) {
      throw new IllegalArgumentException("safety factor must be at least 1, got " + safety);
    }
    double[][] result = new double[coefficients.length][];
    for (int t = 0; t < coefficients.length; t++) {
      double[] p = coefficients[t];
      result[t] =
          new double[] {p[0] / safety, p[1] / Math.pow(safety, 3), p[2] / Math.pow(safety, 5)};
    }
    return result;
  }

  /** The odd quintic minimising max |1 − p(x)| over [lo, hi], by Remez exchange. */
  static double[] minimax(double lo, double hi) {
    if (lo / hi > 1 - 1e-4) {
      // The interval has collapsed onto a point, where the exchange degenerates; the minimax
      // quintic tends to the one flat to second order there: (15x − 10x³ + 3x⁵)/8 at hi = 1.
      return new double[] {15.0 / 8 / hi, -10.0 / 8 / Math.pow(hi, 3), 3.0 / 8 / Math.pow(hi, 5)};
    }
    double[] reference = new double[4];
    for (int i = 0; i < 4; i++) {
      reference[i] = lo + (hi - lo) * (1 - Math.cos(Math.PI * i / 3)) / 2;
    }
    double[] p = null;
    for (int iteration = 0; iteration < REMEZ_ITERATIONS; iteration++) {
      p = equioscillating(reference);
      double[] next = alternatingExtrema(p, lo, hi);
      if (next == null || Arrays.equals(next, reference)) {
        break;
      }
      reference = next;
    }
    return p;
  }

  /** The quintic with 1 − p(x_i) = ±E, alternating in sign, at the four reference points. */
  private static double[] equioscillating(double[] x) {
    double[][] a = new double[4][5];
    for (int i = 0; i < 4; i++) {
      a[i][0] = x[i];
      a[i][1] = Math.pow(x[i], 3);
      a[i][2] = Math.pow(x[i], 5);
      a[i][3] = (i % 2 == 0) ? 1 : -1;
      a[i][4] = 1;
    }
    double[] solution = solve(a);
    return new double[] {solution[0], solution[1], solution[2]};
  }

  /**
   * The four alternating extrema of 1 − p on a fine grid of [lo, hi] (endpoints included), keeping
   * the largest of each run of equal sign; {@code null} if fewer than four alternate.
   */
  private static double[] alternatingExtrema(double[] p, double lo, double hi) {
    double[] xs = new double[GRID + 2];
    double[] errors = new double[GRID + 2];
    int count = 0;
    double previous = Double.NaN;
    double current = 1 - eval(p, lo);
    for (int i = 0; i < GRID; i++) {
      double x = lo + (hi - lo) * i / (GRID - 1);
      double next = i + 1 < GRID ? 1 - eval(p, lo + (hi - lo) * (i + 1) / (GRID - 1)) : Double.NaN;
      boolean end = i == 0 || i == GRID - 1;
      boolean turning = !end && (current - previous) * (next - current) <= 0;
      if (end || turning) {
        if (count > 0 && Math.signum(errors[count - 1]) == Math.signum(current)) {
          if (Math.abs(current) > Math.abs(errors[count - 1])) {
            xs[count - 1] = x;
            errors[count - 1] = current;
          }
        } else {
          xs[count] = x;
          errors[count] = current;
          count++;
        }
      }
      previous = current;
      current = next;
    }
    int first = 0;
    int last = count - 1;
    while (last - first + 1 > 4) {
      if (Math.abs(errors[first]) < Math.abs(errors[last])) {
        first++;
      } else {
        last--;
      }
    }
    return last - first + 1 == 4 ? Arrays.copyOfRange(xs, first, last + 1) : null;
  }

  private static double eval(double[] p, double x) {
    double x2 = x * x;
    return x * (p[0] + x2 * (p[1] + x2 * p[2]));
  }

  /** Gaussian elimination with partial pivoting on an augmented n×(n+1) system. */
  private static double[] solve(double[][] a) {
    int n = a.length;
    for (int col = 0; col < n; col++) {
      int pivot = col;
      for (int row = col + 1; row < n; row++) {
        if (Math.abs(a[row][col]) > Math.abs(a[pivot][col])) {
          pivot = row;
        }
      }
      double[] swap = a[col];
      a[col] = a[pivot];
      a[pivot] = swap;
      for (int row = col + 1; row < n; row++) {
        double f = a[row][col] / a[col][col];
        for (int k = col; k <= n; k++) {
          a[row][k] -= f * a[col][k];
        }
      }
    }
    double[] x = new double[n];
    for (int row = n - 1; row >= 0; row--) {
      double s = a[row][n];
      for (int k = row + 1; k < n; k++) {
        s -= a[row][k] * x[k];
      }
      x[row] = s / a[row][row];
    }
    return x;
  }
}
