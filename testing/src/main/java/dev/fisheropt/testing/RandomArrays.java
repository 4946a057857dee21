package dev.fisheropt.testing;

import java.util.Random;

/** Arrays of standard normal draws, in the order {@link Random#nextGaussian()} gives them. */
public final class RandomArrays {
  private RandomArrays() {}

  /** The next {@code n} standard normal draws of {@code random}. */
  public static double[] gaussian(Random random, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }

  /** The next {@code n} standard normal draws of {@code random}, each times {@code scale}. */
  public static double[] gaussian(Random random, int n, double scale) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextGaussian() * scale;
    }
    return v;
  }

  /** The first {@code n} standard normal draws of {@code new Random(seed)}. */
  public static double[] gaussian(long seed, int n) {
    return gaussian(new Random(seed), n);
  }

  /**
   * A rows×cols matrix of the first standard normal draws of {@code new Random(seed)}, filled row
   * by row.
   */
  public static double[][] gaussian(long seed, int rows, int cols) {
    Random random = new Random(seed);
    double[][] m = new double[rows][];
    for (int i = 0; i < rows; i++) {
      m[i] = gaussian(random, cols);
    }
    return m;
  }
}
