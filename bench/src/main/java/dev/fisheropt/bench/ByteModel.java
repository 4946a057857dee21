package dev.fisheropt.bench;

import dev.fisheropt.ops.NewtonSchulz;
import dev.fisheropt.optimizers.Frog;

/**
 * Bytes one training step moves on the bench MLP (float32), the memory side of the roofline beside
 * {@link FlopModel}.
 *
 * <p>Counting rule, the way TensorFlow's CPU executor runs a graph without XLA: every op reads each
 * of its tensor inputs once and writes its output once, nothing is fused and nothing stays in cache
 * between ops. An element-wise op over n floats with k tensor operands moves 4(k+1)n bytes (scalars
 * are free); a MatMul [a, b]·[b, c] moves 4(ab + bc + ac); a reduction reads its input. Per
 * parameter matrix W ∈ ℝ^{m×n}, P = mn:
 *
 * <ul>
 *   <li>forward and backward, per layer of n outputs at batch B: the MatMuls of {@link
 *       FlopModel#matMuls}, BiasAdd (8Bn) and BiasAddGrad's reduction (4Bn), and for the two hidden
 *       layers ReLU (8Bn) and ReluGrad (reads the gradient and the activation: 12Bn); the loss and
 *       its gradient over the B×10 logits are left out (some ten passes over 40 bytes per example,
 *       against 64w per example for the hidden layers' element-wise ops);
 *   <li>the guard, per gradient: IsFinite (reads 4, writes 1) and its reduction (1): 6P; per array
 *       the step writes: IsFinite + reduction (6), Select between new and old (reads 9, writes 4)
 *       and Assign (reads 4, writes 4): 27 bytes per entry;
 *   <li>Adam: m' = β₁m + (1−β₁)g (28P), v' = β₂v + (1−β₂)g² (36P), the denominator √v'/c + ε (24P),
 *       W − s·m'/den (32P), three guarded writes;
 *   <li>SGD with momentum: b' = βb + g (20P), W − ηb' (20P), two guarded writes;
 *   <li>Newton–Schulz on the wide orientation (a ≤ b): the normalisation (20ab, plus 16ab for the
 *       two transposes of a tall matrix), then per step X Xᵀ, its square, the two scalings, their
 *       sum, the product with X, aX and the sum: 36ab + 48a²;
 *   <li>Muon: the momentum (28P), the Nesterov blend (28P), Newton–Schulz, the shape scaling of a
 *       tall matrix (8P), the decoupled-decay step (40P), two guarded writes;
 *   <li>FISMO every step: two whitening sandwiches A·G·B (each 16P + 4m² + 4n²), the momentum
 *       (28P), Newton–Schulz, the step (40P), guarded writes of W, the momentum and the five factor
 *       arrays (P, P^{-1/2}: m²; Q, Q⁻¹, Q^{-1/2}: n²), which the step rewrites even when it does
 *       not refresh them; the refresh, every k steps: the two statistics G·X·Gᵀ (16P + 4m² + 4n²
 *       each, counted once for both) and, per factor of side s, the EMA, damping and trace
 *       normalisation (≈ 40s²), the eigendecomposition (reads and writes the matrix: 8s²) and two
 *       roots V·diag·Vᵀ (20s² each): ≈ 96s² per factor;
 *   <li>AdaFisher: the refresh reads the layer's inputs and output gradients and squares and
 *       averages them (12B(m + n)) every k steps; every step the Kronecker diagonal F̃ = h sᵀ + λ
 *       (12P), the momentum (28P), the bias-corrected division and the step (32P), two guarded
 *       writes; AdaFisherW adds the decoupled decay (20P);
 *   <li>FROG with r sampled rows and c CG iterations: the momentum (20P); the sample gathers and
 *       row weights (≈ 20rm + 60rn). With r + 1 &lt; m, in the row space (q = r, s = q + 1): the
 *       transpose and QR of X, Q' = [Q, 0], QᵀM and Q(QᵀM) (4P each, as MatMuls), b⊥ = M − … (12P),
 *       its column norms (12P), W' = XQ'; CG on [s, n] coordinates (as below with P → sn and X →
 *       W'); the normalisation in coordinates; the map back Q'C (4P), b⊥·a (8P) and the sum (12P);
 *       the step (28P), two guarded writes. Otherwise: CG's start (zeros 4P, ⟨b, b⟩ 16P); per
 *       iteration the operator X'(Λ ⊙ XV) + τV (28P + 8rm + 20rn) and the five column updates and
 *       dot products (92P); the normalisation ⟨Z, M⟩ (24P), the step (28P), two guarded writes.
 * </ul>
 *
 * Biases are left out, as in {@link FlopModel}.
 */
final class ByteModel {
  static final double FLOAT = 4;
  static final double GUARDED_WRITE = 27;
  static final double GUARDED_GRADIENT = 6;

  private ByteModel() {}

  /** An element-wise op over {@code n} floats with {@code operands} tensor inputs. */
  static double elementwise(int operands, double n) {
    return FLOAT * (operands + 1) * n;
  }

  /** A MatMul [a, b]·[b, c]. */
  static double matmul(double a, double b, double c) {
    return FLOAT * (a * b + b * c + a * c);
  }

  /** The element-wise ops of forward and backward (everything but their MatMuls). */
  static double elementwiseForwardBackward(int w, int batch) {
    long[][] kernels = FlopModel.kernels(w);
    double bytes = 0;
    for (int i = 0; i < kernels.length; i++) {
      double outputs = (double) batch * kernels[i][1];
      bytes += elementwise(1, outputs) + FLOAT * outputs;
      if (i < kernels.length - 1) {
        bytes += elementwise(1, outputs) + elementwise(2, outputs);
      }
    }
    return bytes;
  }

