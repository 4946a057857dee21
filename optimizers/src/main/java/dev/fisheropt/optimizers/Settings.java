package dev.fisheropt.optimizers;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TNumber;

/** Validation of optimizer settings: every failure names the setting and the value. */
final class Settings {
  private Settings() {}

  /** The interval a hyperparameter must lie in, checked at build time and again on every step. */
  enum Range {
    /** A finite number &gt; 0. */
    POSITIVE(0, true, Double.POSITIVE_INFINITY),
    /** A finite number ≥ 0. */
    NON_NEGATIVE(0, false, Double.POSITIVE_INFINITY),
    /** A coefficient in [0, 1). */
    DECAY(0, false, 1),
    /** A coefficient in [0, 1]. */
    CLOSED_DECAY(0, false, Double.NaN);

    private final double low;
    private final boolean lowOpen;
    private final double high;

    Range(double low, boolean lowOpen, double high) {
      this.low = low;
      this.lowOpen = lowOpen;
      this.high = high;
    }

    /** Whether the scalar {@code value} lies in the range (false for NaN and infinities). */
    Operand<TBool> contains(Ops tf, Operand<? extends TNumber> value) {
      Operand<TFloat64> v = tf.dtypes.cast(value, TFloat64.class);
      Operand<TBool> ok = tf.math.isFinite(v);
      ok =
          tf.math.logicalAnd(
              ok,
              lowOpen
                  ? tf.math.greater(v, tf.constant(low))
                  : tf.math.greaterEqual(v, tf.constant(low)));
      if (Double.isNaN(high)) {
        ok = tf.math.logicalAnd(ok, tf.math.lessEqual(v, tf.constant(1.0)));
      } else if (Double.isFinite(high)) {
        ok = tf.math.logicalAnd(ok, tf.math.less(v, tf.constant(high)));
      }
      return ok;
    }
  }

  static double positive(String setting, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(
          setting + " must be a positive finite number, got " + value);
    }
    return value;
  }

  static double nonNegative(String setting, double value) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(setting + " must be a finite number ≥ 0, got " + value);
    }
    return value;
  }

  /** A decay or momentum coefficient in [0, 1). */
  static double decay(String setting, double value) {
    if (!(value >= 0 && value < 1)) {
      throw new IllegalArgumentException(setting + " must lie in [0, 1), got " + value);
    }
    return value;
  }

  /** A decay coefficient in [0, 1], for settings where 1 (frozen state) is meaningful. */
  static double closedDecay(String setting, double value) {
    if (!(value >= 0 && value <= 1)) {
      throw new IllegalArgumentException(setting + " must lie in [0, 1], got " + value);
    }
    return value;
  }

  static int atLeastOne(String setting, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(setting + " must be at least 1, got " + value);
    }
    return value;
  }

  static String name(String value) {
    if (value == null || !value.matches("[A-Za-z][A-Za-z0-9_.\\-]*")) {
      throw new IllegalArgumentException(
          "name must start with a letter and hold only letters, digits, '_', '.', '-', got '"
              + value
              + "'");
    }
    return value;
  }
}
