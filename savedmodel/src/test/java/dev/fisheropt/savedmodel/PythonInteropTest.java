package dev.fisheropt.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fisheropt.ops.CustomOps;
import dev.fisheropt.ops.FusedPolar;
import dev.fisheropt.optimizers.GuardedOptimizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Python TensorFlow 2.18 reads what TF-Java exports: it loads the SavedModel, runs {@code serve},
 * and finds every optimizer slot, counter and hyperparameter in the checkpoint with the values the
 * Java session held.
 */
class PythonInteropTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path script;
  private static Path resumeScript;

  @TempDir Path tmp;

  @BeforeAll
  static void copyScript(@TempDir Path scripts) throws IOException {
    script = scripts.resolve("read_export.py");
    try (InputStream in = PythonInteropTest.class.getResourceAsStream("/python/read_export.py")) {
      Files.copy(in, script);
    }
    resumeScript = scripts.resolve("resume_export.py");
    try (InputStream in = PythonInteropTest.class.getResourceAsStream("/python/resume_export.py")) {
      Files.copy(in, resumeScript);
    }
  }

  static Stream<OptimizerCase> cases() {
    return OptimizerCase.all().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void pythonTensorFlowServesTheExportAndReadsEveryOptimizerVariable(OptimizerCase c)
      throws Exception {
    Path python = PythonTensorFlow.python();
    Path export = tmp.resolve("export");
    VariableDump saved;
    List<Float> live = new ArrayList<>();
    Map<String, Object> request;
    List<String> signatures;
    try (TrainingProblem p = new TrainingProblem(c);
        TFloat32 x = TrainingProblem.features(99)) {
      p.train(0, 3);
      // Where the graph runs the op library's ops, the serve meta graph holds only the serve
      // signature.
      signatures =
          p.libraryOps().isEmpty()
              ? List.of(TrainingExport.SERVE, TrainingExport.TRAIN)
              : List.of(TrainingExport.SERVE);
      saved = VariableDump.of(p.session);
      p.export.export(export, false);
      try (Result r = p.session.runner().feed(p.x, x).fetch(p.logits).run()) {
        ((TFloat32) r.get(0)).scalars().forEach(s -> live.add(s.getFloat()));
      }
      List<Float> xs = new ArrayList<>();
      x.scalars().forEach(s -> xs.add(s.getFloat()));
      request =
          Map.of(
              "inputs",
              Map.of(TrainingProblem.X, Map.of("shape", x.shape().asArray(), "values", xs)));
    }
    Path requestFile = tmp.resolve("request.json");
    Path resultFile = tmp.resolve("result.json");
    JSON.writeValue(requestFile.toFile(), request);

    Processes.Outcome run =
        Processes.run(
            List.of(
                python.toString(),
                script.toString(),
                export.toString(),
                requestFile.toString(),
                resultFile.toString()),
            300);
    assertTrue(run.ok(), () -> "Python failed to read the export:\n" + run.tail());
    JsonNode result = JSON.readTree(resultFile.toFile());

    assertEquals(PythonTensorFlow.TENSORFLOW_VERSION, result.get("tensorflow").asText());
    assertEquals(JSON.writeValueAsString(signatures), result.get("signatures").toString());
    List<Float> served = new ArrayList<>();
    result
        .get("predictions")
        .get(TrainingProblem.LOGITS)
        .forEach(v -> served.add((float) v.asDouble()));
    assertEquals(live.size(), served.size());
    for (int i = 0; i < live.size(); i++) {
      // Python's TensorFlow may run oneDNN kernels, whose float32 rounding can differ from
      // TF-Java's.
      assertEquals(
          live.get(i),
          served.get(i),
          1e-5f * Math.max(1f, Math.abs(live.get(i))),
          "prediction " + i);
    }

    JsonNode checkpoint = result.get("checkpoint");
    List<String> names = new ArrayList<>();
    checkpoint.fieldNames().forEachRemaining(names::add);
    assertEquals(saved.values().keySet(), new TreeSet<>(names), "variables in the checkpoint");
    Map<String, String> mismatched = new LinkedHashMap<>();
    for (Map.Entry<String, VariableDump.Value> e : saved.values().entrySet()) {
      double[] expected = e.getValue().asDoubles();
      JsonNode actual = checkpoint.get(e.getKey()).get("values");
      boolean same = actual.size() == expected.length;
      for (int i = 0; same && i < expected.length; i++) {
        same = actual.get(i).asDouble() == expected[i];
      }
      if (!same) {
        mismatched.put(e.getKey(), actual.toString());
      }
    }
    assertEquals(
        Map.of(), mismatched, "checkpoint values Python read that differ from the Java session's");
  }

  static Stream<OptimizerCase> fusedCases() {
    return OptimizerCase.fused().stream();
  }

  /**
   * A Python user resumes an export whose graph runs {@code FisheroptFusedPolar}: {@code
   * tf.load_op_library} with the library the ops jar ships, then {@code tf.saved_model.load(dir,
   * tags=["train"])} and the {@code train} signature; the losses, the predictions after the steps
   * and the step counter are those of the Java run that never stopped (up to float32 rounding:
   * Python may run oneDNN kernels, and the AVX2 build of the library where Java loaded the AVX-512
   * one), and the export Python writes with the export's own saver op loads in Java with that
   * state.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fusedCases")
  void pythonResumesAFusedExportAfterLoadingTheOpLibraryTheJarShips(OptimizerCase c)
      throws Exception {
    if (Boolean.getBoolean("fisheropt.native.skip")) {
      Assumptions.abort(
          "native build skipped (-Dfisheropt.native.skip=true): polar(FUSED) builds graph ops");
    }
    assertTrue(
        CustomOps.shared().isLoaded(),
        () ->
            "libfisheropt_ops.so did not load: "
                + CustomOps.shared().unavailableReason().orElse(""));
    if (!FusedPolar.buildsOp(TFloat32.class)) {
      Assumptions.abort(
          "this CPU loads the AVX2+FMA build, with which float32 polar(FUSED) builds graph ops");
    }
    // What the documentation tells a Python user to do: take the AVX2+FMA build, and the OpenBLAS
    // it loads from its own directory, out of the ops jar.
    Path library = tmp.resolve("fisheropt-lib/libfisheropt_ops.so");
    Files.createDirectories(library.getParent());
    for (String resource : List.of(CustomOps.BUNDLED_RESOURCE, CustomOps.OPENBLAS_RESOURCE)) {
      try (InputStream in = CustomOps.class.getClassLoader().getResourceAsStream(resource)) {
        assertTrue(in != null, "the ops jar holds no " + resource);
        Files.copy(in, library.resolveSibling(resource.substring(resource.lastIndexOf('/') + 1)));
      }
    }
    Path python = PythonTensorFlow.python();
    int before = TrainingExportTest.BEFORE;
    int after = TrainingExportTest.AFTER;
    Path export = tmp.resolve("export");
    List<Float> javaLosses = new ArrayList<>();
    List<Float> live = new ArrayList<>();
    long javaStep;
    String stepVariable;
    VariableDump uninterrupted;
    try (TrainingProblem p = new TrainingProblem(c);
        TFloat32 x = TrainingProblem.features(99)) {
      assertFalse(p.libraryOps().isEmpty(), "the graph runs no op of the library");
      p.train(0, before);
      p.export.export(export, false);
      for (int i = before; i < before + after; i++) {
        try (TFloat32 xb = TrainingProblem.features(i);
            TInt32 yb = TrainingProblem.labels(i);
            Result r =
                p.session
                    .runner()
                    .feed(p.x, xb)
                    .feed(p.labels, yb)
                    .fetch(p.export.trainOutput())
                    .run()) {
          javaLosses.add(((TFloat32) r.get(0)).getFloat());
        }
      }
      try (Result r = p.session.runner().feed(p.x, x).fetch(p.logits).run()) {
        ((TFloat32) r.get(0)).scalars().forEach(s -> live.add(s.getFloat()));
      }
      uninterrupted = VariableDump.of(p.session);
      stepVariable = ((GuardedOptimizer) p.optimizer).stepCount().op().name();
      try (Result r = p.session.runner().fetch(stepVariable).run()) {
        javaStep = ((TInt64) r.get(0)).getLong();
      }
    }
    List<Map<String, Object>> batches = new ArrayList<>();
    for (int i = before; i < before + after; i++) {
      try (TFloat32 xb = TrainingProblem.features(i);
          TInt32 yb = TrainingProblem.labels(i)) {
        batches.add(Map.of(TrainingProblem.X, spec(xb), TrainingProblem.LABELS, spec(yb)));
      }
    }
    Map<String, Object> request;
    try (TFloat32 x = TrainingProblem.features(99)) {
      request =
          Map.of(
              "batches",
              batches,
              "serve",
              Map.of(TrainingProblem.X, spec(x)),
              "variables",
              List.of(stepVariable));
    }
    Path requestFile = tmp.resolve("request.json");
    Path resultFile = tmp.resolve("result.json");
    JSON.writeValue(requestFile.toFile(), request);

    Path pythonExport = tmp.resolve("resumed-in-python");
    Processes.Outcome run =
        Processes.run(
            List.of(
                python.toString(),
                resumeScript.toString(),
                export.toString(),
                library.toString(),
                requestFile.toString(),
                resultFile.toString(),
                pythonExport.toString()),
            300);
    assertTrue(run.ok(), () -> "Python failed to resume the export:\n" + run.tail());
    JsonNode result = JSON.readTree(resultFile.toFile());

    assertEquals(
        "[\"serve\"]",
        result.get("serve_signatures").toString(),
        "signatures of the serve meta graph");
    assertEquals(
        "[\"serve\",\"train\"]",
        result.get("train_signatures").toString(),
        "signatures of the train meta graph");
    List<Float> pythonLosses = new ArrayList<>();
    result.get("losses").forEach(v -> pythonLosses.add((float) v.asDouble()));
    assertEquals(after, pythonLosses.size());
    for (int i = 0; i < after; i++) {
      // Python's TensorFlow may run oneDNN kernels, whose float32 rounding can differ from
      // TF-Java's.
      assertEquals(
          javaLosses.get(i),
          pythonLosses.get(i),
          1e-5f * Math.max(1f, Math.abs(javaLosses.get(i))),
          "loss of step " + (before + i));
    }
    List<Float> served = new ArrayList<>();
    result
        .get("predictions")
        .get(TrainingProblem.LOGITS)
        .forEach(v -> served.add((float) v.asDouble()));
    assertEquals(live.size(), served.size());
    System.out.println(
        c
            + ": Python resumed; largest difference from the Java run: losses "
            + maxDifference(javaLosses, pythonLosses)
            + ", predictions "
            + maxDifference(live, served));
    for (int i = 0; i < live.size(); i++) {
      assertEquals(
          live.get(i),
          served.get(i),
          1e-4f * Math.max(1f, Math.abs(live.get(i))),
          "prediction " + i + " after the resumed steps");
    }
    assertEquals(before + after, javaStep);
    assertEquals(
        javaStep,
        result.get("variables").get(stepVariable).get(0).asLong(),
        stepVariable + " saved by Python");
    // What Python saved, Java resumes from.
    try (TrainingBundle resumed = TrainingBundle.load(pythonExport);
        TInt64 step = (TInt64) resumed.variable(stepVariable)) {
      assertEquals(
          javaStep, step.getLong(), stepVariable + " of the export Python wrote, loaded in Java");
      Map<String, VariableDump.Value> values = VariableDump.of(resumed.session()).values();
      for (Map.Entry<String, VariableDump.Value> e : uninterrupted.values().entrySet()) {
        double[] expected = e.getValue().asDoubles();
        double[] actual = values.get(e.getKey()).asDoubles();
        assertEquals(expected.length, actual.length, e.getKey());
        for (int i = 0; i < expected.length; i++) {
          assertEquals(
              expected[i],
              actual[i],
              1e-4 * Math.max(1, Math.abs(expected[i])),
              e.getKey() + "[" + i + "] after the steps in Python");
        }
      }
    }
  }

  private static float maxDifference(List<Float> a, List<Float> b) {
    float max = 0;
    for (int i = 0; i < a.size(); i++) {
      max = Math.max(max, Math.abs(a.get(i) - b.get(i)));
    }
    return max;
  }

  /** A tensor as the Python scripts read it: dtype, shape and the values in row-major order. */
  private static Map<String, Object> spec(Tensor t) {
    List<Number> values = new ArrayList<>();
    if (t instanceof TFloat32 f) {
      f.scalars().forEach(s -> values.add(s.getFloat()));
    } else {
      ((TInt32) t).scalars().forEach(s -> values.add(s.getInt()));
    }
    return Map.of(
        "dtype",
        t instanceof TFloat32 ? "float32" : "int32",
        "shape",
        t.shape().asArray(),
        "values",
        values);
  }
}
