package dev.fisheropt.optimizers;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Tensors;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * FROG follows the authors' PyTorch code step by step on the conv problem, in float64 and float32:
 * the conv kernel preconditioned (the whole batch as the sample, τ 1e-3, four CG steps), the conv
 * bias and the dense layer on SGD with momentum at η/4, exactly as the authors' code treats a model
 * whose only conv layer is hooked.
 */
class FrogReferenceTest {
  static Stream<Arguments> cases() {
    return Stream.of(Arguments.of(TFloat64.class, 1e-9), Arguments.of(TFloat32.class, 1e-4));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  <T extends TFloating> void matchesAuthorsCodeEveryStep(Class<T> type, double tolerance) {
    String dtype = type == TFloat64.class ? "float64" : "float32";
    Reference ref = Reference.load("frog_it4_cnn_" + dtype + ".json");
    ReferenceModel<T> model = new ReferenceModel<>(ref, type);
    LayerCollection layers =
        new LayerCollection()
            .registerConv2d(
                model.params.get("conv/kernel"),
                model.params.get("conv/bias"),
                new long[] {1, 1, 1, 1},
                "SAME",
                model.input,
                model.preactivations1);
    Frog frog =
        Frog.builder()
            .layers(layers)
            .learningRate(ref.hyperparameters.get("lr").asDouble())
            .momentum(ref.hyperparameters.get("momentum").asDouble())
            .cgIterations(ref.hyperparameters.get("num_iters").asInt())
            .damping(ref.hyperparameters.get("tau").asDouble())
            .sampleSize(ref.hyperparameters.get("sample_size").asInt())
            .weightDecay(ref.hyperparameters.get("weight_decay").asDouble())
            .otherLearningRateRatio(ref.hyperparameters.get("lr_other_ratio").asDouble())
            .build(model.graph);
    Op step = frog.minimize(model.loss);
    try (Session session = new Session(model.graph)) {
      session.initialize();
      for (int t = 0; t < ref.trajectory.size(); t++) {
        Reference.Step expected = ref.trajectory.get(t);
        model.assertStep(session, step, expected, "step " + (t + 1), tolerance);
        for (Map.Entry<String, Reference.Tensor> e : expected.extras().entrySet()) {
          String param = e.getKey().substring(0, e.getKey().length() - "/momentum_buffer".length());
          Variable<T> variable = model.params.get(param);
          Operand<T> buffer = frog.getSlot(variable.asOutput(), "momentum").orElseThrow();
          Close.assertClose(
              tolerance,
              "step " + (t + 1) + " " + e.getKey(),
              Tensors.fetch(session, buffer),
              e.getValue().data());
        }
      }
    } finally {
      model.graph.close();
    }
  }
}
