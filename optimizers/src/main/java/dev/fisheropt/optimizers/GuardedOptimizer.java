package dev.fisheropt.optimizers;

import java.util.AbstractList;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
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
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TNumber;
import org.tensorflow.types.family.TType;

/**
 * Base of the fisheropt optimizers: one training step built as "compute every new value, then
 * commit them all, or none if the gradients were not finite".
 *
 * <p>Compared with the framework {@link Optimizer} it differs where the framework breaks real
 * training code:
 * <ul>
 *   <li>{@link #computeGradients} differentiates only the {@code VariableV2}s the loss reads, so a
 *       graph may hold other variables (optimizer state, other models);</li>
 *   <li>slots are named {@code <variable>-<slot>} even for variables under a name scope
 *       ({@code dense1/kernel-momentum});</li>
 *   <li>hyperparameters are float64 variables (or an {@code Operand} schedule for the learning
 *       rate), cast to each parameter's dtype where used;</li>
 *   <li>all writes wait on one barrier that follows every read, so two runs on the same inputs give
 *       bit-identical state.</li>
 *   <li>a loss whose TensorFlow gradient cannot take a {@code VariableV2} input directly
 *       ({@code tf.math.square(w)}: SIGSEGV in {@code TF_AddGradientsWithPrefix}) is refused with an
 *       {@link IllegalArgumentException} naming the op and the workaround, before TensorFlow is asked
 *       for gradients (see {@code GradientHazards}).</li>
 * </ul>
 * Subclasses implement {@link #update} for one parameter, reading state and declaring new values on
 * the {@link StepContext}.
 */
public abstract class GuardedOptimizer extends Optimizer {
  private static final String VARIABLE_V2 = "VariableV2";

  private final String name;
  private final Ops scoped;
  private final Map<String, Operand<? extends TNumber>> hyperparameters = new LinkedHashMap<>();
  private final Map<String, Map<String, Variable<?>>> slots = new HashMap<>();
  private final boolean skipNonFinite;
  private final Variable<TInt64> stepCount;
  private final Variable<TInt64> skippedSteps;

  /**
   * Creates the counters {@code <name>/step}, {@code <name>/skipped_steps} and the hyperparameter
   * {@code <name>/learning_rate} from the common settings.
   */
  protected GuardedOptimizer(Graph graph, Builder<?> settings) {
    super(graph, settings.name);
    this.name = settings.name;
    this.scoped = Ops.create(graph).withSubScope(name);
    this.skipNonFinite = settings.skipNonFinite;
    Ops init = scoped.withInitScope();
    this.stepCount = scoped.withName("step").variable(init.constant(0L));
    this.skippedSteps = scoped.withName("skipped_steps").variable(init.constant(0L));
    if (settings.learningRateSchedule != null) {
      hyperparameters.put("learning_rate", settings.learningRateSchedule);
    } else {
      hyperparameter("learning_rate", settings.learningRate);
    }
  }

  /** Registers the hyperparameters of an update rule as {@code <name>/<prefix><key>}. */
  final void registerRule(Fallback rule, String prefix) {
    rule.hyperparameters().entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(e -> hyperparameter(prefix + e.getKey(), e.getValue()));
  }

  /**
   * Tensors besides the parameters whose gradient the step needs, such as the pre-activations of
   * registered layers; they are differentiated in the same {@code addGradients} call as the
   * parameters and read back with {@link StepContext#gradientOf}.
   */
  protected List<Operand<?>> auxiliaryGradientTargets() {
    return List.of();
  }

  /** Registers a hyperparameter as a float64 scalar variable {@code <scope>/<key>}. */
  protected final void hyperparameter(String key, double value) {
    hyperparameters.put(key, scoped.withName(key).variable(scoped.withInitScope().constant(value)));
  }

  /**
   * The hyperparameters by key: float64 variables, or the operand a schedule was given as. Assign to
   * a variable to change a setting between steps.
   */
  public final Map<String, Operand<? extends TNumber>> hyperparameters() {
    return Collections.unmodifiableMap(hyperparameters);
  }

  /** Completed (not skipped) steps. */
  public final Variable<TInt64> stepCount() {
    return stepCount;
  }

  /** Steps whose gradients held NaN or Inf and that were therefore not applied. */
  public final Variable<TInt64> skippedSteps() {
    return skippedSteps;
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
    return bySlot == null ? Optional.empty() : Optional.ofNullable((Variable<T>) bySlot.get(slotName));
  }

  /** Every slot variable created so far, in creation order per parameter. */
  public final List<Variable<?>> slotVariables() {
    List<Variable<?>> all = new ArrayList<>();
    slots.keySet().stream().sorted().forEach(k -> all.addAll(slots.get(k).values()));
    return all;
  }

