package dev.fisheropt.examples;

import java.util.Arrays;
import java.util.Locale;

/**
 * Mean and sample standard deviation (n − 1 in the denominator; 0 for a single value) of per-seed
 * results.
 */
public record Stats(double mean, double std, int n) {
  public static Stats of(double... values) {
    int n = values.length;
    if (n == 0) {
      return new Stats(Double.NaN, Double.NaN, 0);
    }
    double mean = Arrays.stream(values).sum() / n;
    double squares = 0;
    for (double v : values) {
      squares += (v - mean) * (v - mean);
    }
    return new Stats(mean, n > 1 ? Math.sqrt(squares / (n - 1)) : 0, n);
  }

  double pick(boolean std) {
    return std ? this.std : mean;
  }

  /** "mean ± std" with {@code format} for each, or just the mean for one value. */
  public String format(String format) {
    String m = String.format(Locale.ROOT, format, mean);
    return n > 1 ? m + " ± " + String.format(Locale.ROOT, format, std) : m;
  }
}
