package dev.fisheropt.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.CustomOps;
import dev.fisheropt.ops.FusedPolar;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.types.TFloat32;

/**
 * Exports of graphs that run the native op {@code FisheroptFusedPolar} ({@code polar(FUSED)}): a
 * {@code serve} meta graph without the op, which any TensorFlow loads, and a {@code train} meta
 * graph, which {@link TrainingBundle#load} loads after loading the op library. (The fresh-JVM
 * bit-identical resume of these exports runs in {@link TrainingExportTest} with every case.)
 */
class FusedExportTest {
  @TempDir Path tmp;

  @BeforeAll
  static void libraryIsPresentUnlessTheNativeBuildWasSkipped() {
    if (Boolean.getBoolean("fisheropt.native.skip")) {
      Assumptions.abort(
          "native build skipped (-Dfisheropt.native.skip=true): polar(FUSED) builds graph ops, the"
              + " export needs no library");
    }
    assertTrue(
        CustomOps.shared().isLoaded(),
        () ->
            "libfisheropt_ops.so did not load: "
                + CustomOps.shared().unavailableReason().orElse(""));
    if (!FusedPolar.buildsOp(TFloat32.class)) {
      Assumptions.abort(
          "this CPU loads the AVX2+FMA build, with which float32 polar(FUSED) builds graph ops:"
              + " the float32 problem's export holds no library op");
    }
  }

  static Stream<OptimizerCase> cases() {
    return OptimizerCase.fused().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theExportHasAServeMetaGraphWithoutTheOpAndATrainMetaGraphWithIt(OptimizerCase c)
      throws Exception {
    Path export = tmp.resolve("export");
    List<Float> live = new ArrayList<>();
    try (TrainingProblem p = new TrainingProblem(c);
        TFloat32 x = TrainingProblem.features(99)) {
      p.train(0, TrainingExportTest.BEFORE);
      assertEquals(Set.of(FusedPolar.OP_TYPE), p.libraryOps(), "the graph runs the fused polar op");
      p.export.export(export, false);
      try (Result r = p.session.runner().feed(p.x, x).fetch(p.logits).run()) {
        ((TFloat32) r.get(0)).scalars().forEach(s -> live.add(s.getFloat()));
      }

      SavedModel model = MetaGraphs.read(export);
      assertEquals(
          List.of(List.of(TrainingExport.TAG), List.of(TrainingExport.TRAIN_TAG)),
          model.getMetaGraphsList().stream()
              .map(m -> List.copyOf(m.getMetaInfoDef().getTagsList()))
              .toList());
      MetaGraphDef serve = model.getMetaGraphs(0);
      MetaGraphDef train = model.getMetaGraphs(1);
      assertEquals(Set.of(TrainingExport.SERVE), serve.getSignatureDefMap().keySet());
      assertEquals(
          Set.of(TrainingExport.SERVE, TrainingExport.TRAIN), train.getSignatureDefMap().keySet());
      assertTrue(
          MetaGraphs.opTypes(train).contains(FusedPolar.OP_TYPE),
          "the train meta graph runs the op");
      Set<String> inServe = new TreeSet<>(MetaGraphs.opTypes(serve));
      inServe.retainAll(CustomOps.OP_TYPES);
      assertEquals(Set.of(), inServe, "op-library ops in the serve meta graph");
      Set<String> serveNodes = new TreeSet<>();
      serve.getGraphDef().getNodeList().stream().map(NodeDef::getName).forEach(serveNodes::add);
      assertFalse(
          serveNodes.contains("train_loss"), "the serve meta graph holds the training output");
      assertEquals(
          0,
          serve.getGraphDef().getLibrary().getFunctionCount(),
          "functions in the serve meta graph");
      for (NodeDef node : train.getGraphDef().getNodeList()) {
        if (node.getOp().equals("VariableV2")) {
          assertTrue(
              serveNodes.contains(node.getName()),
              () -> "variable " + node.getName() + " is missing from the serve meta graph");
        }
      }
      assertTrue(
          serve.getGraphDef().getNodeCount() < train.getGraphDef().getNodeCount() / 2,
          () ->
              "the serve meta graph holds "
                  + serve.getGraphDef().getNodeCount()
                  + " of "
                  + train.getGraphDef().getNodeCount()
                  + " nodes");

      try (TrainingBundle bundle = TrainingBundle.load(export)) {
        assertEquals(TrainingExport.TRAIN_TAG, bundle.tag());
        assertEquals(List.of(TrainingExport.SERVE, TrainingExport.TRAIN), bundle.signatureKeys());
      }
      List<Float> served = new ArrayList<>();
      try (SavedModelBundle serving = SavedModelBundle.load(export.toString(), TrainingExport.TAG);
          Result r = serving.function(TrainingExport.SERVE).call(Map.of(TrainingProblem.X, x))) {
        ((TFloat32) r.get(TrainingProblem.LOGITS).orElseThrow())
            .scalars()
            .forEach(s -> served.add(s.getFloat()));
        assertEquals(
            List.of(),
            VariableDump.of(serving.session()).differencesFrom(VariableDump.of(p.session)),
            "variables restored through the serve meta graph");
      }
      assertEquals(live, served);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void aJvmWithoutTheLibraryServesTheExportAndSaysWhyItCannotTrainIt(OptimizerCase c)
      throws Exception {
    Path export = tmp.resolve("export");
    List<String> live = new ArrayList<>();
    try (TrainingProblem p = new TrainingProblem(c);
        TFloat32 x = TrainingProblem.features(99)) {
      p.train(0, TrainingExportTest.BEFORE);
      p.export.export(export, false);
      try (Result r = p.session.runner().feed(p.x, x).fetch(p.logits).run()) {
        ((TFloat32) r.get(0))
            .scalars()
            .forEach(s -> live.add("" + Float.floatToIntBits(s.getFloat())));
      }
    }
    Path missing = tmp.resolve("no-such-dir/libfisheropt_ops.so");
    Path result = tmp.resolve("result.txt");
    Processes.Outcome child =
        Processes.java(
            List.of("-D" + CustomOps.LIBRARY_PROPERTY + "=" + missing),
            WithoutLibraryMain.class,
            List.of(export.toString(), result.toString()),
            180);
    assertTrue(child.ok(), () -> "the JVM without the library failed:\n" + child.tail());

    List<String> lines = Files.readAllLines(result);
    assertEquals(
        live, lines.subList(0, lines.size() - 1), "logits served without the library (float bits)");
    String failure = lines.get(lines.size() - 1);
    assertTrue(failure.startsWith("load-failed: "), failure);
    for (String expected :
        List.of(
            export.toAbsolutePath().toString(),
            FusedPolar.OP_TYPE,
            "fisheropt op library",
            missing.toString(),
            "SavedModelBundle.load(dir, \"serve\")")) {
      assertTrue(failure.contains(expected), () -> "'" + expected + "' is not in: " + failure);
    }
    assertFalse(failure.contains("corrupt"), failure);
  }
}
