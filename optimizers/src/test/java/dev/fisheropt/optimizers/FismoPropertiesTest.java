package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Tensors;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.op.linalg.Svd;
import org.tensorflow.types.TFloat64;

/** The properties the FISMO paper proves, checked on real models in float64. */
class FismoPropertiesTest {
  /**
   * With the exact polar factor and β = 0, ΔW solves min ⟨G, ΔW⟩ s.t. ‖P^{1/2} ΔW Q^{1/2}‖₂ ≤ η:
   * ⟨G, ΔW⟩ = −η‖P^{-1/2} G Q^{-1/2}‖_* and the constraint is active.
   */
  @Test
  void updateSolvesTheTrustRegionProblem() {
    Reference ref = Reference.load("fismo_svd_cfg1_mlp_float64.json");
    ReferenceModel<TFloat64> model = new ReferenceModel<>(ref, TFloat64.class);
    double eta = 0.02;
    List<Variable<TFloat64>> kernels =
        List.of(model.params.get("dense1/kernel"), model.params.get("dense2/kernel"));
    Output<?>[] grads =
        model.graph.addGradients(
            model.loss.asOutput(),
            kernels.stream().map(Variable::asOutput).toArray(Output<?>[]::new));
    Fismo fismo =
        Fismo.builder().learningRate(eta).momentum(0.0).polar(Polar.EXACT).build(model.graph);
    Op step = fismo.minimize(model.loss);
    try (Session s = new Session(model.graph)) {
      s.initialize();
      for (int t = 0; t < 4; t++) {
        double[][] g = new double[2][];
        double[][] before = new double[2][];
        for (int k = 0; k < 2; k++) {
          g[k] = Tensors.fetch(s, grads[k]);
          before[k] = Tensors.fetch(s, kernels.get(k));
        }
        s.run(step);
        for (int k = 0; k < 2; k++) {
          Variable<TFloat64> kernel = kernels.get(k);
          long m = kernel.shape().size(0);
          long n = kernel.shape().size(1);
          double[] after = Tensors.fetch(s, kernel);
          double[] delta = new double[after.length];
          double inner = 0;
          for (int i = 0; i < after.length; i++) {
            delta[i] = after[i] - before[k][i];
            inner += g[k][i] * delta[i];
          }
          double[] p = Tensors.fetch(s, fismo.getSlot(kernel.asOutput(), "P").orElseThrow());
          double[] q = Tensors.fetch(s, fismo.getSlot(kernel.asOutput(), "Q").orElseThrow());
          double nuclear = Linalg.nuclearNorm(Linalg.sandwich(-0.5, p, m, g[k], n, q));
          double spectral = Linalg.spectralNorm(Linalg.sandwich(0.5, p, m, delta, n, q));
          String where = kernel.op().name() + " step " + (t + 1);
          assertEquals(
              -eta * nuclear, inner, 1e-10 * eta * nuclear, where + ": <G, dW> = -eta ||G~||_*");
          assertEquals(eta, spectral, 1e-10 * eta, where + ": ||P^1/2 dW Q^1/2||_2 = eta");
        }
      }
    } finally {
      model.graph.close();
    }
  }

  /**
   * With γ = 1 the factors stay at I and FISMO is Muon with EMA momentum, no Nesterov, no scaling.
   */
  @Test
  void withFrozenFactorsFismoIsMuonWithoutNesterov() {
    double[][] fismo = trainKernels(g -> Fismo.builder().fisherDecay(1.0).build(g));
    double[][] muon = trainKernels(g -> Muon.builder().nesterov(false).build(g));
    for (int k = 0; k < fismo.length; k++) {
      assertTrue(
          Close.relativeError(fismo[k], muon[k]) < 1e-12,
          "parameter " + k + " differs: " + Close.relativeError(fismo[k], muon[k]));
    }
  }

  private static double[][] trainKernels(Function<Graph, GuardedOptimizer> optimizer) {
    try (ToyProblem<TFloat64> p = new ToyProblem<>(ToyProblem.Kind.MLP, TFloat64.class, 11);
        Session s = new Session(p.graph)) {
      Op step = optimizer.apply(p.graph).minimize(p.loss);
      s.initialize();
      for (int i = 0; i < 10; i++) {
        p.run(s, step, false);
      }
      return p.params.stream().map(v -> Tensors.fetch(s, v)).toArray(double[][]::new);
    }
  }

