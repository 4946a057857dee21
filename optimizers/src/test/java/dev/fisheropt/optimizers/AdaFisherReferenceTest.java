package dev.fisheropt.optimizers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Tensors;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * AdaFisher and AdaFisherW follow the trajectories of the authors' PyTorch code (factors refreshed
 * every step) on the fully-connected, the conv and the transformer-layer problem (dense layers on
 * [batch, time, features] inputs and a layer norm): parameters, momenta, the layer factors H_D and
 * S_D, and the F̃ each step divided by, after every step (as far as each file records them).
 */
class AdaFisherReferenceTest {
  static Stream<Arguments> cases() {
    return Stream.of(
            "adafisher_tcov1_mlp",
            "adafisher_tcov1_cnn",
            "adafisherw_wd0.01_mlp",
            "adafisher_tcov1_tfm")
        .flatMap(
            id ->
                Stream.of(
                    Arguments.of(id, TFloat64.class, 1e-9),
                    Arguments.of(id, TFloat32.class, 1e-4)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  <T extends TFloating> void matchesAuthorsCodeEveryStep(
      String id, Class<T> type, double tolerance) {
    Reference ref =
        Reference.load(id + "_" + (type == TFloat64.class ? "float64" : "float32") + ".json");
    ReferenceModel<T> model = new ReferenceModel<>(ref, type);
    LayerCollection layers = model.layers();
    JsonNode h = ref.hyperparameters;
    JsonNode derived = h.get("derived");
    AdaFisherBase optimizer;
    if (id.startsWith("adafisherw")) {
      optimizer =
          AdaFisherW.builder()
              .layers(layers)
              .learningRate(h.get("lr").asDouble())
              .beta(h.get("beta").asDouble())
              .factorEma(
                  derived.get("ema_old_coeff").asDouble(), derived.get("ema_new_coeff").asDouble())
              .damping(h.get("Lambda").asDouble())
              .fisherInterval(h.get("TCov").asInt())
              .weightDecay(h.get("weight_decay").asDouble())
              .build(model.graph);
    } else {
      optimizer =
          AdaFisher.builder()
              .layers(layers)
              .learningRate(h.get("lr").asDouble())
              .beta(h.get("beta").asDouble())
              .factorEma(
                  derived.get("ema_old_coeff").asDouble(), derived.get("ema_new_coeff").asDouble())
              .damping(h.get("Lambda").asDouble())
              .fisherInterval(h.get("TCov").asInt())
              .weightDecay(h.get("weight_decay").asDouble())
              .build(model.graph);
    }
    Op step = optimizer.minimize(model.loss);
    double lambda = h.get("Lambda").asDouble();
    try (Session session = new Session(model.graph)) {
      session.initialize();
      for (int t = 0; t < ref.trajectory.size(); t++) {
        Reference.Step expected = ref.trajectory.get(t);
        String at = "step " + (t + 1) + " ";
        model.assertStep(session, step, expected, "step " + (t + 1), tolerance);
        for (LayerCollection.Layer layer : layers.layers()) {
          String name = layer.name().substring(0, layer.name().indexOf('/'));
          double[] hD = Tensors.fetch(session, slot(optimizer, layer.kernel(), "H_D"));
          double[] sD = Tensors.fetch(session, slot(optimizer, layer.kernel(), "S_D"));
          // The tfm files name H_D without the "_tf_order" suffix (dense H_D orders agree).
          String hKey =
              expected.extras().containsKey(name + "/H_D_tf_order")
                  ? name + "/H_D_tf_order"
                  : name + "/H_D";
          Close.assertClose(tolerance, at + name + "/H_D", hD, expected.extras().get(hKey).data());
          Close.assertClose(
              tolerance, at + name + "/S_D", sD, expected.extras().get(name + "/S_D").data());
          if (!expected.extras().containsKey(name + "/kernel/F_tilde")) {
            continue;
          }
          // F̃ in the kernel's own layout: kernel entry r (row-major [fan-in, fan-out]) is H_D[r /
          // fanOut]·S_D[r % fanOut] + λ.
          double[] kernelFisher = new double[(hD.length - 1) * sD.length];
          for (int r = 0; r < kernelFisher.length; r++) {
            kernelFisher[r] = hD[r / sD.length] * sD[r % sD.length] + lambda;
          }
          double[] biasFisher = new double[sD.length];
          for (int o = 0; o < sD.length; o++) {
            biasFisher[o] = hD[hD.length - 1] * sD[o] + lambda;
          }
          Close.assertClose(
              tolerance,
              at + name + "/kernel/F_tilde",
              kernelFisher,
              expected.extras().get(name + "/kernel/F_tilde").data());
          Close.assertClose(
              tolerance,
              at + name + "/bias/F_tilde",
              biasFisher,
              expected.extras().get(name + "/bias/F_tilde").data());
        }
        for (String param : ref.paramOrder) {
          if (!expected.extras().containsKey(param + "/exp_avg")) {
            continue;
          }
          Close.assertClose(
              tolerance,
              at + param + "/exp_avg",
              Tensors.fetch(session, slot(optimizer, model.params.get(param), "exp_avg")),
              expected.extras().get(param + "/exp_avg").data());
        }
      }
    } finally {
      model.graph.close();
    }
  }

  /**
   * The tfm model (dense layers on [batch, time, features] through a reshape, a layer norm from
   * mean and variance ops) has the reference's loss and gradients at the initial weights.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("dtypes")
  <T extends TFloating> void tfmModelHasTheReferenceGradients(Class<T> type, double tolerance) {
    Reference ref =
        Reference.load(
            "adafisher_tcov1_tfm_" + (type == TFloat64.class ? "float64" : "float32") + ".json");
    ReferenceModel<T> model = new ReferenceModel<>(ref, type);
    List<String> names = List.copyOf(model.params.keySet());
    Output<?>[] targets =
        names.stream().map(n -> model.params.get(n).asOutput()).toArray(Output<?>[]::new);
    Output<?>[] grads = model.graph.addGradients(model.loss.asOutput(), targets);
    try (Session session = new Session(model.graph)) {
      session.initialize();
      Reference.Step first = ref.trajectory.get(0);
      Close.assertClose(tolerance, "loss", Tensors.scalar(session, model.loss), first.lossBefore());
      for (int i = 0; i < names.size(); i++) {
        Close.assertClose(
            tolerance,
            "grad " + names.get(i),
            Tensors.fetch(session, grads[i]),
            first.grads().get(names.get(i)).data());
      }
    } finally {
      model.graph.close();
    }
  }

  static Stream<Arguments> dtypes() {
    return Stream.of(Arguments.of(TFloat64.class, 1e-9), Arguments.of(TFloat32.class, 1e-4));
  }

  private static Variable<?> slot(GuardedOptimizer optimizer, Variable<?> variable, String name) {
    return optimizer
        .getSlot(variable.asOutput(), name)
        .orElseThrow(() -> new AssertionError("no slot " + variable.op().name() + "-" + name));
  }
}
