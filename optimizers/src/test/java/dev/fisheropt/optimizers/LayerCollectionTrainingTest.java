package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * The optimizers on the transformer-layer problem of the references (tfm: dense layers on [batch,
 * time, features], a layer norm): FROG counts every position of a rank-3 dense layer as a row,
 * exactly as if the layer were registered on its flattened rows, and sends the layer norm to its
 * momentum rule; FISMO and Muon send the layer norm (rank 1) to their fallback; all of them train
 * the model.
 */
class LayerCollectionTrainingTest {
  private static final String TFM = "adafisher_tcov1_tfm_float64.json";
  private static final String TFM32 = "adafisher_tcov1_tfm_float32.json";

  /**
   * With the dense layers registered on [B, T, F] or on their [B·T, F] rows FROG takes the same
   * steps: the same rows, sampled or all, the same operators. Y differs by the factor T, which
   * cancels in Λ̂ exactly but for the guard ε, so ε is 1e-30 here (with the default 1e-10 the two
   * differ by about 1e-8).
   */
  @ParameterizedTest(name = "sample size {0}")
  @ValueSource(ints = {8, 24})
  void frogOnSequencesStepsAsOnFlattenedRows(int sampleSize) {
    Reference ref = Reference.load(TFM);
    List<double[]> sequence = frogTrajectory(ref, sampleSize, false);
    List<double[]> flattened = frogTrajectory(ref, sampleSize, true);
    for (int i = 0; i < sequence.size(); i++) {
      Close.assertClose(1e-9, "FROG record " + i, sequence.get(i), flattened.get(i));
    }
  }

  /** Every parameter after each of 4 FROG steps, in reference order. */
  private static List<double[]> frogTrajectory(Reference ref, int sampleSize, boolean onRows) {
    ReferenceModel<TFloat64> model = new ReferenceModel<>(ref, TFloat64.class);
    LayerCollection layers = onRows ? model.layersOnRows() : model.layers();
    Op step =
        Frog.builder()
            .layers(layers)
            .learningRate(0.05)
            .sampleSize(sampleSize)
            .seed(3)
            .denominatorGuard(1e-30)
            .build(model.graph)
            .minimize(model.loss);
    List<double[]> out = new ArrayList<>();
    try (Session session = new Session(model.graph)) {
      session.initialize();
      for (int t = 0; t < 4; t++) {
        session.run(step);
        for (Variable<TFloat64> v : model.params.values()) {
          out.add(Tensors.fetch(session, v));
        }
      }
    } finally {
      model.graph.close();
    }
    return out;
  }

  /**
   * FROG's first step on the layer norm is its momentum rule, θ − η·ratio·g; its kernels are
   * preconditioned (they move otherwise); and it trains the model.
   */
  @Test
  void frogSendsTheLayerNormToItsMomentumRuleAndTrains() {
    double eta = 0.05;
    double ratio = Frog.OTHER_LEARNING_RATE_RATIO_DEFAULT;
    ReferenceModel<TFloat32> model = new ReferenceModel<>(Reference.load(TFM32), TFloat32.class);
    List<String> names = List.of("ln/gamma", "ln/beta", "dense1/bias", "dense1/kernel");
    Output<?>[] grads =
        model.graph.addGradients(
            model.loss.asOutput(),
            names.stream().map(n -> model.params.get(n).asOutput()).toArray(Output<?>[]::new));
    Frog frog = Frog.builder().layers(model.layers()).learningRate(eta).build(model.graph);
    Op step = frog.minimize(model.loss);
    try (Session session = new Session(model.graph)) {
      session.initialize();
      Map<String, double[]> before = fetchAll(session, model);
      double initialLoss = Tensors.scalar(session, model.loss);
      double[][] g = new double[names.size()][];
      for (int i = 0; i < names.size(); i++) {
        g[i] = Tensors.fetch(session, grads[i]);
      }
      session.run(step);
      for (int i = 0; i < 3; i++) {
        double[] expected = before.get(names.get(i)).clone();
        for (int j = 0; j < expected.length; j++) {
          expected[j] -= eta * ratio * g[i][j];
        }
        Close.assertClose(
            1e-5,
            names.get(i) + " after FROG's first step",
            Tensors.fetch(session, model.params.get(names.get(i))),
            expected);
      }
      double[] sgdKernel = before.get("dense1/kernel").clone();
      for (int j = 0; j < sgdKernel.length; j++) {
        sgdKernel[j] -= eta * ratio * g[3][j];
      }
      double kernelGap =
          Close.relativeError(Tensors.fetch(session, model.params.get("dense1/kernel")), sgdKernel);
      assertTrue(kernelGap > 1e-3, "dense1/kernel took the momentum rule: " + kernelGap);
      assertTrains(session, step, model, initialLoss, "FROG");
    } finally {
      model.graph.close();
    }
  }

  /** FISMO and Muon: the rank-3 dense kernels are matrices, γ and β go to the fallback (Adam). */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"FISMO", "Muon"})
  void matrixOptimizersSendTheLayerNormToTheFallbackAndTrain(String which) {
    ReferenceModel<TFloat32> model = new ReferenceModel<>(Reference.load(TFM32), TFloat32.class);
    BiFunction<Graph, Double, GuardedOptimizer> build =
        which.equals("FISMO")
            ? (g, lr) -> Fismo.builder().learningRate(lr).build(g)
            : (g, lr) -> Muon.builder().learningRate(lr).build(g);
    GuardedOptimizer optimizer = build.apply(model.graph, 0.02);
    Op step = optimizer.minimize(model.loss);
    for (String norm : List.of("ln/gamma", "ln/beta")) {
      Output<TFloat32> v = model.params.get(norm).asOutput();
      assertTrue(optimizer.getSlot(v, "m").isPresent(), norm + " has Adam's m");
      assertTrue(optimizer.getSlot(v, "v").isPresent(), norm + " has Adam's v");
      assertTrue(optimizer.getSlot(v, "momentum").isEmpty(), norm + " has no matrix momentum");
    }
    for (String kernel : List.of("dense1/kernel", "dense2/kernel")) {
      Output<TFloat32> v = model.params.get(kernel).asOutput();
      assertTrue(optimizer.getSlot(v, "m").isEmpty(), kernel + " is not in the fallback");
    }
    try (Session session = new Session(model.graph)) {
      session.initialize();
      assertTrains(session, step, model, Tensors.scalar(session, model.loss), which);
    } finally {
      model.graph.close();
    }
  }

  private static Map<String, double[]> fetchAll(Session session, ReferenceModel<?> model) {
    Map<String, double[]> out = new java.util.LinkedHashMap<>();
    model.params.forEach((name, v) -> out.put(name, Tensors.fetch(session, v)));
    return out;
  }

  /** 30 steps: the loss stays finite and ends clearly below where it started. */
  private static void assertTrains(
      Session session, Op step, ReferenceModel<?> model, double initialLoss, String what) {
    double loss = initialLoss;
    for (int t = 0; t < 30; t++) {
      session.run(step);
      loss = Tensors.scalar(session, model.loss);
      assertTrue(Double.isFinite(loss), what + ": loss " + loss + " after step " + (t + 1));
    }
    assertTrue(
        loss < 0.8 * initialLoss, what + ": loss " + initialLoss + " → " + loss + " in 30 steps");
  }
}
