package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * FROG as a user meets it: a small CNN whose conv and dense layers are registered trains, reruns
 * are bit-identical, a NaN batch changes nothing but the skip counter, and bad settings fail at
 * once.
 */
class FrogTest {
  private static final int BATCH = 32;
  private static final int SIZE = 8;

  /**
   * x [?, 8, 8, 1] → Conv2D(1→4, 3×3, stride 2, SAME, bias) → relu → flatten → Dense(64→2, bias),
   * with a dynamic batch dimension so that the sample is drawn at run time.
   */
  private static final class Cnn implements AutoCloseable {
    final Graph graph = new Graph();
    final Ops tf = Ops.create(graph);
    final Placeholder<TFloat32> x =
        tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, SIZE, SIZE, 1)));
    final Placeholder<TInt32> labels =
        tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    final List<Variable<TFloat32>> params = new ArrayList<>();
    final Operand<TFloat32> loss;
    final Op step;
    final Frog frog;

    Cnn(Consumer<Frog.Builder> settings) {
      Random random = new Random(5);
      Variable<TFloat32> convKernel = variable("conv", "kernel", random, 0.4, 3, 3, 1, 4);
      Variable<TFloat32> convBias = variable("conv", "bias", random, 0.0, 4);
      Variable<TFloat32> denseKernel = variable("dense", "kernel", random, 0.2, 64, 2);
      Variable<TFloat32> denseBias = variable("dense", "bias", random, 0.0, 2);
      Operand<TFloat32> z1 =
          tf.nn.biasAdd(
              tf.nn.conv2d(
                  x, convKernel, List.of(1L, 2L, 2L, 1L), "SAME", Conv2d.dataFormat("NHWC")),
              convBias);
      Operand<TFloat32> h = tf.reshape(tf.nn.relu(z1), tf.constant(new int[] {-1, 64}));
      Operand<TFloat32> logits = tf.math.add(tf.linalg.matMul(h, denseKernel), denseBias);
      loss = SoftmaxCrossEntropy.mean(tf, logits, labels, 2);
      LayerCollection layers =
          new LayerCollection()
              .registerConv2d(convKernel, convBias, new long[] {1, 2, 2, 1}, "SAME", x, z1)
              .registerFullyConnected(denseKernel, denseBias, h, logits);
      Frog.Builder b = Frog.builder().layers(layers).learningRate(0.05).sampleSize(8);
      settings.accept(b);
      frog = b.build(graph);
      step = frog.minimize(loss);
    }

    private Variable<TFloat32> variable(
        String scope, String name, Random random, double scale, long... shape) {
      double[] data = RandomArrays.gaussian(random, (int) Shape.of(shape).size(), scale);
      Variable<TFloat32> v =
          tf.withSubScope(scope)
              .withName(name)
              .variable(Tensors.constant(tf.withInitScope(), TFloat32.class, shape, data));
      params.add(v);
      return v;
    }

    /** Every variable of the graph: parameters, momentum slots, counters, hyperparameters. */
    List<Operand<?>> state() {
      List<Operand<?>> all = new ArrayList<>(params);
      all.addAll(frog.slotVariables());
      all.add(frog.stepCount());
      all.add(frog.skippedSteps());
      all.addAll(frog.hyperparameters().values());
      return all;
    }

    @Override
    public void close() {
      graph.close();
    }
  }

  /** Class 0 is bright in the top half, class 1 in the bottom half, both under Gaussian noise. */
  private static float[] images(int[] labels, long seed) {
    Random random = new Random(seed);
    float[] data = new float[labels.length * SIZE * SIZE];
    for (int b = 0; b < labels.length; b++) {
      labels[b] = b % 2;
      for (int i = 0; i < SIZE; i++) {
        for (int j = 0; j < SIZE; j++) {
          boolean lit = (i < SIZE / 2) == (labels[b] == 0);
          data[(b * SIZE + i) * SIZE + j] =
              (float) ((lit ? 0.5 : 0.0) + 0.5 * random.nextGaussian());
        }
      }
    }
    return data;
  }

  private static double run(
      Cnn model, Session session, float[] images, int[] labels, boolean train) {
    try (TFloat32 xs =
            TFloat32.tensorOf(Shape.of(labels.length, SIZE, SIZE, 1), DataBuffers.of(images));
        TInt32 ys = TInt32.vectorOf(labels)) {
      Session.Runner runner = session.runner().feed(model.x, xs).feed(model.labels, ys);
      if (train) {
        runner.addTarget(model.step);
      } else {
        runner.fetch(model.loss);
      }
      try (var result = runner.run()) {
        return train ? Double.NaN : ((TFloat32) result.get(0)).getFloat();
      }
    }
  }

  /**
   * The state after {@code steps} training steps on two alternating batches; {@code losses} gets
   * the loss on a third, unseen batch before and after.
   */
  private static double[][] train(int steps, double[] losses) {
    int[] labelsA = new int[BATCH];
    int[] labelsB = new int[BATCH];
    int[] labelsC = new int[BATCH];
    float[] a = images(labelsA, 1);
    float[] b = images(labelsB, 2);
    float[] c = images(labelsC, 3);
    try (Cnn model = new Cnn(s -> {});
        Session session = new Session(model.graph)) {
      session.initialize();
      if (losses != null) {
        losses[0] = run(model, session, c, labelsC, false);
      }
      for (int t = 0; t < steps; t++) {
        run(model, session, t % 2 == 0 ? a : b, t % 2 == 0 ? labelsA : labelsB, true);
      }
      if (losses != null) {
        losses[1] = run(model, session, c, labelsC, false);
      }
      return Tensors.fetch(session, model.state());
    }
  }

  @Test
  void trainsASmallCnnToAClearlyLowerLossOnUnseenData() {
    double[] losses = new double[2];
    train(30, losses);
    assertTrue(losses[1] < 0.25 * losses[0], "loss " + losses[0] + " → " + losses[1]);
  }

  @Test
  void rerunsAreBitIdentical() {
    double[][] first = train(6, null);
    double[][] second = train(6, null);
    for (int i = 0; i < first.length; i++) {
      assertArrayEquals(first[i], second[i], 0.0, "state variable " + i);
    }
  }

  @Test
  void aNanBatchLeavesEveryVariableUnchangedAndCountsASkippedStep() {
    int[] labels = new int[BATCH];
    float[] good = images(labels, 1);
    float[] bad = good.clone();
    bad[17] = Float.NaN;
    try (Cnn model = new Cnn(s -> {});
        Session session = new Session(model.graph)) {
      session.initialize();
      run(model, session, good, labels, true);
      double[][] before = Tensors.fetch(session, model.state());
      run(model, session, bad, labels, true);
      double[][] after = Tensors.fetch(session, model.state());
      List<Operand<?>> state = model.state();
      for (int i = 0; i < before.length; i++) {
        if (state.get(i) == model.frog.skippedSteps()) {
          assertEquals(before[i][0] + 1, after[i][0], "skipped_steps");
        } else {
          assertArrayEquals(before[i], after[i], 0.0, "variable " + state.get(i).op().name());
        }
      }
      assertEquals(
          1.0, Tensors.scalar(session, model.frog.stepCount()), "only the finite step counts");
    }
  }

  @Test
  void rejectsBadSettingsNamingTheSettingAndValue() {
    assertRejected(() -> Frog.builder().learningRate(0), "learningRate", "0.0");
    assertRejected(() -> Frog.builder().momentum(1.0), "momentum", "1.0");
    assertRejected(() -> Frog.builder().damping(-1e-6), "damping", "-1.0E-6");
    assertRejected(() -> Frog.builder().weightDecay(Double.NaN), "weightDecay", "NaN");
    assertRejected(() -> Frog.builder().sampleSize(0), "sampleSize", "0");
    assertRejected(() -> Frog.builder().cgIterations(0), "cgIterations", "0");
    assertRejected(
        () -> Frog.builder().otherLearningRateRatio(-0.25), "otherLearningRateRatio", "-0.25");
    assertRejected(() -> Frog.builder().denominatorGuard(0), "denominatorGuard", "0.0");
    assertRejected(() -> Frog.builder().layers(null), "layers", "null");
  }

  @Test
  void defaultsAreTheDesignsAndLiveInVariables() {
    try (Graph g = new Graph();
        Session session = new Session(g)) {
      Frog frog = new Frog(g);
      session.initialize();
      assertEquals(1e-3, Tensors.scalar(session, frog.hyperparameters().get("learning_rate")));
      assertEquals(0.9, Tensors.scalar(session, frog.hyperparameters().get("momentum")));
      assertEquals(1e-6, Tensors.scalar(session, frog.hyperparameters().get("damping")));
      assertEquals(0.0, Tensors.scalar(session, frog.hyperparameters().get("weight_decay")));
      assertEquals(
          0.25, Tensors.scalar(session, frog.hyperparameters().get("other_learning_rate_ratio")));
      assertEquals(24, Frog.SAMPLE_SIZE_DEFAULT);
      assertEquals(4, Frog.CG_ITERATIONS_DEFAULT);
    }
  }

  private static void assertRejected(Runnable setting, String name, String value) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, setting::run);
    assertTrue(e.getMessage().contains(name) && e.getMessage().contains(value), e.getMessage());
  }
}
