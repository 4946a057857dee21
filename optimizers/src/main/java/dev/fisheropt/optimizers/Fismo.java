package dev.fisheropt.optimizers;

import dev.fisheropt.ops.FactorEma;
import dev.fisheropt.ops.FunctionKeys;
import dev.fisheropt.ops.InverseRoots;
import dev.fisheropt.ops.Matrices;
import java.util.List;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.If;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * FISMO: Fisher-structured momentum-orthogonalized optimizer (Xu, Yan, Zhang, ICML 2026,
 * arXiv 2601.21750, Algorithm 1).
 *
 * <p>For every rank-2 parameter W ∈ ℝ^{m×n} (and every rank-4 conv kernel, seen as
 * [kh·kw·cin, cout]) with gradient G, FISMO keeps Kronecker factors P ∈ ℝ^{m×m}, Q ∈ ℝ^{n×n} of the
 * empirical Fisher and a momentum M in the whitened space. One step, Gauss–Seidel (Q uses the new P):
 * <pre>
 *   L = G Q⁻¹ Gᵀ / n + μ·tr(P)/m·I        P ← sym(m·P̃ / tr P̃),  P̃ = γP + (1−γ)L
 *   R = Gᵀ P⁻¹ G / m + μ·tr(Q)/n·I        Q ← sym(n·Q̃ / tr Q̃),  Q̃ = γQ + (1−γ)R
 *   G̃ = P^{-1/2} G Q^{-1/2}               M ← βM + (1−β)G̃
 *   W ← W − η·P^{-1/2} Polar(M) Q^{-1/2}  (− ηλW with decoupled weight decay λ)
 * </pre>
 * with P₀ = I, Q₀ = I, M₀ = 0. The update solves the trust-region problem
 * min ⟨G, ΔW⟩ s.t. ‖P^{1/2} ΔW Q^{1/2}‖₂ ≤ η; with γ = 1 the factors stay I and FISMO is Muon with
 * EMA momentum and neither Nesterov nor shape scaling. Every other parameter goes to the
 * {@link Fallback} (Adam by default), as do matrices passed to {@link Builder#exclude}.
 *
 * <p>With {@code preconditionerInterval(k)} the factors and their roots are recomputed only on steps
 * whose count of completed steps is a multiple of k; the steps between reuse the stored roots.
 *
 * <p>Slots per preconditioned parameter: {@code P}, {@code Q}, {@code Q_inverse},
 * {@code P_inverse_sqrt}, {@code Q_inverse_sqrt} and {@code momentum} (shape [m, n]); with
 * {@code inverseRoot(NEWTON)} also {@code unconverged_roots}, an int64 count of the factor roots
 * whose Newton iteration missed its acceptance tolerance (see {@link InverseRoot#NEWTON}).
 *
 * <p>Under XLA ({@link Xla}), {@code inverseRoot(NEWTON)} with {@code polar(NEWTON_SCHULZ)} puts
 * every compute op of the step in XLA clusters; with {@code EIGH} the {@code SelfAdjointEigV2} ops
 * stay outside.
 * Hyperparameter variables: {@code learning_rate}, {@code momentum}, {@code fisher_decay},
 * {@code damping}, {@code weight_decay} and the fallback's.
 */
public final class Fismo extends MatrixOptimizer {
  public static final String NAME_DEFAULT = "Fismo";
  public static final double LEARNING_RATE_DEFAULT = 0.02;
  public static final double MOMENTUM_DEFAULT = 0.95;
  public static final double FISHER_DECAY_DEFAULT = 0.95;
  public static final double DAMPING_DEFAULT = 1e-3;
  public static final int NS_STEPS_DEFAULT = 5;
  public static final int PRECONDITIONER_INTERVAL_DEFAULT = 1;
  public static final double WEIGHT_DECAY_DEFAULT = 0.0;

  private final InverseRoot inverseRoot;
  private final int preconditionerInterval;

  /** FISMO with every setting at its default. */
  public Fismo(Graph graph) {
    this(graph, builder());
  }

  private Fismo(Graph graph, Builder b) {
    super(graph, b);
    this.inverseRoot = b.inverseRoot;
    this.preconditionerInterval = b.preconditionerInterval;
    hyperparameter("fisher_decay", b.fisherDecay);
    hyperparameter("damping", b.damping);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  <T extends TFloating> void updateMatrix(StepContext step, Operand<T> gradient, Variable<T> variable, MatrixView view) {
    Ops tf = step.tf();
    Ops init = step.init();
    Class<T> type = variable.type();
    long m = view.rows();
    long n = view.cols();
    Variable<T> p = step.slot(variable, "P", Matrices.identity(init, m, type));
    Variable<T> q = step.slot(variable, "Q", Matrices.identity(init, n, type));
    Variable<T> qInverse = step.slot(variable, "Q_inverse", Matrices.identity(init, n, type));
    Variable<T> pInvSqrt = step.slot(variable, "P_inverse_sqrt", Matrices.identity(init, m, type));
    Variable<T> qInvSqrt = step.slot(variable, "Q_inverse_sqrt", Matrices.identity(init, n, type));
    Variable<T> momentum = step.slot(variable, "momentum", init.zeros(init.constant(new long[] {m, n}), type));

    Operand<T> g = view.toMatrix(tf, gradient);
    Operand<T> gamma = step.hyperparameter("fisher_decay", type);
    Operand<T> mu = step.hyperparameter("damping", type);
    Factors<T> f;
    if (preconditionerInterval == 1) {
      f = refresh(tf, inverseRoot, g, p, q, qInverse, gamma, mu);
    } else {
      Operand<TBool> due = tf.math.equal(
          tf.math.mod(step.completedSteps(), tf.constant((long) preconditionerInterval)), tf.constant(0L));
      f = refreshWhen(tf, due, g, p, q, qInverse, pInvSqrt, qInvSqrt, gamma, mu);
    }
    Operand<T> one = tf.constant(type, 1.0);
    Operand<T> beta = step.hyperparameter("momentum", type);
    Operand<T> whitened = Matrices.matmul(tf, Matrices.matmul(tf, f.pInvSqrt(), g), f.qInvSqrt());
    Operand<T> mNew = tf.math.add(tf.math.mul(beta, momentum), tf.math.mul(tf.math.sub(one, beta), whitened));
    Operand<T> direction = Matrices.matmul(tf, Matrices.matmul(tf, f.pInvSqrt(), polarFactor(tf, mNew)), f.qInvSqrt());
    step.set(p, f.p());
    step.set(q, f.q());
    step.set(qInverse, f.qInverse());
    step.set(pInvSqrt, f.pInvSqrt());
    step.set(qInvSqrt, f.qInvSqrt());
    step.set(momentum, mNew);
    if (inverseRoot == InverseRoot.NEWTON) {
      Variable<TInt64> unconverged = step.slot(variable, "unconverged_roots", init.constant(0L));
      step.set(unconverged, tf.math.add(unconverged, f.unconverged()));
    }
    descend(step, variable, view.toParameter(tf, direction));
  }

  /** The Kronecker factors after a step and the roots the step uses. */
  private record Factors<T extends TFloating>(Operand<T> p, Operand<T> q, Operand<T> qInverse, Operand<T> pInvSqrt,
      Operand<T> qInvSqrt, Operand<TInt64> unconverged) {}

  private static <T extends TFloating> Factors<T> refresh(Ops tf, InverseRoot inverseRoot, Operand<T> g, Operand<T> p,
      Operand<T> q, Operand<T> qInverse, Operand<T> gamma, Operand<T> mu) {
    Class<T> type = g.type();
    long[] shape = Matrices.matrixShape(g, "gradient");
    Operand<T> m = tf.constant(type, (double) shape[0]);
    Operand<T> n = tf.constant(type, (double) shape[1]);
    Operand<T> l = tf.math.div(Matrices.matmulTransposeB(tf, Matrices.matmul(tf, g, qInverse), g), n);
    l = Matrices.addToDiagonal(tf, l, tf.math.div(tf.math.mul(mu, Matrices.trace(tf, p)), m));
    Operand<T> pNew = FactorEma.traceNormalized(tf, p, l, gamma);
    InverseRoot.Result<T> pResult = inverseRoot.roots(tf, pNew);
    InverseRoots.Roots<T> pRoots = pResult.roots();
    Operand<T> r = tf.math.div(Matrices.matmul(tf, Matrices.matmulTransposeA(tf, g, pRoots.inverse()), g), m);
    r = Matrices.addToDiagonal(tf, r, tf.math.div(tf.math.mul(mu, Matrices.trace(tf, q)), n));
    Operand<T> qNew = FactorEma.traceNormalized(tf, q, r, gamma);
    InverseRoot.Result<T> qResult = inverseRoot.roots(tf, qNew);
    InverseRoots.Roots<T> qRoots = qResult.roots();
    Operand<TInt64> unconverged = tf.math.add(failures(tf, pResult.converged()), failures(tf, qResult.converged()));
    return new Factors<>(pNew, qNew, qRoots.inverse(), pRoots.inverseSqrt(), qRoots.inverseSqrt(), unconverged);
  }

  private static Operand<TInt64> failures(Ops tf, Operand<TBool> converged) {
    return tf.select(converged, tf.constant(0L), tf.constant(1L));
  }

  /** {@link #refresh} on the steps where {@code due} holds, the stored factors and roots otherwise. */
  @SuppressWarnings("unchecked")
  private <T extends TFloating> Factors<T> refreshWhen(Ops tf, Operand<TBool> due, Operand<T> g, Operand<T> p, Operand<T> q,
      Operand<T> qInverse, Operand<T> pInvSqrt, Operand<T> qInvSqrt, Operand<T> gamma, Operand<T> mu) {
    Class<T> type = g.type();
    List<Shape> shapes = List.of(g.shape(), p.shape(), q.shape(), qInverse.shape(), pInvSqrt.shape(), qInvSqrt.shape(),
        Shape.scalar(), Shape.scalar());
    ConcreteFunction recompute = branch("fismo_refresh_" + inverseRoot.name().toLowerCase(java.util.Locale.ROOT), type, shapes, (fn, in) -> refresh(fn, inverseRoot, in.get(0), in.get(1), in.get(2), in.get(3), in.get(6), in.get(7)));
    ConcreteFunction keep = branch("fismo_keep", type, shapes,
        (fn, in) -> new Factors<>(in.get(1), in.get(2), in.get(3), in.get(4), in.get(5), fn.constant(0L)));
    List<Class<? extends org.tensorflow.types.family.TType>> types = List.of(type, type, type, type, type, TInt64.class);
    If chosen = tf.statelessIf(due, List.of(g, p, q, qInverse, pInvSqrt, qInvSqrt, gamma, mu), types, recompute, keep,
        If.outputShapes(p.shape(), q.shape(), qInverse.shape(), pInvSqrt.shape(), qInvSqrt.shape(), Shape.scalar()));
    List<org.tensorflow.Output<?>> out = chosen.output();
    return new Factors<>((Operand<T>) out.get(0), (Operand<T>) out.get(1), (Operand<T>) out.get(2), (Operand<T>) out.get(3),
        (Operand<T>) out.get(4), (Operand<TInt64>) out.get(5));
  }

  private interface BranchBody<T extends TFloating> {
    Factors<T> build(Ops fn, List<Operand<T>> inputs);
  }

  private static <T extends TFloating> ConcreteFunction branch(String name, Class<T> type, List<Shape> shapes, BranchBody<T> body) {
    return ConcreteFunction.create(fn -> {
      List<Operand<T>> inputs = new java.util.ArrayList<>();
      Signature.Builder sig = Signature.builder(FunctionKeys.of(name, type, shapes.toArray(new Shape[0])));
      for (int i = 0; i < shapes.size(); i++) {
        Placeholder<T> in = fn.placeholder(type, Placeholder.shape(shapes.get(i)));
        inputs.add(in);
        sig.input("in" + i, in);
      }
      Factors<T> f = body.build(fn, inputs);
      // Identity keeps each output a distinct node even where a branch passes an input through.
      return sig.output("p", fn.identity(f.p())).output("q", fn.identity(f.q())).output("q_inverse", fn.identity(f.qInverse()))
          .output("p_inverse_sqrt", fn.identity(f.pInvSqrt())).output("q_inverse_sqrt", fn.identity(f.qInvSqrt()))
          .output("unconverged", fn.identity(f.unconverged())).build();
    });
  }

  /** Settings of {@link Fismo}; every setter validates its value at once. */
  public static final class Builder extends MatrixOptimizer.Builder<Builder> {
    private double fisherDecay = FISHER_DECAY_DEFAULT;
    private double damping = DAMPING_DEFAULT;
    private InverseRoot inverseRoot = InverseRoot.EIGH;
    private int preconditionerInterval = PRECONDITIONER_INTERVAL_DEFAULT;

    private Builder() {
      super(NAME_DEFAULT, LEARNING_RATE_DEFAULT, MOMENTUM_DEFAULT, NS_STEPS_DEFAULT, WEIGHT_DECAY_DEFAULT);
    }

    @Override
    protected Builder self() {
      return this;
    }

    /** γ ∈ [0, 1], the EMA coefficient of the Kronecker factors; 1 freezes them at I. */
    public Builder fisherDecay(double fisherDecay) {
      this.fisherDecay = Settings.closedDecay("fisherDecay", fisherDecay);
      return this;
    }

    /** μ &gt; 0, the damping added as μ·tr(P)/m·I (and likewise for Q). */
    public Builder damping(double damping) {
      this.damping = Settings.positive("damping", damping);
      return this;
    }

    public Builder inverseRoot(InverseRoot inverseRoot) {
      if (inverseRoot == null) {
        throw new IllegalArgumentException("inverseRoot must not be null");
      }
      this.inverseRoot = inverseRoot;
      return this;
    }

    /** Recompute P, Q and their roots every {@code k} steps (1 = every step, as the paper). */
    public Builder preconditionerInterval(int k) {
      this.preconditionerInterval = Settings.atLeastOne("preconditionerInterval", k);
      return this;
    }

    public Fismo build(Graph graph) {
      return new Fismo(graph, this);
    }
  }
}
