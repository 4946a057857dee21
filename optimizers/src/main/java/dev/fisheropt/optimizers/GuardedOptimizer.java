package dev.fisheropt.optimizers;

import dev.fisheropt.ops.Schedule;
import java.util.AbstractList;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.framework.optimizers.Optimizer;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TNumber;
import org.tensorflow.types.family.TType;

/**
 * Base of the fisheropt optimizers: one training step built as "compute every new value, then
 * commit them all, or none if the step is not sound". A step is sound when every hyperparameter
 * lies in its range, every parameter gradient is finite and every new value it would write is
 * finite; an unsound step writes nothing and is counted in {@code <name>/skipped_steps} and under
 * its {@link SkipCause}.
 *
 * <p>Compared with the framework {@link Optimizer} it differs where the framework breaks real
 * training code:
 *
 * <ul>
 *   <li>{@link #computeGradients} differentiates only the {@code VariableV2}s the loss reads, so a
 *       graph may hold other variables (optimizer state, other models);
 *   <li>slots are named {@code <variable>-<slot>} even for variables under a name scope ({@code
 *       dense1/kernel-momentum});
 *   <li>hyperparameters are float64 variables (the learning rate may be a {@code Schedule} on the
 *       optimizer's own step counter), cast to each parameter's dtype where used;
 *   <li>all writes wait on one barrier that follows every read, so two runs on the same inputs give
 *       bit-identical state; steps of one session must therefore run one at a time ({@link
 *       SerialSteps});
 *   <li>a loss whose TensorFlow gradient cannot take a {@code VariableV2} input directly ({@code
 *       tf.math.square(w)}: SIGSEGV in {@code TF_AddGradientsWithPrefix}) is refused with an {@link
 *       IllegalArgumentException} naming the op and the workaround, before TensorFlow is asked for
 *       gradients (see {@code GradientHazards}).
 * </ul>
 *
 * Subclasses implement {@link #update} for one parameter, reading state and declaring new values on
 * the {@link StepContext}.
 */
public abstract class GuardedOptimizer extends Optimizer {
  private static final String VARIABLE_V2 = "VariableV2";

  private final String name;
  private final Ops scoped;
  private final Map<String, Operand<? extends TNumber>> hyperparameters = new LinkedHashMap<>();
  private final Map<String, Settings.Range> ranges = new HashMap<>();
  private final Map<String, Map<String, Variable<?>>> slots = new HashMap<>();
  private final boolean skipNonFinite;
  private final Variable<TInt64> stepCount;
  private final Variable<TInt64> skippedSteps;
  private final Operand<TFloat64> learningRateScale;
  private final Map<SkipCause, Variable<TInt64>> skipsByCause = new EnumMap<>(SkipCause.class);

  /** Why a step was skipped; each skipped step counts under the first cause that applies. */
  public enum SkipCause {
    /** A hyperparameter (a variable assigned at run time, or a schedule) is NaN or out of range. */
    INVALID_HYPERPARAMETERS,
    /** A parameter gradient holds NaN or Inf. */
    NONFINITE_GRADIENTS,
    /**
     * The step's own arithmetic produced NaN or Inf in a new parameter or state value (overflowing
     * statistics, a factor the eigendecomposition could not take, a diverging root).
     */
    NONFINITE_RESULTS;

