package dev.fisheropt.optimizers;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TNumber;
import org.tensorflow.types.family.TType;

/**
 * One training step under construction: reads of state and hyperparameters, and the new value
 * declared for every variable the step writes. {@link GuardedOptimizer} commits the declared values
 * together, behind a barrier that follows every read.
 */
public final class StepContext {
  private record Write<T extends TType>(Variable<T> variable, Operand<T> value) {}

  private final GuardedOptimizer optimizer;
  private final Ops tf;
  private final Operand<TBool> finite;
  private final Variable<TInt64> completed;
  private final boolean guarded;
  private final List<Write<?>> writes = new ArrayList<>();
  private final Map<String, Operand<?>> casts = new HashMap<>();
  private final Map<Output<?>, Output<?>> auxiliaryGradients;
  private final Map<Object, Object> shared = new HashMap<>();
  private final Replicas replicas;
  private final int shards;

  StepContext(
      GuardedOptimizer optimizer,
      Ops tf,
      Operand<TBool> finite,
      Variable<TInt64> completed,
      boolean guarded,
      Map<Output<?>, Output<?>> auxiliaryGradients,
      Replicas replicas,
      int shards) {
    this.optimizer = optimizer;
    this.tf = tf;
    this.finite = finite;
    this.completed = completed;
    this.guarded = guarded;
    this.auxiliaryGradients = auxiliaryGradients;
    this.replicas = replicas;
    this.shards = shards;
  }

  /**
   * The replicas of a data-parallel step ({@link Replicas#single()} otherwise). The parameter
   * gradients this step receives are already averaged across them and the auxiliary gradients are
   * those of the global mean loss; statistics an optimizer takes from per-example data (layer
   * inputs, rows) are averaged, or gathered, through it.
   */
  public Replicas replicas() {
    return replicas;
  }

  /**
   * The number S of shards of this replica's batch, one loss each ({@link
   * GuardedOptimizer#minimize(List, Replicas)}; 1 otherwise). Statistics taken from per-example
   * data are computed shard by shard, from each shard's registration of a layer ({@link
   * LayerCollection#shardsOf}), and averaged with {@link #meanOverShards}.
   */
  public int shards() {
    return shards;
  }

  /**
   * The mean over every shard of the global batch (S here, on each of the replicas) of a statistic
   * each shard computed from its own rows, in the order data-parallel replicas reduce it. {@code
   * key} ({@link Replicas#newKey}) is read only when there is more than one replica.
   */
  public <T extends TNumber> Operand<T> meanOverShards(
      Ops tf, List<Operand<T>> perShard, Operand<TInt32> key) {
    if (perShard.size() != shards) {
      throw new IllegalArgumentException(
          perShard.size() + " values for a step of " + shards + " shards");
    }
    return CrossReplica.meanOverShards(tf, replicas, perShard, key);
  }

  /**
   * dLoss/d{@code target} for a tensor the optimizer listed in {@link
   * GuardedOptimizer#auxiliaryGradientTargets}. It is not zeroed on a non-finite step (the
   * parameter gradients are): what is built from it must tolerate NaN, since the commit discards
   * it.
   *
   * @throws IllegalStateException if the gradients were not computed by this optimizer's {@code
   *     minimize} or {@code computeGradients}
   */
  @SuppressWarnings("unchecked")
  public <T extends TType> Operand<T> gradientOf(Operand<T> target) {
    Output<?> g = auxiliaryGradients.get(target.asOutput());
    if (g == null) {
      throw new IllegalStateException(
          "no gradient for '"
              + target.asOutput().name()
              + "': build the step with minimize(...) or computeGradients(...) of this optimizer");
    }
    return (Operand<T>) g;
  }

  /**
   * The value {@code build} makes, built once per step and key: what several parameters of one
   * layer share (its Fisher factors, say) belongs to the step, not to the optimizer.
   */
  @SuppressWarnings("unchecked")
  public <V> V shared(Object key, Supplier<V> build) {
    V value = (V) shared.get(key);
    if (value == null) {
      value = build.get();
      shared.put(key, value);
    }
    return value;
  }

  /** {@code gradient}, or zeros on a non-finite step, so that no NaN reaches a decomposition. */
  <T extends TType> Operand<T> sanitized(Operand<T> gradient) {
    return guarded ? tf.select(finite, gradient, tf.zerosLike(gradient)) : gradient;
  }

  /** Ops under the optimizer's name scope, for building the update. */
  public Ops tf() {
    return tf;
  }

  /** Ops in the init scope, for slot initial values. */
  public Ops init() {
    return optimizer.initOps();
  }

  /**
   * True when every gradient of this step is finite. The step commits only if, in addition, every
   * new value is finite and the hyperparameters are valid.
   */
  public Operand<TBool> finite() {
    return finite;
  }

  /** Steps completed before this one (0 on the first step). */
  public Operand<TInt64> completedSteps() {
    return completed;
  }

  /** The 1-based number t of this step, in {@code type}, for bias corrections. */
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Operand<T> stepNumber(Class<T> type) {
    return (Operand<T>)
        casts.computeIfAbsent(
            "step:" + type.getName(),
            k -> tf.dtypes.cast(tf.math.add(completed, tf.constant(1L)), type));
  }

