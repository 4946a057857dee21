package dev.fisheropt.optimizers;

/** Validation of optimizer settings: every failure names the setting and the value. */
final class Settings {
  private Settings() {}

  static double positive(String setting, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(setting + " must be a positive finite number, got " + value);
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
      throw new IllegalArgumentException("name must start with a letter and hold only letters, digits, '_', '.', '-', got '" + value + "'");
    }
    return value;
  }
}