  /** Differentiates the loss with respect to every {@code VariableV2} the loss reads. */
  @Override
  public <T extends TType> List<GradAndVar<?>> computeGradients(Operand<?> loss) {
    return gradients(loss, reachableVariables(loss));
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
        throw new IllegalArgumentException("variable '" + v.op().name() + "' is not read by the loss '" + loss.op().name() + "'");
      }
      outputs.add(v.asOutput());
    }
    return applyGradients(gradients(loss, outputs), name + "-minimize");
  }

  private Gradients gradients(Operand<?> loss, List<Output<?>> variables) {
    if (variables.isEmpty()) {
      throw new IllegalArgumentException("the loss '" + loss.op().name() + "' reads no variable to train");
    }
    List<Output<?>> targets = new ArrayList<>(variables);
    // A tensor the loss does not depend on (a layer of another model in the same graph) has no
    // gradient to ask for, and addGradients rejects it.
    List<GraphOperation> ancestors = ancestors(loss);
    Set<String> upstream = new HashSet<>();
    ancestors.forEach(op -> upstream.add(op.name()));
    List<Operand<?>> auxiliary = auxiliaryGradientTargets().stream().filter(a -> upstream.contains(a.op().name())).toList();
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
    List<GradAndVar<? extends TType>> ordered = new ArrayList<>(gradsAndVars);
    ordered.sort(Comparator.comparing(gv -> gv.getVariable().op().name()));
    // Only the parameter gradients are checked: a NaN or Inf in a layer's dZ reaches its kernel
    // gradient (dW sums dZ times inputs, and NaN·0 is NaN), and the auxiliary gradients are read only
    // for the layers whose parameters this step trains. On large conv activations the check of dZ
    // cost more than Adam's whole update.
    List<Output<?>> checked = new ArrayList<>();
    ordered.forEach(gv -> checked.add(gv.getGradient()));
    Operand<TBool> finite = allFinite(checked);
    Map<Output<?>, Output<?>> auxiliary = gradsAndVars instanceof Gradients g ? g.auxiliary : Map.of();
    StepContext step = new StepContext(this, scoped, finite, stepCount, skipNonFinite, auxiliary);
    for (GradAndVar<? extends TType> gv : ordered) {
      applyOne(step, gv);
    }
    step.set(stepCount, scoped.math.add(stepCount, scoped.constant(1L)));
    return step.commit(skippedSteps, opName);
  }

  @SuppressWarnings("unchecked")
  private <T extends TFloating> void applyOne(StepContext step, GradAndVar<? extends TType> gv) {
    Output<T> variable = (Output<T>) gv.getVariable();
    if (!TFloating.class.isAssignableFrom(variable.type())) {
      throw new IllegalArgumentException("variable '" + variable.op().name() + "' has dtype "
          + variable.dataType() + "; only floating-point variables can be trained");
    }
    Output<T> gradient = (Output<T>) gv.getGradient();
    update(step, step.sanitized(gradient), new Variable<>(variable.op()));
  }

  private Operand<TBool> allFinite(List<Output<?>> gradients) {
    if (!skipNonFinite) {
      return scoped.constant(true);
    }
    List<Operand<TBool>> checks = new ArrayList<>();
    for (Output<?> g : gradients) {
      if (TFloating.class.isAssignableFrom(g.type())) {
        Operand<TBool> isFinite = scoped.math.isFinite(floating(g));
        checks.add(scoped.reduceAll(isFinite, scoped.range(scoped.constant(0), scoped.rank(isFinite), scoped.constant(1))));
      }
    }
    if (checks.isEmpty()) {
      return scoped.constant(true);
    }
    return scoped.reduceAll(scoped.stack(checks), scoped.constant(0));
  }

  @SuppressWarnings("unchecked")
  private static <T extends TFloating> Operand<T> floating(Output<?> o) {
    return (Operand<T>) o;
  }

  /**
   * Builds the new values of one parameter and its state on {@code step}: read slots with
   * {@link StepContext#slot}, declare every new value with {@link StepContext#set}.
   */
  protected abstract <T extends TFloating> void update(StepContext step, Operand<T> gradient, Variable<T> variable);

  /** Not used: {@link #applyGradients} builds all updates jointly so that they commit together. */
  @Override
  protected final <T extends TType> Op applyDense(Ops deps, Output<T> gradient, Output<T> variable) {
    throw new UnsupportedOperationException("GuardedOptimizer builds its updates in applyGradients");
  }

  /** Creates (once) the slot {@code <variable>-<slot>} with the given initial value. */
  <S extends TType> Variable<S> slot(Variable<?> variable, String slotName, Operand<S> initialValue) {
    Map<String, Variable<?>> bySlot = slots.computeIfAbsent(variable.op().name(), k -> new LinkedHashMap<>());
    @SuppressWarnings("unchecked")
    Variable<S> existing = (Variable<S>) bySlot.get(slotName);
    if (existing != null) {
      return existing;
    }
    Ops init = scoped.withInitScope();
    GraphOperation op = graph.opBuilder(VARIABLE_V2, variable.op().name() + "-" + slotName, init.scope())
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
    private Operand<? extends TNumber> learningRateSchedule;
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
      this.learningRateSchedule = null;
      return self();
    }

    /** η as a scalar operand of the same graph, evaluated every step (a schedule). */
    public B learningRate(Operand<? extends TNumber> schedule) {
      if (schedule == null || schedule.shape().numDimensions() != 0) {
        throw new IllegalArgumentException("learningRate schedule must be a scalar operand, got "
            + (schedule == null ? "null" : "shape " + schedule.shape()));
      }
      this.learningRateSchedule = schedule;
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

  Operand<? extends TNumber> hyperparameterOperand(String key) {
    Operand<? extends TNumber> value = hyperparameters.get(key);
    if (value == null) {
      throw new IllegalStateException("no hyperparameter '" + key + "' in " + name);
    }
    return value;
  }
}
