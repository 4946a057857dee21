package dev.fisheropt.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.optimizers.GuardedOptimizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TNumber;

/**
 * Export during training, reload, keep training and serve, for every optimizer of {@link
 * OptimizerCase#all()}: the export carries the complete optimizer state, so training resumed from
 * it in another JVM is the training that never stopped.
 */
class TrainingExportTest {
  /** Steps before the export. */
  static final int BEFORE = 4;

  /** Steps after the reload. */
  static final int AFTER = 3;

  @TempDir Path tmp;

  static Stream<OptimizerCase> cases() {
    return OptimizerCase.all().stream();
  }

  /** Framework Adam races with itself (see {@link OptimizerCase#all()}); ours must not. */
  static Stream<OptimizerCase> deterministicCases() {
    return OptimizerCase.all().stream().filter(OptimizerCase::deterministic);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("deterministicCases")
  void trainingResumedInAFreshJvmEqualsTheUninterruptedRunBitForBit(OptimizerCase c)
      throws Exception {
    VariableDump atExport;
    Path export = tmp.resolve("export");
    try (TrainingProblem p = new TrainingProblem(c)) {
      p.train(0, BEFORE);
      atExport = VariableDump.of(p.session);
      p.export.export(export, false);
    }
    VariableDump uninterrupted;
    try (TrainingProblem p = new TrainingProblem(c)) {
      p.train(0, BEFORE + AFTER);
      uninterrupted = VariableDump.of(p.session);
    }

    Path dump = tmp.resolve("resumed.bin");
    Path reExport = tmp.resolve("re-export");
    Processes.Outcome child =
        Processes.java(
            ResumeMain.class,
            List.of(
                export.toString(), "" + BEFORE, "" + AFTER, dump.toString(), reExport.toString()),
            180);
    assertTrue(child.ok(), () -> "the resuming JVM failed:\n" + child.tail());

    VariableDump resumed = VariableDump.read(dump);
    assertEquals(
        List.of(),
        resumed.differencesFrom(uninterrupted),
        c
            + ": variables after "
            + BEFORE
            + " steps + export + reload + "
            + AFTER
            + " steps differ from "
            + (BEFORE + AFTER)
            + " uninterrupted steps");
    assertFalse(resumed.differencesFrom(atExport).isEmpty(), "the train signature changed nothing");
    try (TrainingBundle again = TrainingBundle.load(reExport)) {
      assertEquals(
          List.of(),
          VariableDump.of(again.session()).differencesFrom(resumed),
          "the export made after resuming holds the resumed state");
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theExportHoldsEverySlotCounterAndHyperparameterByStableNameWithTheSavedValues(
      OptimizerCase c) throws Exception {
    Path export = tmp.resolve("export");
    try (TrainingProblem p = new TrainingProblem(c)) {
      p.train(0, BEFORE);
      VariableDump saved = VariableDump.of(p.session);
      p.export.export(export, false);
      try (TrainingBundle model = TrainingBundle.load(export)) {
        List<String> names = model.variableNames();
        List<String> params = p.params.stream().map(v -> v.op().name()).toList();
        for (String param : params) {
          assertTrue(
              names.stream().anyMatch(n -> n.startsWith(param + "-")),
              () -> "no slot '" + param + "-<slot>' in " + names);
        }
        if (p.optimizer instanceof GuardedOptimizer g) {
          assertEquals(
              expectedVariables(params, g), new TreeSet<>(names), "variables of the export");
          assertEquals(
              (double) BEFORE,
              VariableDump.of(model.session())
                  .values()
                  .get(g.getOptimizerName() + "/step")
                  .asDoubles()[0],
              "the step counter");
        }
        assertEquals(saved.values().keySet(), new TreeSet<>(names));
        assertEquals(
            List.of(),
            VariableDump.of(model.session()).differencesFrom(saved),
            "restored values differ from the saved ones");
      }
    }
  }

  /**
   * Parameters, {@code <parameter>-<slot>} slots, step and skip counters and hyperparameter
   * variables: nothing else.
   */
  private static Set<String> expectedVariables(List<String> params, GuardedOptimizer g) {
    Set<String> expected = new TreeSet<>(params);
    for (Variable<?> slot : g.slotVariables()) {
      String name = slot.op().name();
      assertTrue(
          params.stream().anyMatch(p -> name.startsWith(p + "-")),
          () -> "slot " + name + " is not named <variable>-<slot>");
      expected.add(name);
    }
    expected.add(g.stepCount().op().name());
    expected.add(g.skippedSteps().op().name());
    assertEquals(g.getOptimizerName() + "/step", g.stepCount().op().name());
    assertEquals(g.getOptimizerName() + "/skipped_steps", g.skippedSteps().op().name());
    g.skippedStepsByCause()
        .forEach(
            (cause, counter) -> {
              assertEquals(g.getOptimizerName() + "/" + cause.counterName(), counter.op().name());
              expected.add(counter.op().name());
            });
    for (Map.Entry<String, Operand<? extends TNumber>> h : g.hyperparameters().entrySet()) {
      // A schedule is ops on the step counter, not a variable of its own.
      if (h.getValue().op().type().equals("VariableV2")) {
        assertEquals(g.getOptimizerName() + "/" + h.getKey(), h.getValue().op().name());
        expected.add(h.getValue().op().name());
      }
    }
    return expected;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theServeSignatureOfTheReloadedExportPredictsWhatTheLiveSessionPredicts(OptimizerCase c)
      throws Exception {
    Path export = tmp.resolve("export");
    try (TrainingProblem p = new TrainingProblem(c);
        TFloat32 x = TrainingProblem.features(99)) {
      p.train(0, BEFORE);
      p.export.export(export, false);
      List<Float> live = new ArrayList<>();
      try (Result r = p.session.runner().feed(p.x, x).fetch(p.logits).run()) {
        ((TFloat32) r.get(0)).scalars().forEach(s -> live.add(s.getFloat()));
      }
      List<Float> served = new ArrayList<>();
      try (TrainingBundle model = TrainingBundle.load(export);
          Result r = model.serve(Map.of(TrainingProblem.X, x))) {
        assertEquals(Set.of(TrainingProblem.LOGITS), r.keySet());
        ((TFloat32) r.get(TrainingProblem.LOGITS).orElseThrow())
            .scalars()
            .forEach(s -> served.add(s.getFloat()));
        assertEquals(List.of(TrainingExport.SERVE, TrainingExport.TRAIN), model.signatureKeys());
      }
      assertEquals(TrainingProblem.BATCH * TrainingProblem.CLASSES, live.size());
      assertEquals(live, served);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theTrainSignatureReturnsTheBatchLossBeforeItsStepLiveAndReloaded(OptimizerCase c)
      throws Exception {
    Path export = tmp.resolve("export");
    try (TrainingProblem p = new TrainingProblem(c)) {
      p.train(0, BEFORE);
      p.export.export(export, false);
      float before = loss(p, p.loss, BEFORE);
      float trained = loss(p, p.export.trainOutput(), BEFORE);
      float after = loss(p, p.loss, BEFORE);
      // Within float32 rounding, not bitwise: with AdaFisher the two runs differed in the last bit.
      // The step's graph also reads the layers' activations, so Grappler is free to rewrite the
      // forward ops differently from the loss-only run.
      float rounding = 1e-6f * Math.abs(before);
      assertEquals(before, trained, rounding, "the live train output is the loss before the step");
      assertTrue(Math.abs(after - before) > 10 * rounding, "the train output ran the step");
      Map<String, Tensor> feeds = TrainingProblem.trainFeeds(BEFORE);
      try (TrainingBundle model = TrainingBundle.load(export);
          Result r = model.train(feeds)) {
        assertEquals(Set.of(TrainingExport.LOSS), r.keySet());
        assertEquals(
            trained,
            ((TFloat32) r.get(TrainingExport.LOSS).orElseThrow()).getFloat(),
            "the reloaded train signature");
      } finally {
        feeds.values().forEach(Tensor::close);
      }
    }
  }

  private static float loss(TrainingProblem p, Operand<?> fetch, int batch) {
    try (TFloat32 x = TrainingProblem.features(batch);
        TInt32 y = TrainingProblem.labels(batch);
        Result r = p.session.runner().feed(p.x, x).feed(p.labels, y).fetch(fetch).run()) {
      return ((TFloat32) r.get(0)).getFloat();
    }
  }
}