  /** tr P = m, tr Q = n, P and Q symmetric positive definite after each of 500 steps. */
  @ParameterizedTest
  @EnumSource(ToyProblem.Kind.class)
  void factorsKeepTraceAndStaySymmetricPositiveDefinite(ToyProblem.Kind kind) {
    try (ToyProblem<TFloat64> p = new ToyProblem<>(kind, TFloat64.class, 12);
        Session s = new Session(p.graph)) {
      Fismo fismo = Fismo.builder().build(p.graph);
      Op step = fismo.minimize(p.loss);
      s.initialize();
      List<Variable<TFloat64>> matrices =
          p.params.stream().filter(v -> v.shape().numDimensions() >= 2).toList();
      for (int t = 1; t <= 500; t++) {
        p.run(s, step, false);
        for (Variable<TFloat64> v : matrices) {
          for (String slot : List.of("P", "Q")) {
            Variable<TFloat64> factor = fismo.getSlot(v.asOutput(), slot).orElseThrow();
            int d = (int) factor.shape().size(0);
            double[] f = Tensors.fetch(s, factor);
            String where = v.op().name() + "-" + slot + " after step " + t;
            double trace = 0;
            for (int i = 0; i < d; i++) {
              trace += f[i * d + i];
              for (int j = 0; j < i; j++) {
                assertEquals(f[i * d + j], f[j * d + i], 0.0, where + " is not symmetric");
              }
            }
            assertEquals(d, trace, 1e-10 * d, where + ": trace");
            assertTrue(Linalg.isPositiveDefinite(f, d), where + " is not positive definite");
          }
        }
      }
    }
  }

  /** Reference linear algebra for the property checks, on a separate graph. */
  static final class Linalg {
    private Linalg() {}

    /** A row-major matrix. */
    record Matrix(long rows, long cols, double[] data) {}

    /** F^{power} G Q^{power} for SPD F [m,m], Q [n,n] and G [m,n], all row-major. */
    static Matrix sandwich(double power, double[] f, long m, double[] g, long n, double[] q) {
      try (Graph graph = new Graph();
          Session s = new Session(graph)) {
        Ops tf = Ops.create(graph);
        Operand<TFloat64> left =
            power(tf, Tensors.constant(tf, TFloat64.class, new long[] {m, m}, f), power);
        Operand<TFloat64> right =
            power(tf, Tensors.constant(tf, TFloat64.class, new long[] {n, n}, q), power);
        Operand<TFloat64> mid = Tensors.constant(tf, TFloat64.class, new long[] {m, n}, g);
        return new Matrix(
            m, n, Tensors.fetch(s, tf.linalg.matMul(tf.linalg.matMul(left, mid), right)));
      }
    }

    private static Operand<TFloat64> power(Ops tf, Operand<TFloat64> a, double power) {
      SelfAdjointEig<TFloat64> eig = tf.linalg.selfAdjointEig(a, SelfAdjointEig.computeV(true));
      Operand<TFloat64> scaled = tf.math.mul(eig.v(), tf.math.pow(eig.e(), tf.constant(power)));
      return tf.linalg.matMul(scaled, eig.v(), MatMul.transposeB(true));
    }

    static double nuclearNorm(Matrix a) {
      double sum = 0;
      for (double v : singularValues(a)) {
        sum += v;
      }
      return sum;
    }

    static double spectralNorm(Matrix a) {
      return singularValues(a)[0];
    }

    private static double[] singularValues(Matrix a) {
      try (Graph graph = new Graph();
          Session s = new Session(graph)) {
        Ops tf = Ops.create(graph);
        Svd<TFloat64> svd =
            tf.linalg.svd(
                Tensors.constant(tf, TFloat64.class, new long[] {a.rows(), a.cols()}, a.data()),
                Svd.computeUv(false));
        return Tensors.fetch(s, svd.s());
      }
    }

    /** Cholesky factorisation succeeds with positive pivots. */
    static boolean isPositiveDefinite(double[] a, int d) {
      double[] l = new double[d * d];
      for (int j = 0; j < d; j++) {
        double diag = a[j * d + j];
        for (int k = 0; k < j; k++) {
          diag -= l[j * d + k] * l[j * d + k];
        }
        if (!(diag > 0)) {
          return false;
        }
        l[j * d + j] = Math.sqrt(diag);
        for (int i = j + 1; i < d; i++) {
          double v = a[i * d + j];
          for (int k = 0; k < j; k++) {
            v -= l[i * d + k] * l[j * d + k];
          }
          l[i * d + j] = v / l[j * d + j];
        }
      }
      return true;
    }
  }
}
