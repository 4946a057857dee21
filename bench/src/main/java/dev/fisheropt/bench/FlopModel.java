package dev.fisheropt.bench;

import dev.fisheropt.examples.OptimizerChoice;
import dev.fisheropt.optimizers.Frog;
import java.util.ArrayList;
import java.util.List;

/**
 * FLOP counts of one step on the MLP 784→w→w→10 (the bench model), for predicting step-time ratios.
 *
 * <p>Forward + backward: the MatMuls that run, 2·B·m·n FLOPs each: per kernel the forward product
 * and the kernel gradient, and the input gradient for every kernel but the first (the gradient with
 * respect to the fed images is built but feeds nothing, so the session prunes it): 6·B·Σ m·n −
 * 2·B·784·w. Element-wise work (bias, ReLU, the loss) is left out: memory-bound, see {@link
 * ByteModel}. Updates, per kernel W ∈ ℝ^{m×n}, a = min(m,n), b = max(m,n):
 *
 * <ul>
 *   <li>Adam ≈ 12 per parameter, SGD+momentum ≈ 3 (element-wise; memory-bound in practice);
 *   <li>Newton–Schulz, 5 steps on the wide orientation: 5·(4a²b + 2a³);
 *   <li>Muon = Newton–Schulz + momentum (≈ 6 per parameter);
 *   <li>FISMO refresh: L = G·Q⁻¹·Gᵀ and R = Gᵀ·P⁻¹·G, 4(m²n + mn²); two eigendecompositions,
 *       counted as 9m³ + 9n³ (the usual count for a symmetric eigensolver with vectors); the roots
 *       P^{-1/2}, Q^{-1/2}, Q⁻¹ (and P⁻¹) as V·diag·Vᵀ, 4(m³ + n³);
 *   <li>FISMO every step: whitening P^{-1/2}·G·Q^{-1/2} and un-whitening, 4(m²n + mn²), plus
 *       Newton–Schulz; with interval k the refresh counts 1/k.
 *   <li>AdaFisher: the refresh (every k steps) squares and averages the layer inputs and the output
 *       gradients over the batch, 2·B·(m + n), and min-max normalises and averages the two vectors,
 *       O(m + n); every step F̃ = H_D ⊗ S_D + λ (2 per parameter), the momentum (3), the bias
 *       correction, division and step (4): ≈ 9 per parameter; AdaFisherW adds the decoupled decay
 *       (2);
 *   <li>FROG with r = min(sample size, B) rows and c CG steps: the momentum (2 per parameter); the
 *       row weights Λ̂ from the r output-gradient rows and input norms, O(r·(m + n)). A kernel with
 *       r + 1 &lt; m rows solves in the row space of the sample ({@code Frog.solveInRowSpace}, q =
 *       r, s = q + 1): the QR of Xᵀ (4mr²), W' = XQ' (2rms), Qᵀ·M and M − Q(QᵀM) (4qmn + mn), the
 *       column norms of the rest (2mn), c CG steps on [s, n] coordinates, c·(4rsn + rn + 10sn), the
 *       normalisation in coordinates (3sn) and the map back Q'C + b⊥·a (2smn + 2mn); the step (3
 *       per parameter). Otherwise each CG step applies Σ_i Λ̂_ij x_i x_iᵀ to all columns as X·P
 *       (2rmn), a scaling by Λ̂ (rn) and Xᵀ·(…) (2rmn), plus two column dot products and three
 *       axpys (10 per parameter): c·(4rmn + 10mn); the normalisation ⟨Z_j, M_j⟩, division and step:
 *       6 per parameter.
 * </ul>
 *
 * Biases (and the fallback's Adam on them) are negligible and left out.
 */
final class FlopModel {
  private FlopModel() {}

  static long[][] kernels(int w) {
    return new long[][] {{784, w}, {w, w}, {w, 10}};
  }

