package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PolarExpressTest {
  /** The coefficients printed in the Polar Express paper (ℓ = 1e-3, before the safety factor). */
  private static final double[][] PUBLISHED = {
    {8.28721201814563, -23.595886519098837, 17.300387312530933},
    {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
    {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
    {3.3184196573706015, -2.488488024314874, 0.51004894012372},
    {2.300652019954817, -1.6689039845747493, 0.4188073119525673},
    {1.891301407787398, -1.2679958271945868, 0.37680408948524835},
    {1.8750014808534479, -1.2500016453999487, 0.3750001645474248},
    {1.875, -1.25, 0.375}
  };

  @Test
  void reproducesThePublishedSchedule() {
    double[][] computed = PolarExpress.coefficients(1e-3, PUBLISHED.length);
    for (int t = 0; t < PUBLISHED.length; t++) {
      for (int i = 0; i < 3; i++) {
        assertEquals(
            PUBLISHED[t][i],
            computed[t][i],
            1e-8 * Math.abs(PUBLISHED[t][i]),
            "iteration " + t + ", coefficient " + i);
      }
    }
  }

  @Test
  void fiveIterationsMapTheDesignIntervalCloserToOneThanMuonsQuintic() {
    double[][] express = PolarExpress.coefficients(1e-3, 5);
    double[] muon = {NewtonSchulz.A_DEFAULT, NewtonSchulz.B_DEFAULT, NewtonSchulz.C_DEFAULT};
    double worstExpress = 0;
    double worstMuon = 0;
    for (int i = 0; i <= 100_000; i++) {
      double x = 1e-3 + (1 - 1e-3) * i / 100_000.0;
      double e = x;
      double m = x;
      for (double[] p : express) {
        e = apply(p, e);
        m = apply(muon, m);
      }
      worstExpress = Math.max(worstExpress, Math.abs(1 - e));
      worstMuon = Math.max(worstMuon, Math.abs(1 - m));
    }
    // The paper's construction: after five steps every value lies within 0.124 of 1; Muon's
    // quintic leaves some near 0.7.
    assertTrue(worstExpress < 0.125, "Polar Express worst error " + worstExpress);
    assertTrue(worstMuon > 0.25, "Muon's quintic worst error " + worstMuon);
  }

  @Test
  void safetyEvaluatesThePolynomialAtAShrunkArgument() {
    double[][] p = {{3, -2, 0.5}};
    double[][] safe = PolarExpress.withSafety(p, 1.01);
    double x = 0.7;
    assertEquals(apply(p[0], x / 1.01), apply(safe[0], x), 1e-15);
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> PolarExpress.coefficients(0, 5));
    assertThrows(IllegalArgumentException.class, () -> PolarExpress.coefficients(1, 5));
    assertThrows(IllegalArgumentException.class, () -> PolarExpress.coefficients(1e-3, 0));
    IllegalArgumentException safety =
        assertThrows(
            IllegalArgumentException.class,
            () -> PolarExpress.withSafety(new double[][] {{1, 0, 0}}, 0.9));
    assertTrue(safety.getMessage().contains("safety"), safety.getMessage());
  }

  private static double apply(double[] p, double x) {
    return p[0] * x + p[1] * x * x * x + p[2] * x * x * x * x * x;
  }
}