    /** The counter's name under the optimizer's scope, e.g. {@code skipped_nonfinite_gradients}. */
    public String counterName() {
      return "skipped_" + name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Creates the counters {@code <name>/step}, {@code <name>/skipped_steps} and the hyperparameter
   * {@code <name>/learning_rate} from the common settings.
   */
  protected GuardedOptimizer(Graph graph, Builder<?> settings) {
    super(graph, settings.name);
    this.name = settings.name;
    if (graph.operation(name + "/step") != null || graph.operation(name) != null) {
      throw new IllegalArgumentException(
          "the name '"
              + name
              + "' is already taken in this graph (by another optimizer "
              + "or op); give this optimizer another with .name(...)");
    }
    this.scoped = Ops.create(graph).withSubScope(name);
    this.skipNonFinite = settings.skipNonFinite;
    Ops init = scoped.withInitScope();
    this.stepCount = scoped.withName("step").variable(init.constant(0L));
    this.skippedSteps = scoped.withName("skipped_steps").variable(init.constant(0L));
    for (SkipCause cause : SkipCause.values()) {
      skipsByCause.put(cause, scoped.withName(cause.counterName()).variable(init.constant(0L)));
    }
    // A schedule may reach 0 (a decay to zero); a rate assigned at run time may be 0 too.
    if (settings.schedule != null) {
      Operand<TFloat64> eta =
          settings.schedule.value(scoped.withSubScope("learning_rate"), stepCount);
      hyperparameters.put("learning_rate", eta);
      ranges.put("learning_rate", Settings.Range.NON_NEGATIVE);
      double peak = settings.schedule.peakValue();
      learningRateScale =
          peak > 0 ? scoped.math.div(eta, scoped.constant(peak)) : scoped.constant(0.0);
    } else if (settings.learningRateOperand != null) {
      hyperparameters.put("learning_rate", settings.learningRateOperand);
      ranges.put("learning_rate", Settings.Range.NON_NEGATIVE);
      learningRateScale = scoped.constant(1.0);
    } else {
      hyperparameter("learning_rate", settings.learningRate, Settings.Range.NON_NEGATIVE);
      // Exactly 1 until the rate is assigned: graph rewriting may turn x/c into x·(1/c).
      Operand<TFloat64> eta =
          scoped.dtypes.cast(hyperparameters.get("learning_rate"), TFloat64.class);
      Operand<TFloat64> base = scoped.constant(settings.learningRate);
      learningRateScale =
          scoped.select(
              scoped.math.equal(eta, base), scoped.constant(1.0), scoped.math.div(eta, base));
    }
  }

  /** Registers the hyperparameters of an update rule as {@code <name>/<prefix><key>}. */
  final void registerRule(Fallback rule, String prefix) {
    rule.hyperparameters().entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(
            e -> hyperparameter(prefix + e.getKey(), e.getValue(), Fallback.rangeOf(e.getKey())));
  }

  /**
   * Tensors besides the parameters whose gradient the step needs, such as the pre-activations of
   * registered layers; they are differentiated in the same {@code addGradients} call as the
   * parameters and read back with {@link StepContext#gradientOf}.
   */
  protected List<Operand<?>> auxiliaryGradientTargets() {
    return List.of();
  }

  /**
   * Registers a hyperparameter as a float64 scalar variable {@code <scope>/<key>}; a step on which
   * its value lies outside {@code range} is skipped.
   */
  final void hyperparameter(String key, double value, Settings.Range range) {
    hyperparameters.put(key, scoped.withName(key).variable(scoped.withInitScope().constant(value)));
    ranges.put(key, range);
  }

  /**
   * The hyperparameters by key: float64 variables, or the operand a schedule was given as. Assign
   * to a variable to change a setting between steps.
   */
  public final Map<String, Operand<? extends TNumber>> hyperparameters() {
    return Collections.unmodifiableMap(hyperparameters);
  }

  /** Completed (not skipped) steps. */
  public final Variable<TInt64> stepCount() {
    return stepCount;
  }

  /**
   * Steps that were not applied: their gradients or results held NaN or Inf, or a hyperparameter
   * was out of range. Such a step changes no parameter and no state.
   */
  public final Variable<TInt64> skippedSteps() {
    return skippedSteps;
  }

  /**
   * The skipped steps by cause ({@code <name>/skipped_<cause>}); they add up to {@link
   * #skippedSteps}.
   */
  public final Map<SkipCause, Variable<TInt64>> skippedStepsByCause() {
    return Collections.unmodifiableMap(skipsByCause);
  }

  /** The optimizer's name scope, under which its ops and hyperparameter variables live. */
  @Override
  public final String getOptimizerName() {
    return name;
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T extends TType> Optional<Variable<T>> getSlot(Output<T> variable, String slotName) {
    Map<String, Variable<?>> bySlot = slots.get(variable.op().name());
    return bySlot == null
        ? Optional.empty()
        : Optional.ofNullable((Variable<T>) bySlot.get(slotName));
  }

  /** Every slot variable created so far, in creation order per parameter. */
  public final List<Variable<?>> slotVariables() {
    List<Variable<?>> all = new ArrayList<>();
    slots.keySet().stream().sorted().forEach(k -> all.addAll(slots.get(k).values()));
    return all;
  }

  /**
   * Differentiates the loss with respect to every floating-point {@code VariableV2} the loss reads
   * (integer variables, counters say, have no gradient and are left alone).
   */
  @Override
  public <T extends TType> List<GradAndVar<?>> computeGradients(Operand<?> loss) {
    return gradients(
        loss,
        reachableVariables(loss).stream()
            .filter(v -> TFloating.class.isAssignableFrom(v.type()))
            .toList());
  }

  /**
   * Builds one training step for an explicit list of variables.
   *
   * @throws IllegalArgumentException if a variable is not read by the loss, or if the loss applies
   *     an op whose TensorFlow gradient cannot take a {@code VariableV2} input directly
   */
  public Op minimize(Operand<?> loss, List<Variable<?>> variables) {
    Set<String> reachable = new HashSet<>();
    reachableVariables(loss).forEach(v -> reachable.add(v.op().name()));
    List<Output<?>> outputs = new ArrayList<>();
    for (Variable<?> v : variables) {
      if (!reachable.contains(v.op().name())) {
        throw new IllegalArgumentException(
            "variable '" + v.op().name() + "' is not read by the loss '" + loss.op().name() + "'");
      }
      requireTrainable(v.asOutput());
      outputs.add(v.asOutput());
    }
    return applyGradients(gradients(loss, outputs), name + "-minimize");
  }

  /**
   * Builds one training step of one replica of a data-parallel job: the gradients of every
   * floating-point variable the loss reads (as {@link #computeGradients}) are averaged across
   * {@code replicas} before the step reads them, the auxiliary gradients are divided by the number
   * of replicas, and the optimizer averages the curvature statistics it takes from per-example data
   * across them too. When every replica's loss is the mean over an equal share of one global batch,
   * the step is the one-process step on the global batch (up to rounding), and it is the same on
   * every replica, so parameters and state stay identical (see {@code docs/distributed.md}).
   *
   * @throws IllegalArgumentException as {@link #minimize(Operand, List)}
   */
  public Op minimize(Operand<?> loss, Replicas replicas) {
    return minimize(List.of(loss), replicas);
  }

  /**
   * Builds one training step from S shards of this replica's batch: {@code shardLosses} holds one
   * loss per copy of the model in this graph (the variables shared, other rows in each, every
   * registered layer registered on every shard with {@link LayerCollection#registerShard}). Each
   * shard's gradients are computed alone and summed in order, averaged across {@code replicas} and
   * divided by S; the auxiliary gradients are divided by N·S; the optimizers average their
   * statistics shard by shard the same way. With equal shards this is the step on the global batch,
   * and it reduces as data-parallel replicas do: one process on two shards and two replicas on one
   * shard each compute the same bits.
   *
   * @throws IllegalArgumentException as {@link #minimize(Operand, Replicas)}, if there is no loss,
   *     if the shards' losses read different variables, or if a registered layer this optimizer
   *     reads is not registered on every shard
   */
  public Op minimize(List<? extends Operand<?>> shardLosses, Replicas replicas) {
    if (replicas == null) {
      throw new IllegalArgumentException("replicas must not be null; use Replicas.single()");
    }
    if (shardLosses == null || shardLosses.isEmpty()) {
      throw new IllegalArgumentException("give the step one loss per shard, at least one");
    }
    List<Gradients> shards = new ArrayList<>();
    for (Operand<?> loss : shardLosses) {
      shards.add((Gradients) computeGradients(loss));
    }
    return applyGradients(
        Gradients.sumOverShards(scoped, shards), name + "-minimize", replicas, shards.size());
  }

  private Gradients gradients(Operand<?> loss, List<Output<?>> variables) {
    if (variables.isEmpty()) {
      throw new IllegalArgumentException(
          "the loss '" + loss.op().name() + "' reads no variable to train");
    }
    List<Output<?>> targets = new ArrayList<>(variables);
    // A tensor the loss does not depend on (a layer of another model in the same graph) has no
    // gradient to ask for, and addGradients rejects it.
    List<GraphOperation> ancestors = ancestors(loss);
    Set<String> upstream = new HashSet<>();
    ancestors.forEach(op -> upstream.add(op.name()));
    List<Operand<?>> auxiliary =
        auxiliaryGradientTargets().stream().filter(a -> upstream.contains(a.op().name())).toList();
    auxiliary.forEach(a -> targets.add(a.asOutput()));
    // Some TF C++ gradients kill the JVM on a VariableV2 input (Square(w)); refuse those first.
    GradientHazards.check(loss, ancestors, targets);
    Output<?>[] gradients = graph.addGradients(loss.asOutput(), targets.toArray(new Output<?>[0]));
    List<GradAndVar<?>> pairs = new ArrayList<>();
    for (int i = 0; i < variables.size(); i++) {
      pairs.add(pair(gradients[i], variables.get(i)));
    }
    Map<Output<?>, Output<?>> byTarget = new HashMap<>();
    for (int i = 0; i < auxiliary.size(); i++) {
      byTarget.put(auxiliary.get(i).asOutput(), gradients[variables.size() + i]);
    }
    return new Gradients(pairs, byTarget);
  }

  /**
   * The gradients of one loss: the parameters' pairs, as the framework expects them, and the
   * auxiliary gradients computed in the same call, which belong to this step only.
   */
  private static final class Gradients extends AbstractList<GradAndVar<?>> {
    private final List<GradAndVar<?>> pairs;
    private final Map<Output<?>, Output<?>> auxiliary;

    Gradients(List<GradAndVar<?>> pairs, Map<Output<?>, Output<?>> auxiliary) {
      this.pairs = List.copyOf(pairs);
      this.auxiliary = Map.copyOf(auxiliary);
    }

    /**
     * Σ over the shards of each parameter's gradient ({@link CrossReplica#sumInOrder}), and every
     * shard's auxiliary gradients (each target belongs to one shard).
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static Gradients sumOverShards(Ops tf, List<Gradients> shards) {
      Gradients first = shards.get(0);
      if (shards.size() == 1) {
        return first;
      }
      List<GradAndVar<?>> pairs = new ArrayList<>();
      Map<Output<?>, Output<?>> auxiliary = new HashMap<>();
      List<String> firstNames = first.variableNames();
      for (int k = 0; k < shards.size(); k++) {
        Gradients shard = shards.get(k);
        List<String> names = shard.variableNames();
        if (!names.equals(firstNames)) {
          throw new IllegalArgumentException(
              "the loss of shard "
                  + k
                  + " reads the variables "
                  + names
                  + " but the loss of shard 0 reads "
                  + firstNames
                  + ": every shard must be a copy of one model");
        }
        auxiliary.putAll(shard.auxiliary);
      }
      for (int i = 0; i < first.pairs.size(); i++) {
        List<Operand> gradients = new ArrayList<>();
        for (Gradients shard : shards) {
          gradients.add(shard.pairs.get(i).getGradient());
        }
        pairs.add(
            pair(
                CrossReplica.sumInOrder(tf, (List) gradients).asOutput(),
                first.pairs.get(i).getVariable()));
      }
      return new Gradients(pairs, auxiliary);
    }

    private List<String> variableNames() {
      return pairs.stream().map(p -> p.getVariable().op().name()).toList();
    }

    @Override
    public GradAndVar<?> get(int index) {
      return pairs.get(index);
    }

    @Override
    public int size() {
      return pairs.size();
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static GradAndVar<?> pair(Output<?> gradient, Output<?> variable) {
    return new GradAndVar(gradient, variable);
  }

  /** VariableV2 outputs that the loss reads through data edges, sorted by name. */
  private static List<Output<?>> reachableVariables(Operand<?> loss) {
    List<Output<?>> found = new ArrayList<>();
    for (GraphOperation op : ancestors(loss)) {
      if (VARIABLE_V2.equals(op.type())) {
        found.add(op.output(0));
      }
    }
    found.sort(Comparator.comparing(o -> o.op().name()));
    return found;
  }

  /** Every operation the loss depends on through data edges, the loss included. */
  private static List<GraphOperation> ancestors(Operand<?> loss) {
    Set<String> seen = new HashSet<>();
    Deque<GraphOperation> queue = new ArrayDeque<>();
    queue.add((GraphOperation) loss.op());
    List<GraphOperation> found = new ArrayList<>();
    while (!queue.isEmpty()) {
      GraphOperation op = queue.poll();
      if (seen.add(op.name())) {
        found.add(op);
        for (Operand<?> input : op.inputs()) {
          queue.add((GraphOperation) input.op());
        }
      }
    }
    return found;
  }

  @Override
  public Op applyGradients(List<GradAndVar<? extends TType>> gradsAndVars, String opName) {
    return applyGradients(gradsAndVars, opName, Replicas.single(), 1);
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private Op applyGradients(
      List<? extends GradAndVar<? extends TType>> gradsAndVars,
      String opName,
      Replicas replicas,
      int shards) {
    List<GradAndVar<? extends TType>> ordered = new ArrayList<>(gradsAndVars);
    ordered.sort(Comparator.comparing(gv -> gv.getVariable().op().name()));
    Map<Output<?>, Output<?>> auxiliary =
        gradsAndVars instanceof Gradients g ? g.auxiliary : Map.of();
    if (replicas.distributed() || shards > 1) {
      // Before the guard reads them: every replica then checks, and skips, the same gradients.
      List<Output<?>> averaged = ordered.stream().<Output<?>>map(GradAndVar::getGradient).toList();
      if (replicas.distributed()) {
        averaged = CrossReplica.meanAll(scoped, replicas, averaged);
      }
      List<GradAndVar<? extends TType>> pairs = new ArrayList<>();
      for (int i = 0; i < ordered.size(); i++) {
        Output<?> gradient = averaged.get(i);
        if (shards > 1) {
          gradient = CrossReplica.dividedBy(scoped, gradient, shards);
        }
        pairs.add(new GradAndVar(gradient, ordered.get(i).getVariable()));
      }
      ordered = pairs;
      auxiliary = CrossReplica.globalLossGradients(scoped, replicas, shards, auxiliary);
    }
    // Only the parameter gradients are checked: a NaN or Inf in a layer's dZ reaches its kernel
    // gradient (dW sums dZ times inputs, and NaN·0 is NaN), and the auxiliary gradients are read
    // only
    // for the layers whose parameters this step trains. On large conv activations the check of dZ
    // cost more than Adam's whole update.
    List<Output<?>> checked = new ArrayList<>();
    ordered.forEach(gv -> checked.add(gv.getGradient()));
    Operand<TBool> finite = allFinite(checked);
    StepContext step =
        new StepContext(
            this, scoped, finite, stepCount, skipNonFinite, auxiliary, replicas, shards);
    for (GradAndVar<? extends TType> gv : ordered) {
      applyOne(step, gv);
    }
    step.set(stepCount, scoped.math.add(stepCount, scoped.constant(1L)));
    return step.commit(validHyperparameters(), skippedSteps, skipsByCause, opName);
  }

  @SuppressWarnings("unchecked")
  private <T extends TFloating> void applyOne(StepContext step, GradAndVar<? extends TType> gv) {
    Output<T> variable = (Output<T>) gv.getVariable();
    requireTrainable(variable);
    Output<T> gradient = (Output<T>) gv.getGradient();
    update(step, step.sanitized(gradient), new Variable<>(variable.op()));
  }

  /** Every fisheropt optimizer trains float32 and float64 variables, and only those. */
  private static void requireTrainable(Output<?> variable) {
    if (variable.type() != TFloat32.class && variable.type() != TFloat64.class) {
      throw new IllegalArgumentException(
          "variable '"
              + variable.op().name()
              + "' has dtype "
              + variable.dataType().name().replace("_REF", "")
              + "; fisheropt optimizers train float32 and float64 variables only");
    }
  }

  /** Whether every hyperparameter lies in its range (true when the guard is off). */
  private Operand<TBool> validHyperparameters() {
    if (!skipNonFinite) {
      return scoped.constant(true);
    }
    List<Operand<TBool>> checks = new ArrayList<>();
    hyperparameters.forEach((key, value) -> checks.add(ranges.get(key).contains(scoped, value)));
    return scoped.reduceAll(scoped.stack(checks), scoped.constant(0));
  }

  private Operand<TBool> allFinite(List<Output<?>> gradients) {
    return skipNonFinite ? StepContext.allFinite(scoped, gradients) : scoped.constant(true);
  }

  /**
   * Builds the new values of one parameter and its state on {@code step}: read slots with {@link
   * StepContext#slot}, declare every new value with {@link StepContext#set}.
   */
  protected abstract <T extends TFloating> void update(
      StepContext step, Operand<T> gradient, Variable<T> variable);

  /** Not used: {@link #applyGradients} builds all updates jointly so that they commit together. */
  @Override
  protected final <T extends TType> Op applyDense(
      Ops deps, Output<T> gradient, Output<T> variable) {
    throw new UnsupportedOperationException(
        "GuardedOptimizer builds its updates in applyGradients");
  }

  /** Creates (once) the slot {@code <variable>-<slot>} with the given initial value. */
  <S extends TType> Variable<S> slot(
      Variable<?> variable, String slotName, Operand<S> initialValue) {
    Map<String, Variable<?>> bySlot =
        slots.computeIfAbsent(variable.op().name(), k -> new LinkedHashMap<>());
    @SuppressWarnings("unchecked")
    Variable<S> existing = (Variable<S>) bySlot.get(slotName);
    if (existing != null) {
      return existing;
    }
    Ops init = scoped.withInitScope();
    String slotVariable = variable.op().name() + "-" + slotName;
    if (graph.operation(slotVariable) != null) {
      throw new IllegalArgumentException(
          "variable '"
              + variable.op().name()
              + "' already has a slot '"
              + slotVariable
              + "', made by another optimizer in this graph: train each variable with one optimizer"
              + " (give each optimizer its own variables with minimize(loss, variables))");
    }
    GraphOperation op =
        graph
            .opBuilder(VARIABLE_V2, slotVariable, init.scope())
            .setAttr("shape", initialValue.shape())
            .setAttr("dtype", initialValue.asOutput().dataType())
            .build();
    Variable<S> slot = new Variable<>(op);
    init.assign(slot, initialValue);
    bySlot.put(slotName, slot);
    return slot;
  }

  /**
   * Settings every fisheropt optimizer has: its name, learning rate (a constant or a schedule) and
   * whether non-finite steps are skipped. Every setter validates its value at once.
   */
  public abstract static class Builder<B extends Builder<B>> {
    private String name;
    private double learningRate;
    private Operand<? extends TNumber> learningRateOperand;
    private Schedule schedule;
    private boolean skipNonFinite = true;

    protected Builder(String defaultName, double defaultLearningRate) {
      this.name = defaultName;
      this.learningRate = defaultLearningRate;
    }

    protected abstract B self();

    /** The optimizer's name scope (default: the class name). */
    public B name(String name) {
      this.name = Settings.name(name);
      return self();
    }

    /** η, a positive constant held in the variable {@code <name>/learning_rate}. */
    public B learningRate(double learningRate) {
      this.learningRate = Settings.positive("learningRate", learningRate);
      this.learningRateOperand = null;
      this.schedule = null;
      return self();
    }

    /**
     * η(t) from a {@link Schedule}, evaluated in the graph on this optimizer's own count of
     * completed steps, so a checkpoint or SavedModel resumes the schedule exactly. The rate of the
     * parameters a fallback rule updates follows the same schedule, scaled by fallback rate ÷ peak.
     */
    public B learningRate(Schedule schedule) {
      if (schedule == null) {
        throw new IllegalArgumentException("learningRate schedule must not be null");
      }
      this.schedule = schedule;
      this.learningRateOperand = null;
      return self();
    }

    /**
     * η as a scalar operand of the same graph, evaluated every step. The fallback rule keeps its
     * own rate: pass a {@link Schedule} to have it follow.
     */
    public B learningRate(Operand<? extends TNumber> schedule) {
      if (schedule == null || schedule.shape().numDimensions() != 0) {
        throw new IllegalArgumentException(
            "learningRate schedule must be a scalar operand, got "
                + (schedule == null ? "null" : "shape " + schedule.shape()));
      }
      this.learningRateOperand = schedule;
      this.schedule = null;
      return self();
    }

    /** Whether a step with NaN/Inf gradients is skipped without touching state (default true). */
    public B skipNonFinite(boolean skip) {
      this.skipNonFinite = skip;
      return self();
    }
  }

  Ops initOps() {
    return scoped.withInitScope();
  }

  /** η(t) divided by the base rate: the constant rate, or a schedule's peak (1 for an operand). */
  Operand<TFloat64> learningRateScale() {
    return learningRateScale;
  }

  Operand<? extends TNumber> hyperparameterOperand(String key) {
    Operand<? extends TNumber> value = hyperparameters.get(key);
    if (value == null) {
      throw new IllegalStateException("no hyperparameter '" + key + "' in " + name);
    }
    return value;
  }
}
