package dev.fisheropt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The byte model against op-by-op hand counts on small shapes. */
class ByteModelTest {
  private static double ew(int operands, double n) {
    return ByteModel.elementwise(operands, n);
  }

  @Test
  void countingRule() {
    assertEquals(4 * 3 * 10, ew(2, 10));
    assertEquals(4 * (2 * 3 + 3 * 5 + 2 * 5), ByteModel.matmul(2, 3, 5));
  }

  @Test
  void newtonSchulzOnAWideAndATallTwoByThree() {
    double normalise = ew(1, 6) + 4 * 6 + ew(1, 6); // square, its sum, division
    double step =
        ByteModel.matmul(2, 3, 2) // A = X Xᵀ
            + ByteModel.matmul(2, 2, 2) // A²
            + ew(1, 4) // bA
            + ew(1, 4) // cA²
            + ew(2, 4) // their sum
            + ByteModel.matmul(2, 2, 3) // (bA + cA²) X
            + ew(1, 6) // aX
            + ew(2, 6); // the sum
    assertEquals(normalise + 5 * step, ByteModel.newtonSchulz(2, 3));
    double transposes = 2 * (4 * 6 + 4 * 6);
    assertEquals(normalise + transposes + 5 * step, ByteModel.newtonSchulz(3, 2));
  }

  @Test
  void adamOnSixParameters() {
    double p = 6;
    double m = ew(1, p) + ew(1, p) + ew(2, p); // β₁m, (1−β₁)g, sum
    double v = ew(1, p) + ew(1, p) + ew(1, p) + ew(2, p); // g², β₂v, (1−β₂)g², sum
    double denominator = ew(1, p) + ew(1, p) + ew(1, p); // √v', ÷ c, + ε
    double step = ew(2, p) + ew(1, p) + ew(2, p); // m'/den, × s, W − …
    // IsFinite reads 4 and writes 1 byte per entry, its reduction reads 1, Select reads 4 + 4 + 1
    // and writes 4, Assign reads 4 and writes 4.
    double guardedWrite = (4 + 1) * p + p + (9 + 4) * p + (4 + 4) * p;
    assertEquals(27 * p, guardedWrite);
    double gradientCheck = 5 * p + p;
    assertEquals(m + v + denominator + step + 3 * guardedWrite + gradientCheck, ByteModel.adam(p));
  }

  /** One CG iteration on [d, n] systems with r rows: the operator and the vector updates. */
  private static double cgIteration(double r, double d, double n) {
    double e = d * n;
    double operator =
        ByteModel.matmul(r, d, n) // X V
            + ew(2, r * n) // Λ ⊙ XV
            + ByteModel.matmul(d, r, n) // Xᵀ (…)
            + ew(1, e) // τ V (τ a row: free)
            + ew(2, e); // the sum
    double dot = ew(2, e) + 4 * e; // product and column sum
    return operator
        + dot // ⟨p, Ap⟩
        + ew(1, e)
        + ew(2, e) // x + αp
        + ew(1, e)
        + ew(2, e) // r − αAp
        + dot // ⟨r', r'⟩
        + ew(1, e)
        + ew(2, e); // r' + βp
  }

  /**
   * One CG iteration of FROG on an m×n kernel with a sample of r rows: on the full [m, n] systems
   * when r + 1 ≥ m, else on [r + 1, n] row-space coordinates whose operator rows are W' = XQ', [r,
   * r + 1].
   */
  @ParameterizedTest(name = "{0}x{1} kernel, {2} rows")
  @CsvSource({"4, 3, 4, 4", "6, 3, 2, 3"})
  void frogConjugateGradientIteration(long m, long n, int rows, double systemRows) {
    assertEquals(
        cgIteration(rows, systemRows, n),
        ByteModel.frog(m, n, rows, 1) - ByteModel.frog(m, n, rows, 0),
        1e-9);
  }

  @Test
  void frogsUpdateIsMemoryBoundAndMuonsIsNot() {
    StepBench.Entry frog = StepBench.select("FROG").get(1);
    StepBench.Entry muon = StepBench.select("Muon").get(1);
    double frogIntensity = FlopModel.update(frog, 1024, 512) / ByteModel.update(frog, 1024, 512);
    double muonIntensity = FlopModel.update(muon, 1024, 1024) / ByteModel.update(muon, 1024, 512);
    assertTrue(frogIntensity < 1, "FROG FLOP per byte " + frogIntensity);
    assertTrue(muonIntensity > 20, "Muon FLOP per byte " + muonIntensity);
  }
}
