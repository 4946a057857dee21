package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Tensors;
import dev.fisheropt.xla.Xla;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.types.TFloat32;

/**
 * With {@link Xla#sessionConfig()} a training step runs as XLA clusters on CPU: the partition
 * graphs of one step hold {@code _XlaCompile}/{@code _XlaRun} and no compute op of the update
 * outside them (only variable reads and writes, constants and no-ops remain), and the trajectory
 * matches the one without XLA to float32 rounding.
 */
class XlaTest {
  /** An optimizer configuration, by name, built on a graph. */
  record Config(String label, Function<ReferenceModel<TFloat32>, GuardedOptimizer> build) {
    @Override
    public String toString() {
      return label;
    }
  }

  /**
   * Configurations whose every update op XLA compiles (non-matrix parameters go to the Adam
   * fallback).
   */
  static Stream<Config> fullyCompiled() {
    return Stream.of(
        new Config("Muon", m -> Muon.builder().build(m.graph)),
        new Config(
            "Muon momentum fallback, no Nesterov",
            m ->
                Muon.builder()
                    .nesterov(false)
                    .fallback(Fallback.momentum(0.01, 0.9))
                    .build(m.graph)),
        new Config(
            "Fismo NEWTON", m -> Fismo.builder().inverseRoot(InverseRoot.NEWTON).build(m.graph)),
        new Config(
            "Fismo NEWTON interval 2",
            m ->
                Fismo.builder()
                    .inverseRoot(InverseRoot.NEWTON)
                    .preconditionerInterval(2)
                    .build(m.graph)),
        new Config(
            "AdaFisher interval 2",
            m -> AdaFisher.builder().layers(m.layers()).fisherInterval(2).build(m.graph)),
        new Config(
            "AdaFisherW",
            m -> AdaFisherW.builder().layers(m.layers()).weightDecay(0.01).build(m.graph)),
        // Half the batch: with 8 of 32 rows the float32 CG system is so ill-conditioned that XLA's
        // reordered rounding drifts by 2e-3 in ten steps, while in float64 the two runs agree to
        // 1e-11
        // (the same rows are sampled).
        new Config(
            "Frog sample 16",
            m ->
                Frog.builder().layers(m.layers()).learningRate(0.05).sampleSize(16).build(m.graph)),
        new Config(
            "Frog all rows",
            m -> Frog.builder().layers(m.layers()).learningRate(0.05).build(m.graph)));
  }

  static Stream<Arguments> fullyCompiledOnBothProblems() {
    return fullyCompiled()
        .flatMap(c -> Stream.of(Arguments.of(c, "mlp"), Arguments.of(c, "cnn")))
        .filter(a -> a.get()[1].equals("mlp") || !a.get()[0].toString().contains("fallback"));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("fullyCompiledOnBothProblems")
  void everyUpdateOpRunsInsideAnXlaCluster(Config config, String problem) {
    ReferenceModel<TFloat32> model = model(problem);
    GuardedOptimizer optimizer = config.build().apply(model);
    Op step = optimizer.minimize(model.loss);
    try (Session session = new Session(model.graph, Xla.sessionConfig())) {
      session.initialize();
      // Two steps, so that with preconditionerInterval(2) both branches have run.
      Xla.Placement first = runStep(session, step);
      Xla.Placement second = runStep(session, step);
      for (Xla.Placement placement : List.of(first, second)) {
        assertTrue(
            placement.count("_XlaCompile") > 0 && placement.count("_XlaRun") > 0,
            "no XLA cluster ran: " + placement.opCountsByDevice());
        assertEquals(List.of(), placement.computeOpsOutsideClusters(optimizer.getOptimizerName()));
      }
    } finally {
      model.graph.close();
    }
  }

  /** XLA never auto-clusters SelfAdjointEigV2, so with EIGH those (and only those) run outside. */
  @Test
  void withEighOnlyTheEigendecompositionsStayOutside() {
    ReferenceModel<TFloat32> model = model("mlp");
    Fismo fismo = Fismo.builder().build(model.graph);
    Op step = fismo.minimize(model.loss);
    try (Session session = new Session(model.graph, Xla.sessionConfig())) {
      session.initialize();
      Xla.Placement placement = runStep(session, step);
      assertTrue(placement.compiled());
      List<String> outside = placement.computeOpsOutsideClusters(fismo.getOptimizerName());
      // P and Q of each of the two dense kernels.
      assertEquals(4, outside.size(), outside.toString());
      outside.forEach(op -> assertTrue(op.endsWith("(SelfAdjointEigV2)"), op));
    } finally {
      model.graph.close();
    }
  }

  @Test
  void withoutTheConfigNothingIsCompiled() {
    assertFalse(placementOfOneMuonStep(ConfigProto.getDefaultInstance()).compiled());
  }

  /**
   * XLA:CPU auto-clusters only where cpu_global_jit allows it; the GPU needs just the jit level.
   */
  @Test
  void onCpuTheJitLevelAloneIsNotEnough() {
    ConfigProto jitLevelOnly =
        ConfigProto.newBuilder()
            .setGraphOptions(
                GraphOptions.newBuilder()
                    .setOptimizerOptions(
                        OptimizerOptions.newBuilder()
                            .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_2)))
            .build();
    assertFalse(placementOfOneMuonStep(jitLevelOnly).compiled());
    assertTrue(placementOfOneMuonStep(Xla.sessionConfig()).compiled());
  }

