package dev.fisheropt.testing;

import static org.junit.jupiter.api.Assertions.fail;

/** Relative-error comparisons of computed values with expected ones. */
public final class Close {
  private Close() {}

  /**
   * ‖a − b‖₂ / ‖b‖₂ (the absolute error ‖a − b‖₂ where b is zero); fails on arrays of different
   * lengths.
   */
  public static double relativeError(double[] a, double[] b) {
    if (a.length != b.length) {
      throw new AssertionError("length " + a.length + " != " + b.length);
    }
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < a.length; i++) {
      diff += (a[i] - b[i]) * (a[i] - b[i]);
      norm += b[i] * b[i];
    }
    return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
  }

  /**
   * Fails unless {@link #relativeError}(actual, expected) ≤ tolerance, naming {@code what}, the
   * error, and the index of the largest difference with both values.
   */
  public static void assertClose(
      double tolerance, String what, double[] actual, double[] expected) {
    if (actual.length != expected.length) {
      fail(what + ": " + actual.length + " values, expected " + expected.length);
    }
    double err = relativeError(actual, expected);
    if (!(err <= tolerance)) {
      int worst = worstIndex(actual, expected);
      fail(
          what
              + ": relative error "
              + err
              + " > "
              + tolerance
              + (worst < 0
                  ? ""
                  : "; largest difference at index "
                      + worst
                      + ": actual "
                      + actual[worst]
                      + ", expected "
                      + expected[worst]));
    }
  }

  /**
   * Fails unless |actual − expected| ≤ tolerance·|expected|, naming {@code what} and both values.
   */
  public static void assertClose(double tolerance, String what, double actual, double expected) {
    if (!(Math.abs(actual - expected) <= tolerance * Math.abs(expected))) {
      fail(
          what
              + ": actual "
              + actual
              + ", expected "
              + expected
              + ", relative error "
              + Math.abs(actual - expected) / Math.abs(expected)
              + " > "
              + tolerance);
    }
  }

  /**
   * The index of the largest |a_i − b_i|, the first NaN difference if there is one, or −1 for empty
   * arrays.
   */
  private static int worstIndex(double[] a, double[] b) {
    int worst = -1;
    double largest = -1;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs(a[i] - b[i]);
      if (Double.isNaN(d)) {
        return i;
      }
      if (d > largest) {
        largest = d;
        worst = i;
      }
    }
    return worst;
  }
}
