package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.NativeEigh;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Tensors;
import java.util.Iterator;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * FISMO follows the independent float64 implementation of Algorithm 1 step by step, with the exact
 * (SVD) polar factor and with five Newton–Schulz steps, on the fully-connected and the conv
 * problem, with the eigendecompositions of TensorFlow's {@code SelfAdjointEigV2} and of LAPACK
 * ({@link InverseRoot#NATIVE_EIGH}; where a build skipped the native library it falls back to the
 * former).
 */
class FismoReferenceTest {
  static Stream<Arguments> cases() {
    return Stream.of(InverseRoot.EIGH, InverseRoot.NATIVE_EIGH)
        .flatMap(
            roots ->
                Stream.of("svd", "ns5")
                    .flatMap(
                        polar ->
                            Stream.of("mlp", "cnn")
                                .flatMap(
                                    problem ->
                                        Stream.of(
                                            Arguments.of(
                                                polar, problem, roots, TFloat64.class, 1e-9),
                                            Arguments.of(
                                                polar, problem, roots, TFloat32.class, 1e-4)))));
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("cases")
  <T extends TFloating> void matchesReferenceEveryStep(
      String polar, String problem, InverseRoot roots, Class<T> type, double tolerance) {
    Reference ref = Reference.load("fismo_" + polar + "_cfg1_" + problem + "_float64.json");
    ReferenceModel<T> model = new ReferenceModel<>(ref, type);
    Fismo fismo =
        Fismo.builder()
            .learningRate(ref.hyperparameters.get("eta").asDouble())
            .momentum(ref.hyperparameters.get("beta").asDouble())
            .fisherDecay(ref.hyperparameters.get("gamma").asDouble())
            .damping(ref.hyperparameters.get("mu").asDouble())
            .polar(polar.equals("svd") ? Polar.EXACT : Polar.NEWTON_SCHULZ)
            .inverseRoot(roots)
            .build(model.graph);
    Op step = fismo.minimize(model.loss);
    if (roots == InverseRoot.NATIVE_EIGH && !Boolean.getBoolean("fisheropt.native.skip")) {
      boolean usesOp = false;
      for (Iterator<GraphOperation> ops = model.graph.operations(); ops.hasNext(); ) {
        usesOp |= ops.next().type().equals(NativeEigh.OP_TYPE);
      }
      assertTrue(usesOp, "the native library is built, so NATIVE_EIGH must use its op");
    }
    try (Session session = new Session(model.graph)) {
      session.initialize();
      for (int t = 0; t < ref.trajectory.size(); t++) {
        Reference.Step expected = ref.trajectory.get(t);
        model.assertStep(session, step, expected, "step " + (t + 1), tolerance);
        for (Map.Entry<String, Reference.Tensor> e : expected.extras().entrySet()) {
          String name = e.getKey();
          int cut = name.lastIndexOf('/');
          Variable<T> param = model.params.get(name.substring(0, cut));
          String slot =
              switch (name.substring(cut + 1)) {
                case "M" -> "momentum";
                default -> name.substring(cut + 1);
              };
          Operand<T> value = fismo.getSlot(param.asOutput(), slot).orElseThrow();
          Close.assertClose(
              tolerance,
              "step " + (t + 1) + " " + name,
              Tensors.fetch(session, value),
              e.getValue().data());
        }
      }
    } finally {
      model.graph.close();
    }
  }
}
