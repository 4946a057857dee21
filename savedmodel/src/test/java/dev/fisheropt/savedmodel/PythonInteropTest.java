package dev.fisheropt.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Result;
import org.tensorflow.types.TFloat32;

/**
 * Python TensorFlow 2.18 reads what TF-Java exports: it loads the SavedModel, runs {@code serve},
 * and finds every optimizer slot, counter and hyperparameter in the checkpoint with the values the
 * Java session held.
 */
class PythonInteropTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path script;

  @TempDir
  Path tmp;

  @BeforeAll
  static void copyScript(@TempDir Path scripts) throws IOException {
    script = scripts.resolve("read_export.py");
    try (InputStream in = PythonInteropTest.class.getResourceAsStream("/python/read_export.py")) {
      Files.copy(in, script);
    }
  }

  static Stream<OptimizerCase> cases() {
    return OptimizerCase.all().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void pythonTensorFlowServesTheExportAndReadsEveryOptimizerVariable(OptimizerCase c) throws Exception {
    Path python = PythonTensorFlow.python();
    Path export = tmp.resolve("export");
    VariableDump saved;
    List<Float> live = new ArrayList<>();
    Map<String, Object> request;
    try (TrainingProblem p = new TrainingProblem(c); TFloat32 x = TrainingProblem.features(99)) {
      p.train(0, 3);
      saved = VariableDump.of(p.session);
      p.export.export(export, false);
      try (Result r = p.session.runner().feed(p.x, x).fetch(p.logits).run()) {
        ((TFloat32) r.get(0)).scalars().forEach(s -> live.add(s.getFloat()));
      }
      List<Float> xs = new ArrayList<>();
      x.scalars().forEach(s -> xs.add(s.getFloat()));
      request = Map.of("inputs", Map.of(TrainingProblem.X, Map.of("shape", x.shape().asArray(), "values", xs)));
    }
    Path requestFile = tmp.resolve("request.json");
    Path resultFile = tmp.resolve("result.json");
    JSON.writeValue(requestFile.toFile(), request);

    Processes.Outcome run = Processes.run(List.of(python.toString(), script.toString(), export.toString(),
        requestFile.toString(), resultFile.toString()), 300);
    assertTrue(run.ok(), () -> "Python failed to read the export:\n" + run.tail());
    JsonNode result = JSON.readTree(resultFile.toFile());

    assertEquals(PythonTensorFlow.TENSORFLOW_VERSION, result.get("tensorflow").asText());
    assertEquals("[\"serve\",\"train\"]", result.get("signatures").toString());
    List<Float> served = new ArrayList<>();
    result.get("predictions").get(TrainingProblem.LOGITS).forEach(v -> served.add((float) v.asDouble()));
    assertEquals(live.size(), served.size());
    for (int i = 0; i < live.size(); i++) {
      // Python's TensorFlow may run oneDNN kernels, whose float32 rounding can differ from TF-Java's.
      assertEquals(live.get(i), served.get(i), 1e-5f * Math.max(1f, Math.abs(live.get(i))), "prediction " + i);
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
    assertEquals(Map.of(), mismatched, "checkpoint values Python read that differ from the Java session's");
  }
}
