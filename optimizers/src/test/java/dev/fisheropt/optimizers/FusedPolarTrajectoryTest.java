package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.CustomOps;
import dev.fisheropt.ops.FusedPolar;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Graphs;
import dev.fisheropt.testing.Tensors;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.framework.optimizers.Optimizer;
import org.tensorflow.op.Op;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * {@code polar(FUSED)} trains along the same trajectory as the graph Newton–Schulz loop, for FISMO
 * and Muon on the fully-connected and the conv reference problems.
 */
class FusedPolarTrajectoryTest {
  private static final int STEPS = 8;

  @BeforeAll
  static void libraryIsPresentUnlessTheNativeBuildWasSkipped() {
    if (Boolean.getBoolean("fisheropt.native.skip")) {
      Assumptions.abort(
          "native build skipped (-Dfisheropt.native.skip=true): FUSED would equal NEWTON_SCHULZ"
              + " trivially");
    }
    assertTrue(
        CustomOps.shared().isLoaded(),
        () ->
            "libfisheropt_ops.so did not load: "
                + CustomOps.shared().unavailableReason().orElse(""));
  }

  static Stream<Arguments> cases() {
    return Stream.of("fismo", "muon")
        .flatMap(
            optimizer ->
                Stream.of("mlp", "cnn")
                    .flatMap(
                        problem ->
                            Stream.of(
                                Arguments.of(optimizer, problem, TFloat64.class, 1e-12),
                                Arguments.of(optimizer, problem, TFloat32.class, 1e-5))));
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  <T extends TFloating> void fusedFollowsGraphNewtonSchulz(
      String optimizer, String problem, Class<T> type, double tolerance) {
    Reference ref = Reference.load("fismo_ns5_cfg1_" + problem + "_float64.json");
    Function<Polar, Function<Graph, Optimizer>> factory =
        polar ->
            optimizer.equals("fismo")
                ? g -> Fismo.builder().polar(polar).build(g)
                : g -> Muon.builder().polar(polar).build(g);
    ReferenceModel<T> graphModel = new ReferenceModel<>(ref, type);
    ReferenceModel<T> fusedModel = new ReferenceModel<>(ref, type);
    Op graphStep =
        factory.apply(Polar.NEWTON_SCHULZ).apply(graphModel.graph).minimize(graphModel.loss);
    Op fusedStep = factory.apply(Polar.FUSED).apply(fusedModel.graph).minimize(fusedModel.loss);
    assertEquals(
        FusedPolar.buildsOp(type),
        Graphs.countOps(fusedModel.graph, FusedPolar.OP_TYPE) > 0,
        "FUSED builds the "
            + FusedPolar.OP_TYPE
            + " op exactly where this CPU's build beats the graph");
    try (Session graphSession = new Session(graphModel.graph);
        Session fusedSession = new Session(fusedModel.graph)) {
      graphSession.initialize();
      fusedSession.initialize();
      for (int t = 1; t <= STEPS; t++) {
        graphSession.run(graphStep);
        fusedSession.run(fusedStep);
        for (String name : graphModel.params.keySet()) {
          double[] expected = Tensors.fetch(graphSession, graphModel.params.get(name));
          double[] actual = Tensors.fetch(fusedSession, fusedModel.params.get(name));
          Close.assertClose(tolerance, "step " + t + " " + name, actual, expected);
        }
      }
    } finally {
      graphModel.graph.close();
      fusedModel.graph.close();
    }
  }
}
