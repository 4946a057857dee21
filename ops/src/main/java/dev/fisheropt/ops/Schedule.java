package dev.fisheropt.ops;

import java.util.Arrays;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;

/**
 * A learning-rate schedule η(t): the rate to use at optimizer step t, where t is the number of
 * completed optimizer steps (0 on the first step), in the manner of Keras' {@code
 * LearningRateSchedule} and optax's schedule functions.
 *
 * <p>A schedule gives its value two ways that agree: {@link #value(Ops, Operand)} builds it as
 * graph ops in float64 from an int64 step operand, and {@link #valueAt(long)} computes it in plain
 * Java (to print, plot or test it). Both evaluate the same formula in the same order from the same
 * Java-computed constants, so they agree to a few ulps (bit for bit except where TensorFlow's or
 * XLA's {@code sin}/{@code cos} round differently from {@link Math}'s). The graph has no division
 * op and no product of two constants with a variable: TensorFlow's constant folding and XLA turn
 * x/c into x·(1/c), and Grappler regroups c₁·(x·c₂) into (c₁·c₂)·x, so where a formula divides by a
 * step count the schedule multiplies once by a ratio (peak/W, initial/D, π/2/D) computed in Java,
 * and the results do not depend on which graph optimizations run. The graph uses only element-wise
 * arithmetic, {@code Cast}, {@code Minimum}/{@code Maximum}, {@code Sin}/{@code Cos}, comparisons
 * and {@code SelectV2}: no control flow and no state, so XLA compiles it. No value is ever NaN or
 * infinite, for any step, however far past the end of a decay.
 *
 * <p>Conventions shared by every schedule:
 *
 * <ul>
 *   <li>steps are counted from 0; {@code valueAt} rejects a negative step, and the graph treats a
 *       negative step as 0;
 *   <li>every rate (and every scale factor) is finite and ≥ 0, and every count of decay steps ≥ 1;
 *       the records' constructors (and so the factories) reject anything else at once with an
 *       {@link IllegalArgumentException} naming the argument and its value;
 *   <li>a decay that has run its course stays at its final value forever;
 *   <li>{@code value} returns a tensor of the step operand's shape (a scalar for a scalar step; a
 *       vector of steps gives the vector of rates).
 * </ul>
 *
 * <p>The factories: {@link #constant}, {@link #linearWarmup}, {@link #cosineDecay}, {@link
 * #warmupCosine}, {@link #linearDecay}, {@link #piecewiseConstant}; any schedule can be multiplied
 * by a constant with {@link #scaled}. The schedules are records, so they print, compare and
 * pattern-match by their parameters.
 */