  /** The MatMuls of forward and backward as {a, b, c} for [a, b]·[b, c]. */
  static List<long[]> matMuls(int w, int batch) {
    List<long[]> products = new ArrayList<>();
    long[][] kernels = kernels(w);
    for (int i = 0; i < kernels.length; i++) {
      long m = kernels[i][0];
      long n = kernels[i][1];
      products.add(new long[] {batch, m, n});
      products.add(new long[] {m, batch, n});
      if (i > 0) {
        products.add(new long[] {batch, n, m});
      }
    }
    return products;
  }

  static double matMul(long[] shape) {
    return 2.0 * shape[0] * shape[1] * shape[2];
  }

  static double forwardBackward(int w, int batch) {
    double f = 0;
    for (long[] shape : matMuls(w, batch)) {
      f += matMul(shape);
    }
    return f;
  }

  static double newtonSchulz(long m, long n) {
    double a = Math.min(m, n);
    double b = Math.max(m, n);
    return 5 * (4 * a * a * b + 2 * a * a * a);
  }

  static double fismoRefresh(long m, long n) {
    double mm = m;
    double nn = n;
    return 4 * (mm * mm * nn + mm * nn * nn)
        + 9 * (mm * mm * mm + nn * nn * nn)
        + 4 * (mm * mm * mm + nn * nn * nn);
  }

  /**
   * FLOPs of one update of the whole model at batch {@code batch} (AdaFisher and FROG depend on
   * it).
   */
  static double update(StepBench.Entry e, int w, int batch) {
    double f = 0;
    for (long[] k : kernels(w)) {
      long m = k[0];
      long n = k[1];
      double params = (double) m * n;
      f +=
          switch (e.choice()) {
            case ADAM -> 12 * params;
            case MOMENTUM -> 3 * params;
            case MUON -> newtonSchulz(m, n) + 6 * params;
            case FISMO ->
                newtonSchulz(m, n)
                    + 4 * ((double) m * m * n + (double) m * n * n)
                    + fismoRefresh(m, n) / e.tuning().fismoInterval()
                    + 6 * params;
            case ADAFISHER ->
                adaFisherRefresh(m, n, batch) / OptimizerChoice.Tuning.ADAFISHER_INTERVAL
                    + 9 * params;
            case ADAFISHERW ->
                adaFisherRefresh(m, n, batch) / OptimizerChoice.Tuning.ADAFISHER_INTERVAL
                    + 11 * params;
            case FROG -> frog(m, n, batch);
          };
    }
    return f;
  }

  static double frog(long m, long n, int batch) {
    double params = (double) m * n;
    double r = Math.min(Frog.SAMPLE_SIZE_DEFAULT, batch);
    double c = Frog.CG_ITERATIONS_DEFAULT;
    double rowWeights = 4 * r * (m + n);
    if (!Frog.rowSpaceIsSmaller((long) r, m)) {
      return 2 * params + rowWeights + c * (4 * r * params + r * n + 10 * params) + 6 * params;
    }
    double q = r;
    double s = q + 1;
    return 2 * params
        + rowWeights
        + 4 * m * r * r
        + 2 * r * m * s
        + 4 * q * params
        + params
        + 2 * params
        + c * (4 * r * s * n + r * n + 10 * s * n)
        + 3 * s * n
        + 2 * s * params
        + 2 * params
        + 3 * params;
  }

  static double adaFisherRefresh(long m, long n, int batch) {
    return 2.0 * batch * (m + n) + 10.0 * (m + n);
  }

  /** Predicted (forward+backward+update) ÷ Adam's, all at one FLOP rate. */
  static double stepRatio(StepBench.Entry e, int w, int batch) {
    return stepRatio(e, StepBench.ENTRIES.get(0), w, batch);
  }

  /**
   * Predicted (forward+backward+update of {@code e}) ÷ that of {@code base}, all at one FLOP rate.
   */
  static double stepRatio(StepBench.Entry e, StepBench.Entry base, int w, int batch) {
    double fb = forwardBackward(w, batch);
    return (fb + update(e, w, batch)) / (fb + update(base, w, batch));
  }
}
