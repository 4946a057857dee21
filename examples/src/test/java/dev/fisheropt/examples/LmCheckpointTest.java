package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.InverseRoot;
import dev.fisheropt.optimizers.Polar;
import dev.fisheropt.savedmodel.TrainingExport;
import dev.fisheropt.testing.Graphs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.buffer.ByteDataBuffer;
import org.tensorflow.op.Op;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The language model trains, is exported with {@link TrainingExport} mid-run (parameters, optimizer
 * state, step counter and thus the schedule's position), resumes in a fresh JVM from the export
 * alone, and ends bit-identical to the run that never stopped.
 */
class LmCheckpointTest {
  private static final Gpt.Size SIZE = new Gpt.Size(16, 1, 2, 8, 4);
  private static final long SEED = 3;
  private static final int STEPS = 12;
  private static final int EXPORT_AT = 5;

  @TempDir Path dir;

  static String hex(Tensor t) {
    ByteDataBuffer data = t.asRawTensor().data();
    byte[] bytes = new byte[(int) data.size()];
    data.read(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  /**
   * AdaFisher: its state is what the language model adds to the resume tests of the savedmodel
   * module (factors of rank-3 dense layers and of LayerNorms); FISMO's and FROG's resume is tested
   * there, and a fresh JVM per optimizer would cost tens of seconds each.
   */
  @Test
  void resumesInAFreshJvmBitIdentically() throws IOException, InterruptedException {
    OptimizerChoice choice = OptimizerChoice.ADAFISHER;
    Path data = dir.resolve("data");
    LanguageModelCompareTest.writeCorpus(data, 1);
    Fortunes.Corpus corpus = Fortunes.load(data);
    Map<String, String> uninterrupted = new TreeMap<>();
    Path export = dir.resolve("export");
    try (Graph g = new Graph()) {
      Gpt<TFloat32> model = new Gpt<>(g, TFloat32.class, SIZE, corpus.vocabularySize(), SEED);
      // factors refreshed every 3 steps, so refreshes happen on both sides of the export
      OptimizerChoice.Tuning tuning =
          new OptimizerChoice.Tuning(
                  3, 3, 0.92, 0.08, Polar.NEWTON_SCHULZ, InverseRoot.EIGH, Double.NaN)
              .withFallbackLearningRate(3e-3);
      GuardedOptimizer optimizer =
          choice.build(
              g,
              choice.layersOf(model),
              model.fallbackMatrices(),
              Schedule.warmupCosine(LanguageModelCompare.DEFAULT_RATES.get(choice), 2, STEPS, 1e-4),
              tuning);
      Op step = optimizer.minimize(model.loss());
      try (Session s = new Session(g)) {
        s.initialize();
        TrainingExport exporter =
            TrainingExport.builder(s)
                .input("inputs", model.trainInputs())
                .label("targets", model.trainTargets())
                .prediction("logits", model.logits())
                .loss(model.loss())
                .step(step)
                .build();
        for (int i = 0; i < STEPS; i++) {
          if (i == EXPORT_AT) {
            exporter.export(export, false);
          }
          int[][] b = LanguageModelCompare.batch(corpus.train(), SEED, i, SIZE);
          try (TInt32 x = LanguageModelCompare.tokens(b[0], SIZE.batch(), SIZE.context());
              TInt32 y = LanguageModelCompare.tokens(b[1], SIZE.batch(), SIZE.context())) {
            s.runner()
                .feed(model.trainInputs(), x)
                .feed(model.trainTargets(), y)
                .addTarget(exporter.trainOutput())
                .run()
                .close();
          }
        }
        for (String name : Graphs.variableNames(g)) {
          try (Tensor t = s.runner().fetch(name).run().get(0)) {
            uninterrupted.put(name, hex(t));
          }
        }
      }
    }
    Path dump = dir.resolve("resumed.txt");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(
        List.of("-cp", System.getProperty("java.class.path"), LmResumeMain.class.getName()));
    command.addAll(
        List.of(
            export.toString(),
            data.toString(),
            Long.toString(SEED),
            Integer.toString(EXPORT_AT),
            Integer.toString(STEPS - EXPORT_AT),
            dump.toString(),
            Integer.toString(SIZE.dModel()),
            Integer.toString(SIZE.layers()),
            Integer.toString(SIZE.heads()),
            Integer.toString(SIZE.context()),
            Integer.toString(SIZE.batch())));
    Path log = dir.resolve("child.log");
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the fresh JVM timed out");
    assertEquals(0, p.exitValue(), Files.readString(log));
    Map<String, String> resumed = new TreeMap<>();
    for (String line : Files.readAllLines(dump)) {
      String[] parts = line.split(" ");
      resumed.put(parts[0], parts.length > 1 ? parts[1] : "");
    }
    assertEquals(uninterrupted.keySet(), resumed.keySet());
    // the step counter, which the schedule reads, travels with the export
    assertTrue(
        uninterrupted.keySet().stream().anyMatch(n -> n.endsWith("/step")),
        uninterrupted.keySet().toString());
    assertTrue(uninterrupted.containsKey("block0/attn/query/kernel"));
    for (String name : uninterrupted.keySet()) {
      assertEquals(uninterrupted.get(name), resumed.get(name), name);
    }
  }
}