  static double adam(double p) {
    double compute = 28 * p + 36 * p + 24 * p + 32 * p;
    return compute + 3 * GUARDED_WRITE * p + GUARDED_GRADIENT * p;
  }

  static double momentum(double p) {
    return 20 * p + 20 * p + 2 * GUARDED_WRITE * p + GUARDED_GRADIENT * p;
  }

  static double newtonSchulz(long m, long n) {
    double a = Math.min(m, n);
    double b = Math.max(m, n);
    double normalise = 20 * a * b + (m > n ? 16 * a * b : 0);
    return normalise + NewtonSchulz.STEPS_DEFAULT * (36 * a * b + 48 * a * a);
  }

  static double muon(long m, long n) {
    double p = (double) m * n;
    double tallScale = m > n ? 8 * p : 0;
    return 28 * p
        + 28 * p
        + newtonSchulz(m, n)
        + tallScale
        + 40 * p
        + 2 * GUARDED_WRITE * p
        + GUARDED_GRADIENT * p;
  }

  static double fismo(long m, long n, int interval) {
    double p = (double) m * n;
    double mm = (double) m * m;
    double nn = (double) n * n;
    double sandwich = 16 * p + 4 * mm + 4 * nn;
    double everyStep =
        2 * sandwich
            + 28 * p
            + newtonSchulz(m, n)
            + 40 * p
            + GUARDED_WRITE * (2 * p + 2 * mm + 3 * nn)
            + GUARDED_GRADIENT * p;
    double refresh = 2 * (16 * p) + 4 * mm + 4 * nn + 96 * (mm + nn);
    return everyStep + refresh / interval;
  }

  static double adaFisher(long m, long n, int batch, int interval, boolean decoupledDecay) {
    double p = (double) m * n;
    double refresh = 12.0 * batch * (m + n);
    return refresh / interval
        + 12 * p
        + 28 * p
        + 32 * p
        + (decoupledDecay ? 20 * p : 0)
        + 2 * GUARDED_WRITE * p
        + GUARDED_GRADIENT * p;
  }

  static double frog(long m, long n, int batch, int cgIterations) {
    double p = (double) m * n;
    double r = Math.min(Frog.SAMPLE_SIZE_DEFAULT, batch);
    double sample = 20 * r * m + 60 * r * n;
    double step = 28 * p + 2 * GUARDED_WRITE * p + GUARDED_GRADIENT * p;
    if (!Frog.rowSpaceIsSmaller((long) r, m)) {
      return 20 * p
          + sample
          + conjugateGradient(p, r, m, n, cgIterations)
          + elementwise(2, p)
          + FLOAT * p
          + elementwise(1, p)
          + step;
    }
    double q = r;
    double s = q + 1;
    double basis =
        elementwise(1, r * m)
            + FLOAT * (r * m + m * q + q * r)
            + FLOAT * m
            + FLOAT * (m * q + m)
            + FLOAT * m * s;
    double rhs =
        matmul(q, m, n)
            + matmul(m, q, n)
            + elementwise(2, p)
            + elementwise(1, p)
            + FLOAT * (p + n)
            + elementwise(1, n)
            + FLOAT * (q * n + n + s * n);
    double reducedOperator = matmul(r, m, s);
    double normalise =
        elementwise(2, s * n) + FLOAT * s * n + elementwise(1, n) + elementwise(2, s * n);
    double expand =
        FLOAT * 2 * n + elementwise(2, n) + matmul(m, s, n) + elementwise(1, p) + elementwise(2, p);
    return 20 * p
        + sample
        + basis
        + rhs
        + reducedOperator
        + conjugateGradient(s * n, r, s, n, cgIterations)
        + normalise
        + expand
        + step;
  }

  /**
   * CG on [d, n] right-hand sides of e = d·n entries with X [r, d]: the start (zeros, ⟨b, b⟩) and
   * per iteration the operator X'(Λ ⊙ XV) + τV and the five column updates and dot products.
   */
  static double conjugateGradient(double e, double r, double d, double n, int iterations) {
    double operator =
        matmul(r, d, n)
            + elementwise(2, r * n)
            + matmul(d, r, n)
            + elementwise(1, e)
            + elementwise(2, e);
    double vectors =
        2 * (elementwise(2, e) + FLOAT * e) + 3 * (elementwise(1, e) + elementwise(2, e));
    return FLOAT * e + elementwise(2, e) + FLOAT * e + iterations * (operator + vectors);
  }

  /** Bytes of one update of the whole bench MLP at batch {@code batch}. */
  static double update(StepBench.Entry e, int w, int batch) {
    double bytes = 0;
    for (long[] k : FlopModel.kernels(w)) {
      long m = k[0];
      long n = k[1];
      double p = (double) m * n;
      bytes +=
          switch (e.choice()) {
            case ADAM -> adam(p);
            case MOMENTUM -> momentum(p);
            case MUON -> muon(m, n);
            case FISMO -> fismo(m, n, e.tuning().fismoInterval());
            case ADAFISHER -> adaFisher(m, n, batch, e.tuning().adaFisherInterval(), false);
            case ADAFISHERW -> adaFisher(m, n, batch, e.tuning().adaFisherInterval(), true);
            case FROG -> frog(m, n, batch, Frog.CG_ITERATIONS_DEFAULT);
          };
    }
    return bytes;
  }
}