public sealed interface Schedule
    permits Schedule.Constant,
        Schedule.LinearWarmup,
        Schedule.CosineDecay,
        Schedule.WarmupCosine,
        Schedule.LinearDecay,
        Schedule.PiecewiseConstant,
        Schedule.Scaled {

  /**
   * η(step) as float64 graph ops.
   *
   * @param step int64 count of completed optimizer steps (a scalar, or any shape, element-wise);
   *     negative entries count as 0
   * @return a float64 tensor of {@code step}'s shape
   */
  Operand<TFloat64> value(Ops tf, Operand<TInt64> step);

  /**
   * η(step) in plain Java, by the same formula as {@link #value}.
   *
   * @throws IllegalArgumentException if {@code step < 0}
   */
  double valueAt(long step);

  /** η(0), the rate of the first step. */
  default double initialValue() {
    return valueAt(0);
  }

  /** max over t ≥ 0 of η(t) (the peak of a warmup, the larger end of a decay). */
  double peakValue();

  /**
   * factor·η(t). {@code scaled(1)} is this schedule; scaling a scaled schedule multiplies the
   * factors.
   *
   * @throws IllegalArgumentException if {@code factor} is negative or not finite, or the scaled
   *     peak overflows
   */
  default Schedule scaled(double factor) {
    return factor == 1.0 ? this : new Scaled(this, factor);
  }

  /** η(t) = value. */
  static Constant constant(double value) {
    return new Constant(value);
  }

  /**
   * Linear warmup to {@code peak}, starting at peak/W so that the first step is not wasted: η(t) =
   * peak · min(t + 1, W)/W, i.e. peak·(t+1)/W for t &lt; W − 1 and exactly peak from t = W − 1 on.
   * (Computed as (peak/W)·(t + 1), so η(0) is peak/W correctly rounded.)
   *
   * @param warmupSteps W ≥ 1
   */
  static LinearWarmup linearWarmup(double peak, long warmupSteps) {
    return new LinearWarmup(peak, warmupSteps);
  }

  /**
   * Cosine decay from {@code initial} to {@code finalValue} over D steps, then constant (optax's
   * {@code cosine_decay_schedule} with α = finalValue/initial, Keras' {@code CosineDecay}): η(t) =
   * final + (initial − final) · ½(1 + cos(π·min(t, D)/D)).
   *
   * <p>Computed as the convex combination η = initial·sin²(πr/2) + final·cos²(πr/2) of the
   * remaining fraction r = (D − min(t, D))/D (the angle evaluated as (D − min(t, D))·(π/2/D)).
   * Since ½(1 + cos(π(1 − r))) = sin²(πr/2) this is the same function, but accurate to a few ulps
   * relative to η itself even where η is tiny near the end, and exact at both ends: η(0) = initial,
   * η(t ≥ D) = final.
   *
   * @param decaySteps D ≥ 1
   * @param finalValue the value from step D on (may exceed {@code initial})
   */
  static CosineDecay cosineDecay(double initial, long decaySteps, double finalValue) {
    return new CosineDecay(initial, decaySteps, finalValue);
  }

  /**
   * {@link #linearWarmup} over W steps, then {@link #cosineDecay} from {@code peak} to {@code
   * finalValue} over the remaining T − W steps (optax's {@code warmup_cosine_decay_schedule} with
   * init_value = 0 and decay_steps = T, but with the warmup convention of {@link #linearWarmup}):
   * η(t) = peak·(t+1)/W for t &lt; W; final + (peak − final)·½(1 + cos(π·min(t − W, T − W)/(T −
   * W))) for t ≥ W. So η(W) = peak and η(t) = final for t ≥ T.
   *
   * @param warmupSteps W ≥ 0 (0: no warmup, the cosine decay alone)
   * @param totalSteps T &gt; W, counting the warmup
   */
  static WarmupCosine warmupCosine(
      double peak, long warmupSteps, long totalSteps, double finalValue) {
    return new WarmupCosine(peak, warmupSteps, totalSteps, finalValue);
  }

  /**
   * Linear decay from {@code initial} to {@code finalValue} over D steps, then constant (optax's
   * {@code linear_schedule}, Keras' {@code PolynomialDecay} with power 1): η(t) = initial + (final
   * − initial)·min(t, D)/D, computed as the convex combination (initial/D)·(D − t) + (final/D)·t
   * for 0 &lt; t &lt; D, and exactly initial at t = 0 and final from t = D on.
   *
   * @param decaySteps D ≥ 1
   */
  static LinearDecay linearDecay(double initial, long decaySteps, double finalValue) {
    return new LinearDecay(initial, decaySteps, finalValue);
  }

  /**
   * A step function (Keras' {@code PiecewiseConstantDecay}): with boundaries b₀ &lt; b₁ &lt; … &lt;
   * b_{n−1} and values v₀ … v_n, η(t) = v₀ for t ≤ b₀, v_i for b_{i−1} &lt; t ≤ b_i, and v_n for t
   * &gt; b_{n−1}. A boundary is the last step of the value before it: v_{i+1} starts at step b_i +
   * 1. No boundaries and one value is a constant.
   *
   * @param boundaries strictly increasing, all ≥ 0
   * @param values one more than {@code boundaries}, each finite and ≥ 0
   */
  static PiecewiseConstant piecewiseConstant(long[] boundaries, double[] values) {
    return new PiecewiseConstant(boundaries, values);
  }

  /** η(t) = value. */
  record Constant(double value) implements Schedule {
    public Constant {
      requireRate("constant", "value", value);
    }

    @Override
    public Operand<TFloat64> value(Ops tf, Operand<TInt64> step) {
      return constantLike(tf, value, step);
    }

    @Override
    public double valueAt(long step) {
      requireStep(step);
      return value;
    }

    @Override
    public double peakValue() {
      return value;
    }
  }

  /**
   * η(t) = (peak/W)·m for m = min(t + 1, W) &lt; W, exactly peak once m = W; see {@link
   * Schedule#linearWarmup}.
   */
  record LinearWarmup(double peak, long warmupSteps) implements Schedule {
    public LinearWarmup {
      requireRate("linearWarmup", "peak", peak);
      requireSteps("linearWarmup", "warmupSteps", warmupSteps, 1);
    }

    @Override
    public Operand<TFloat64> value(Ops tf, Operand<TInt64> step) {
      Operand<TFloat64> w = tf.constant((double) warmupSteps);
      Operand<TFloat64> m = tf.math.minimum(tf.math.add(asDouble(tf, step), tf.constant(1.0)), w);
      return tf.select(
          tf.math.less(m, w), tf.math.mul(tf.constant(peak / warmupSteps), m), tf.constant(peak));
    }

    @Override
    public double valueAt(long step) {
      requireStep(step);
      double w = warmupSteps;
      double m = Math.min((double) step + 1.0, w);
      return m < w ? peak / warmupSteps * m : peak;
    }

    @Override
    public double peakValue() {
      return peak;
    }
  }

  /**
   * η(t) = initial·sin²(a) + final·cos²(a) with a = (D − min(t, D))·(π/2/D); see {@link
   * Schedule#cosineDecay}.
   */
  record CosineDecay(double initial, long decaySteps, double finalValue) implements Schedule {
    public CosineDecay {
      requireRate("cosineDecay", "initial", initial);
      requireSteps("cosineDecay", "decaySteps", decaySteps, 1);
      requireRate("cosineDecay", "finalValue", finalValue);
    }

    @Override
    public Operand<TFloat64> value(Ops tf, Operand<TInt64> step) {
      Operand<TFloat64> d = tf.constant((double) decaySteps);
      Operand<TFloat64> remaining = tf.math.sub(d, tf.math.minimum(asDouble(tf, step), d));
      Operand<TFloat64> angle = tf.math.mul(remaining, tf.constant(Math.PI / 2 / decaySteps));
      Operand<TFloat64> s = tf.math.sin(angle);
      Operand<TFloat64> c = tf.math.cos(angle);
      return tf.math.add(
          tf.math.mul(tf.constant(initial), tf.math.mul(s, s)),
          tf.math.mul(tf.constant(finalValue), tf.math.mul(c, c)));
    }

    @Override
    public double valueAt(long step) {
      requireStep(step);
      double d = decaySteps;
      double remaining = d - Math.min((double) step, d);
      double angle = remaining * (Math.PI / 2 / decaySteps);
      double s = Math.sin(angle);
      double c = Math.cos(angle);
      return initial * (s * s) + finalValue * (c * c);
    }

    @Override
    public double peakValue() {
      return Math.max(initial, finalValue);
    }
  }

  /**
   * {@link LinearWarmup}(peak, W) for t &lt; W, then {@link CosineDecay}(peak, T − W, final) at t −
   * W; see {@link Schedule#warmupCosine}.
   */
  record WarmupCosine(double peak, long warmupSteps, long totalSteps, double finalValue)
      implements Schedule {
    public WarmupCosine {
      requireRate("warmupCosine", "peak", peak);
      requireSteps("warmupCosine", "warmupSteps", warmupSteps, 0);
      if (totalSteps <= warmupSteps) {
        throw new IllegalArgumentException(
            "warmupCosine: totalSteps must be greater than warmupSteps ("
                + warmupSteps
                + "), got "
                + totalSteps);
      }
      requireRate("warmupCosine", "finalValue", finalValue);
    }

    /** The warmup part, or null without warmup. */
    private LinearWarmup warmup() {
      return warmupSteps == 0 ? null : new LinearWarmup(peak, warmupSteps);
    }

    private CosineDecay decay() {
      return new CosineDecay(peak, totalSteps - warmupSteps, finalValue);
    }

    @Override
    public Operand<TFloat64> value(Ops tf, Operand<TInt64> step) {
      if (warmupSteps == 0) {
        return decay().value(tf, step);
      }
      Operand<TInt64> w = tf.constant(warmupSteps);
      Operand<TInt64> t = tf.math.maximum(step, tf.constant(0L));
      // The decay's own clamp turns the negative t − W of the warmup steps into 0, so neither
      // branch
      // is NaN anywhere and the select needs no guard.
      Operand<TFloat64> decay = decay().value(tf, tf.math.sub(t, w));
      return tf.select(tf.math.less(t, w), warmup().value(tf, t), decay);
    }

    @Override
    public double valueAt(long step) {
      requireStep(step);
      return step < warmupSteps ? warmup().valueAt(step) : decay().valueAt(step - warmupSteps);
    }

    @Override
    public double peakValue() {
      return Math.max(peak, finalValue);
    }
  }

  /**
   * η(t) = (initial/D)·(D − t) + (final/D)·t for 0 &lt; t &lt; D, exactly initial at t = 0 and
   * final from t = D on; see {@link Schedule#linearDecay}.
   */
  record LinearDecay(double initial, long decaySteps, double finalValue) implements Schedule {
    public LinearDecay {
      requireRate("linearDecay", "initial", initial);
      requireSteps("linearDecay", "decaySteps", decaySteps, 1);
      requireRate("linearDecay", "finalValue", finalValue);
    }

    @Override
    public Operand<TFloat64> value(Ops tf, Operand<TInt64> step) {
      Operand<TFloat64> d = tf.constant((double) decaySteps);
      Operand<TFloat64> done = tf.math.minimum(asDouble(tf, step), d);
      Operand<TFloat64> mix =
          tf.math.add(
              tf.math.mul(tf.constant(initial / decaySteps), tf.math.sub(d, done)),
              tf.math.mul(tf.constant(finalValue / decaySteps), done));
      return tf.select(
          tf.math.lessEqual(done, tf.constant(0.0)),
          tf.constant(initial),
          tf.select(tf.math.less(done, d), mix, tf.constant(finalValue)));
    }

    @Override
    public double valueAt(long step) {
      requireStep(step);
      double d = decaySteps;
      double done = Math.min((double) step, d);
      if (done <= 0) {
        return initial;
      }
      return done < d
          ? initial / decaySteps * (d - done) + finalValue / decaySteps * done
          : finalValue;
    }

    @Override
    public double peakValue() {
      return Math.max(initial, finalValue);
    }
  }

  /**
   * η(t) = values[i] for the least i with t ≤ boundaries[i], values[n] past the last boundary; see
   * {@link Schedule#piecewiseConstant}. The arrays are copied in and out.
   */
  record PiecewiseConstant(long[] boundaries, double[] values) implements Schedule {
    public PiecewiseConstant {
      if (boundaries == null || values == null) {
        throw new IllegalArgumentException(
            "piecewiseConstant: boundaries and values must not be null");
      }
      boundaries = boundaries.clone();
      values = values.clone();
      if (values.length != boundaries.length + 1) {
        throw new IllegalArgumentException(
            "piecewiseConstant: values must have boundaries.length + 1 = "
                + (boundaries.length + 1)
                + " entries, got "
                + values.length);
      }
      for (int i = 0; i < boundaries.length; i++) {
        if (i == 0 ? boundaries[0] < 0 : boundaries[i] <= boundaries[i - 1]) {
          throw new IllegalArgumentException(
              "piecewiseConstant: boundaries must be >= 0 and strictly increasing, got boundaries["
                  + i
                  + "] = "
                  + boundaries[i]
                  + (i == 0 ? "" : " after boundaries[" + (i - 1) + "] = " + boundaries[i - 1]));
        }
      }
      for (int i = 0; i < values.length; i++) {
        requireRate("piecewiseConstant", "values[" + i + "]", values[i]);
      }
    }

    @Override
    public long[] boundaries() {
      return boundaries.clone();
    }

    @Override
    public double[] values() {
      return values.clone();
    }

    @Override
    public Operand<TFloat64> value(Ops tf, Operand<TInt64> step) {
      int n = boundaries.length;
      if (n == 0) {
        return constantLike(tf, values[0], step);
      }
      // A chain of selects from the last boundary down; SelectV2 broadcasts the scalars to step's
      // shape.
      Operand<TFloat64> v = tf.constant(values[n]);
      for (int i = n - 1; i >= 0; i--) {
        Operand<TBool> within = tf.math.lessEqual(step, tf.constant(boundaries[i]));
        v = tf.select(within, tf.constant(values[i]), v);
      }
      return v;
    }

    @Override
    public double valueAt(long step) {
      requireStep(step);
      int i = 0;
      while (i < boundaries.length && step > boundaries[i]) {
        i++;
      }
      return values[i];
    }

    @Override
    public double peakValue() {
      return Arrays.stream(values).max().orElseThrow();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof PiecewiseConstant p
          && Arrays.equals(boundaries, p.boundaries)
          && Arrays.equals(values, p.values);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(boundaries) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
      return "PiecewiseConstant[boundaries="
          + Arrays.toString(boundaries)
          + ", values="
          + Arrays.toString(values)
          + "]";
    }
  }

  /** η(t) = factor · base(t); see {@link Schedule#scaled}. */
  record Scaled(Schedule base, double factor) implements Schedule {
    public Scaled {
      if (base == null) {
        throw new IllegalArgumentException("scaled: base must not be null");
      }
      requireRate("scaled", "factor", factor);
      if (!Double.isFinite(factor * base.peakValue())) {
        throw new IllegalArgumentException(
            "scaled: factor " + factor + " times the peak " + base.peakValue() + " overflows");
      }
    }

    @Override
    public Operand<TFloat64> value(Ops tf, Operand<TInt64> step) {
      return tf.math.mul(tf.constant(factor), base.value(tf, step));
    }

    @Override
    public double valueAt(long step) {
      return factor * base.valueAt(step);
    }

    @Override
    public double peakValue() {
      return factor * base.peakValue();
    }

    @Override
    public Schedule scaled(double by) {
      requireRate("scaled", "factor", by);
      return by == 1.0 ? this : new Scaled(base, factor * by);
    }
  }

  /**
   * The constant in {@code step}'s shape: a plain scalar constant for a scalar step (nothing to
   * run), else a {@code Fill} of its shape.
   */
  private static Operand<TFloat64> constantLike(Ops tf, double value, Operand<TInt64> step) {
    if (step.shape().numDimensions() == 0) {
      return tf.constant(value);
    }
    return tf.fill(tf.shape(step, TInt64.class), tf.constant(value));
  }

  private static Operand<TFloat64> asDouble(Ops tf, Operand<TInt64> step) {
    return tf.dtypes.cast(tf.math.maximum(step, tf.constant(0L)), TFloat64.class);
  }

  private static void requireStep(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, got " + step);
    }
  }

  private static void requireRate(String schedule, String name, double v) {
    if (!Double.isFinite(v) || v < 0) {
      throw new IllegalArgumentException(
          schedule + ": " + name + " must be finite and >= 0, got " + v);
    }
  }

  private static void requireSteps(String schedule, String name, long v, long min) {
    if (v < min) {
      throw new IllegalArgumentException(
          schedule + ": " + name + " must be >= " + min + ", got " + v);
    }
  }
}