  /**
   * η(t) ÷ the base learning rate, in {@code type}: 1 at a constant rate, the schedule's shape
   * otherwise. Rules with a rate of their own (a fallback) multiply it in, so they follow the
   * schedule.
   */
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Operand<T> learningRateScale(Class<T> type) {
    return (Operand<T>)
        casts.computeIfAbsent(
            "lr_scale:" + type.getName(), k -> tf.dtypes.cast(optimizer.learningRateScale(), type));
  }

  /** A hyperparameter of the optimizer, cast to {@code type} once per step. */
  @SuppressWarnings("unchecked")
  public <T extends TFloating> Operand<T> hyperparameter(String key, Class<T> type) {
    return (Operand<T>)
        casts.computeIfAbsent(
            key + ":" + type.getName(),
            k -> tf.dtypes.cast(optimizer.hyperparameterOperand(key), type));
  }

  /**
   * The slot {@code <variable>-<slotName>}, created with {@code initialValue} on first use; its
   * dtype and shape are those of the initial value (a counter slot may be int64 on a float
   * parameter).
   */
  public <S extends TType> Variable<S> slot(
      Variable<?> variable, String slotName, Operand<S> initialValue) {
    return optimizer.slot(variable, slotName, initialValue);
  }

  /** Declares the value {@code variable} takes when this step commits. */
  public <T extends TType> void set(Variable<T> variable, Operand<T> value) {
    writes.add(new Write<>(variable, value));
  }

  /**
   * Writes every declared value after all of them have been computed, or, when the step is not
   * sound, writes the old values back and counts a skipped step under its cause. A step is sound
   * when the hyperparameters are valid, the gradients finite, and every new floating-point value
   * finite.
   */
  Op commit(
      Operand<TBool> validHyperparameters,
      Variable<TInt64> skippedSteps,
      Map<GuardedOptimizer.SkipCause, Variable<TInt64>> skipsByCause,
      String name) {
    Operand<TBool> resultsFinite = guarded ? resultsFinite() : tf.constant(true);
    Operand<TBool> sound =
        tf.math.logicalAnd(validHyperparameters, tf.math.logicalAnd(finite, resultsFinite));
    List<Write<?>> all = new ArrayList<>();
    for (Write<?> w : writes) {
      all.add(guarded ? keepUnless(sound, w) : w);
    }
    all.add(count(skippedSteps, tf.math.logicalNot(sound)));
    Operand<TBool> invalid = tf.math.logicalNot(validHyperparameters);
    Operand<TBool> badGradients =
        tf.math.logicalAnd(validHyperparameters, tf.math.logicalNot(finite));
    Operand<TBool> badResults =
        tf.math.logicalAnd(
            tf.math.logicalAnd(validHyperparameters, finite), tf.math.logicalNot(resultsFinite));
    all.add(count(skipsByCause.get(GuardedOptimizer.SkipCause.INVALID_HYPERPARAMETERS), invalid));
    all.add(count(skipsByCause.get(GuardedOptimizer.SkipCause.NONFINITE_GRADIENTS), badGradients));
    all.add(count(skipsByCause.get(GuardedOptimizer.SkipCause.NONFINITE_RESULTS), badResults));
    List<Operation> computed = new ArrayList<>();
    for (Write<?> w : all) {
      computed.add(w.value().op());
    }
    Op barrier = tf.withControlDependencyOps(computed).withName("barrier").noOp();
    Ops after = tf.withControlDependencies(barrier);
    List<Op> assigns = new ArrayList<>();
    for (Write<?> w : all) {
      assigns.add(assign(after, w));
    }
    return tf.withControlDependencies(assigns).withName(name).noOp();
  }

  /** Whether every floating-point value this step would write is finite. */
  private Operand<TBool> resultsFinite() {
    List<Operand<?>> values = new ArrayList<>();
    writes.forEach(w -> values.add(w.value()));
    return allFinite(tf, values);
  }

  /**
   * Whether every entry of every floating-point tensor is finite (true when there is none): one
   * reduction per tensor, then one over them. The guard's check of gradients and of results.
   */
  @SuppressWarnings("unchecked")
  static Operand<TBool> allFinite(Ops tf, List<? extends Operand<?>> tensors) {
    List<Operand<TBool>> checks = new ArrayList<>();
    for (Operand<?> t : tensors) {
      if (TFloating.class.isAssignableFrom(t.type())) {
        Operand<TBool> isFinite = tf.math.isFinite((Operand<TFloating>) t);
        checks.add(
            tf.reduceAll(isFinite, tf.range(tf.constant(0), tf.rank(isFinite), tf.constant(1))));
      }
    }
    return checks.isEmpty() ? tf.constant(true) : tf.reduceAll(tf.stack(checks), tf.constant(0));
  }

  private Write<TInt64> count(Variable<TInt64> counter, Operand<TBool> when) {
    return new Write<>(
        counter, tf.math.add(counter, tf.select(when, tf.constant(1L), tf.constant(0L))));
  }

  private <T extends TType> Write<T> keepUnless(Operand<TBool> sound, Write<T> w) {
    return new Write<>(w.variable(), tf.select(sound, w.value(), w.variable()));
  }

  private static <T extends TType> Op assign(Ops tf, Write<T> w) {
    return tf.assign(w.variable(), w.value());
  }
}
