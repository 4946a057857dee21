package dev.fisheropt.bench;

import dev.fisheropt.ops.InverseRoots;
import dev.fisheropt.ops.KroneckerFactors;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.linalg.Qr;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * What FISMO's factor refresh could cost with each way of computing the inverse roots of an n×n SPD
 * factor (float32, CPU), measured in one run against the MatMul rate of the same run: the
 * eigendecomposition FISMO uses today (one factor; two independent ones in one run, which
 * TensorFlow's inter-op pool may overlap; the two as one batched op, which the kernel shards over
 * its threads), the matmul-only coupled Newton iteration from scratch, and one step of the
 * SOAP-style refinement that keeps the previous eigenbasis V and updates it by one QR of P·V (then
 * the roots from the Rayleigh quotients). Medians over rounds, the cases rotating.
 *
 * <p>{@code RootsBench [N [ROUNDS]]}
 */
public final class RootsBench {
  private RootsBench() {}

  private record Case(String label, Operand<TFloat32> op, int factors, double flops) {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = StepBench.variable(tf, n, n, 3);
      Operand<TFloat32> y = StepBench.variable(tf, n, n, 4);
      // Variables filled after initialization: an initializer cannot read another variable.
      Variable<TFloat32> a = zeros(tf, n);
      Variable<TFloat32> b = zeros(tf, n);
      Op fill =
          tf.withControlDependencies(
                  List.of(tf.assign(a, spd(tf, x, n)), tf.assign(b, spd(tf, y, n))))
              .noOp();
      Operand<TFloat32> matmul = tf.linalg.matMul(x, y);
      double cube = (double) n * n * n;
      double rootsFromEig = 2 * 2 * cube; // two V·diag·Vᵀ products
      List<Case> cases = new ArrayList<>();
      cases.add(new Case("eigh + roots, one factor", roots(tf, a), 1, 9 * cube + rootsFromEig));
      cases.add(
          new Case(
              "eigh + roots, two independent factors in one run",
              tf.math.add(roots(tf, a), roots(tf, b)),
              2,
              2 * (9 * cube + rootsFromEig)));
      Operand<TFloat32> both = tf.stack(List.of(a, b));
      SelfAdjointEig<TFloat32> batched =
          tf.linalg.selfAdjointEig(both, SelfAdjointEig.computeV(true));
      Operand<TFloat32> v = batched.v();
      Operand<TFloat32> lambda = tf.expandDims(batched.e(), tf.constant(1));
      Operand<TFloat32> batchedInverseSqrt =
          tf.train.batchMatMul(
              tf.math.mul(v, tf.math.rsqrt(lambda)), v, TFloat32.class, BatchMatMul.adjY(true));
      Operand<TFloat32> batchedInverse =
          tf.train.batchMatMul(
              tf.math.mul(v, tf.math.reciprocal(lambda)),
              v,
              TFloat32.class,
              BatchMatMul.adjY(true));
      cases.add(
          new Case(
              "eigh + roots, two factors as one batched op",
              sum(tf, batchedInverseSqrt, batchedInverse),
              2,
              2 * (9 * cube + rootsFromEig)));
      InverseRoots.NewtonRoots<TFloat32> newton = InverseRoots.newton(tf, a);
      cases.add(
          new Case(
              "coupled Newton from scratch (up to 50 iterations)",
              sum(tf, newton.inverseSqrt(), newton.inverse()),
              1,
              Double.NaN));
      Operand<TFloat32> basis =
          tf.linalg.selfAdjointEig(b, SelfAdjointEig.computeV(true)).v(); // a previous basis
      Variable<TFloat32> basisVar = zeros(tf, n);
      Op keepBasis = tf.assign(basisVar, basis);
      Qr<TFloat32> qr = tf.linalg.qr(tf.linalg.matMul(a, basisVar));
      Operand<TFloat32> q = qr.q();
      Operand<TFloat32> rayleigh =
          tf.linalg.matrixDiagPart(
              tf.linalg.matMul(q, tf.linalg.matMul(a, q), MatMul.transposeA(true)),
              tf.constant(0),
              tf.constant(0f));
      Operand<TFloat32> refinedRoot =
          tf.linalg.matMul(
              tf.math.mul(q, tf.math.rsqrt(tf.math.maximum(rayleigh, tf.constant(1e-30f)))),
              q,
              MatMul.transposeB(true));
      cases.add(
          new Case(
              "kept basis: one QR power step + Rayleigh root P^-1/2",
              sum(tf, refinedRoot, refinedRoot),
              1,
              2 * cube + 4.0 / 3 * cube * 2 + 4 * cube + 2 * cube));
      try (Session s = new Session(g)) {
        s.initialize();
        s.runner().addTarget(fill).run();
        s.runner().addTarget(keepBasis).run();
        time(s, matmul, 3);
        for (Case c : cases) {
          time(s, c.op(), 1);
        }
        double[] matmulTimes = new double[rounds];
        double[][] times = new double[cases.size()][rounds];
        for (int r = 0; r < rounds; r++) {
          matmulTimes[r] = time(s, matmul, 5);
          for (int k = 0; k < cases.size(); k++) {
            int i = (k + r) % cases.size();
            times[i][r] = time(s, cases.get(i).op(), 2);
          }
        }
        double rate = 2 * cube / StepBench.median(matmulTimes);
        System.out.printf(
            Locale.ROOT,
            "# n = %d, float32, %d rounds; MatMul %dx%d: %.1f GFLOP/s%n",
            n,
            rounds,
            n,
            n,
            rate / 1e9);
        System.out.println(
            "| method | ms per run | ms per factor | FLOP model (GFLOP per run) | % of MatMul rate"
                + " |");
        System.out.println("|---|---|---|---|---|");
        for (int i = 0; i < cases.size(); i++) {
          Case c = cases.get(i);
          double t = StepBench.median(times[i]);
          System.out.printf(
              Locale.ROOT,
              "| %s | %.1f | %.1f | %s | %s |%n",
              c.label(),
              1e3 * t,
              1e3 * t / c.factors(),
              Double.isNaN(c.flops()) ? "–" : String.format(Locale.ROOT, "%.2f", c.flops() / 1e9),
              Double.isNaN(c.flops())
                  ? "–"
                  : String.format(Locale.ROOT, "%.0f %%", 100 * c.flops() / rate / t));
        }
      }
    }
  }

  /** (X Xᵀ)/n + I: a well-conditioned SPD matrix like a damped, trace-normalised factor. */
  private static Operand<TFloat32> spd(Ops tf, Operand<TFloat32> x, int n) {
    return tf.math.add(
        tf.math.div(tf.linalg.matMul(x, x, MatMul.transposeB(true)), tf.constant((float) n)),
        KroneckerFactors.identity(tf, n, TFloat32.class));
  }

  private static Variable<TFloat32> zeros(Ops tf, int n) {
    return tf.variable(tf.zeros(tf.constant(new long[] {n, n}), TFloat32.class));
  }

  private static Operand<TFloat32> roots(Ops tf, Operand<TFloat32> a) {
    InverseRoots.Roots<TFloat32> r = InverseRoots.eigh(tf, a);
    return sum(tf, r.inverseSqrt(), r.inverse());
  }

  /** A scalar that needs both tensors, fetched so that the run computes them. */
  private static Operand<TFloat32> sum(Ops tf, Operand<TFloat32> u, Operand<TFloat32> w) {
    return tf.math.add(tf.reduceSum(u, axes(tf, u)), tf.reduceSum(w, axes(tf, w)));
  }

  private static Operand<TInt32> axes(Ops tf, Operand<TFloat32> t) {
    return tf.range(tf.constant(0), tf.rank(t), tf.constant(1));
  }

  private static double time(Session s, Operand<?> fetched, int runs) {
    long t0 = System.nanoTime();
    for (int i = 0; i < runs; i++) {
      s.runner().fetch(fetched).run().close();
    }
    return (System.nanoTime() - t0) / 1e9 / runs;
  }
}