  /**
   * Every model op, gradients included, compiles too when the update does: the whole step is XLA.
   * (The MLP: on CPU, oneDNN's graph rewrite fuses a forward Conv2D + BiasAdd into {@code
   * _MklNativeFusedConv2D} before clustering, which XLA cannot compile.)
   */
  @Test
  void theWholeStepOfFismoNewtonIsCompiled() {
    ReferenceModel<TFloat32> model = model("mlp");
    Op step =
        Fismo.builder().inverseRoot(InverseRoot.NEWTON).build(model.graph).minimize(model.loss);
    try (Session session = new Session(model.graph, Xla.sessionConfig())) {
      session.initialize();
      assertEquals(List.of(), runStep(session, step).computeOpsOutsideClusters());
    } finally {
      model.graph.close();
    }
  }

  static Stream<Config> trajectories() {
    return Stream.concat(
        fullyCompiled(), Stream.of(new Config("Fismo EIGH", m -> Fismo.builder().build(m.graph))));
  }

  /**
   * Ten steps with and without XLA agree to float32 rounding (XLA fuses and reorders the
   * arithmetic, so not bit for bit).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("trajectories")
  void xlaTrajectoryMatchesTheUncompiledOne(Config config) {
    List<double[]> plain = trajectory(config, ConfigProto.getDefaultInstance());
    List<double[]> compiled = trajectory(config, Xla.sessionConfig());
    for (int i = 0; i < plain.size(); i++) {
      Close.assertClose(
          1e-4, config + " parameter " + i + ": XLA vs graph", compiled.get(i), plain.get(i));
    }
  }

  @Test
  void twoXlaRunsAreBitIdentical() {
    Config config =
        new Config(
            "Fismo NEWTON", m -> Fismo.builder().inverseRoot(InverseRoot.NEWTON).build(m.graph));
    List<double[]> first = trajectory(config, Xla.sessionConfig());
    List<double[]> second = trajectory(config, Xla.sessionConfig());
    for (int i = 0; i < first.size(); i++) {
      assertArrayEquals(first.get(i), second.get(i), "parameter " + i);
    }
  }

  private static List<double[]> trajectory(Config config, ConfigProto sessionConfig) {
    ReferenceModel<TFloat32> model = model("mlp");
    Op step = config.build().apply(model).minimize(model.loss);
    try (Session session = new Session(model.graph, sessionConfig)) {
      session.initialize();
      for (int t = 0; t < 10; t++) {
        session.run(step);
      }
      List<double[]> params = new ArrayList<>();
      for (Variable<TFloat32> v : model.params.values()) {
        params.add(Tensors.fetch(session, v));
      }
      return params;
    } finally {
      model.graph.close();
    }
  }

  private static Xla.Placement placementOfOneMuonStep(ConfigProto config) {
    ReferenceModel<TFloat32> model = model("mlp");
    Op step = Muon.builder().build(model.graph).minimize(model.loss);
    try (Session session = new Session(model.graph, config)) {
      session.initialize();
      return runStep(session, step);
    } finally {
      model.graph.close();
    }
  }

  private static Xla.Placement runStep(Session session, Op step) {
    try (Result result =
        session.runner().addTarget(step).setOptions(Xla.partitionGraphs()).runAndFetchMetadata()) {
      return Xla.placement(result.getMetadata().orElseThrow());
    }
  }

  private static ReferenceModel<TFloat32> model(String problem) {
    return new ReferenceModel<>(
        Reference.load("fismo_ns5_cfg1_" + problem + "_float64.json"), TFloat32.class);
  }
}
