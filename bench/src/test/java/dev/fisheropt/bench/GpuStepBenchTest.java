package dev.fisheropt.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The GPU step benchmark runs end to end on CPU at a tiny size and reports what the lead records.
 */
class GpuStepBenchTest {
  @Test
  void runsEveryOptimizerWithAndWithoutXlaAndReportsPlacementAndRatios() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    List<GpuStepBench.Measurement> ms =
        GpuStepBench.run(
            GpuStepBench.Settings.parse(
                "--optimizers",
                "adam,muon,fismo-eigh,fismo-newton",
                "--width",
                "16",
                "--depth",
                "1",
                "--batch",
                "8",
                "--classes",
                "4",
                "--xla",
                "off,on",
                "--warmup",
                "1",
                "--steps",
                "3"),
            new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(8, ms.size());
    for (GpuStepBench.Measurement m : ms) {
      assertTrue(m.medianMillis() > 0 && m.minMillis() <= m.medianMillis(), m.toString());
      assertTrue(
          m.placement().opCountsByDevice().keySet().stream().anyMatch(d -> d.endsWith("CPU:0")),
          out);
      assertEquals(m.xla(), m.placement().compiled(), m.optimizer() + " xla=" + m.xla());
      if (m.xla() && m.optimizer().equals("fismo-newton")) {
        assertEquals(List.of(), m.updateOpsOutsideClusters());
        assertEquals(List.of(), m.stepOpsOutsideClusters());
      }
      if (m.xla() && m.optimizer().equals("adam")) {
        assertTrue(
            m.stepOpsOutsideClusters().stream().anyMatch(o -> o.endsWith("(ApplyAdam)")),
            m.stepOpsOutsideClusters().toString());
      }
      if (m.xla() && m.optimizer().equals("fismo-eigh")) {
        assertTrue(
            m.updateOpsOutsideClusters().stream().allMatch(o -> o.endsWith("(SelfAdjointEigV2)")),
            m.updateOpsOutsideClusters().toString());
      }
    }
    assertTrue(out.contains("# TF32: "), out);
    assertTrue(out.contains("fismo-newton | on | "), out);
    assertTrue(out.contains("ops on /job:localhost/replica:0/task:0/device:CPU:0"), out);
  }

  @Test
  void rejectsUnknownOptimizersAndOptions() {
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () -> GpuStepBench.Settings.parse("--optimizers", "sgd"));
    assertTrue(unknown.getMessage().contains("sgd"));
    assertThrows(IllegalArgumentException.class, () -> GpuStepBench.Settings.parse("--widht", "8"));
    assertThrows(
        IllegalArgumentException.class, () -> GpuStepBench.Settings.parse("--xla", "maybe"));
  }
}
