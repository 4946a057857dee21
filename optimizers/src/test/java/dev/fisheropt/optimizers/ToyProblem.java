package dev.fisheropt.optimizers;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * Small learnable classification problems with fixed data and initial weights:
 *
 * <ul>
 *   <li>MLP: x[64,10] → Dense(10→8, tanh) → Dense(8→4); labels from a random linear teacher;
 *   <li>CNN: x[32,8,8,1] with a bright 2×2 spot in one quadrant (the label) plus noise →
 *       Conv2D(1→4, 3×3, SAME, relu) → flatten → Dense(256→4).
 * </ul>
 *
 * Every kernel has at least as many rows as columns, so Muon's shape scale is 1 on all of them.
 */
final class ToyProblem<T extends TFloating> implements AutoCloseable {
  enum Kind {
    MLP,
    CNN
  }

  final Graph graph = new Graph();
  final Ops tf = Ops.create(graph);
  final Class<T> type;
  final Placeholder<T> x;
  final Placeholder<TInt32> y;
  final List<Variable<T>> params = new ArrayList<>();
  final Operand<T> loss;
  private final long[] inputShape;
  private final double[] inputs;
  private final int[] labels;

  ToyProblem(Kind kind, Class<T> type, long seed) {
    this.type = type;
    Random random = new Random(seed);
    if (kind == Kind.MLP) {
      inputShape = new long[] {64, 10};
      inputs = RandomArrays.gaussian(random, 64 * 10, 1.0);
      double[] teacher = RandomArrays.gaussian(random, 10 * 4, 1.0);
      labels = new int[64];
      for (int b = 0; b < 64; b++) {
        labels[b] = argmaxOfProduct(inputs, b, 10, teacher, 4);
      }
    } else {
      inputShape = new long[] {32, 8, 8, 1};
      inputs = RandomArrays.gaussian(random, 32 * 64, 0.3);
      labels = new int[32];
      for (int b = 0; b < 32; b++) {
        labels[b] = random.nextInt(4);
        int row = 1 + 4 * (labels[b] / 2);
        int col = 1 + 4 * (labels[b] % 2);
        for (int dr = 0; dr < 2; dr++) {
          for (int dc = 0; dc < 2; dc++) {
            inputs[b * 64 + (row + dr) * 8 + col + dc] += 2.0;
          }
        }
      }
    }
    x = tf.withName("x").placeholder(type, Placeholder.shape(Shape.of(inputShape)));
    y = tf.withName("y").placeholder(TInt32.class, Placeholder.shape(Shape.of(inputShape[0])));
    Operand<T> logits;
    if (kind == Kind.MLP) {
      Operand<T> h = tf.math.tanh(dense("dense1", x, 10, 8, random));
      logits = dense("dense2", h, 8, 4, random);
    } else {
      Ops layer = tf.withSubScope("conv");
      Variable<T> kernel =
          param(
              layer, "kernel", new long[] {3, 3, 1, 4}, RandomArrays.gaussian(random, 36, 1.0 / 3));
      Variable<T> bias = param(layer, "bias", new long[] {4}, new double[4]);
      Operand<T> conv =
          tf.nn.biasAdd(
              tf.nn.conv2d(x, kernel, List.of(1L, 1L, 1L, 1L), "SAME", Conv2d.dataFormat("NHWC")),
              bias);
      Operand<T> flat = tf.reshape(tf.nn.relu(conv), tf.constant(new long[] {32, 256}));
      logits = dense("dense", flat, 256, 4, random);
    }
    loss = SoftmaxCrossEntropy.mean(tf, logits, y, 4);
  }

  private Operand<T> dense(String scope, Operand<T> in, int fanIn, int fanOut, Random random) {
    Ops layer = tf.withSubScope(scope);
    Variable<T> kernel =
        param(
            layer,
            "kernel",
            new long[] {fanIn, fanOut},
            RandomArrays.gaussian(random, fanIn * fanOut, 1.0 / Math.sqrt(fanIn)));
    Variable<T> bias = param(layer, "bias", new long[] {fanOut}, new double[fanOut]);
    return tf.math.add(tf.linalg.matMul(in, kernel), bias);
  }

  private Variable<T> param(Ops layer, String name, long[] shape, double[] init) {
    Variable<T> v =
        layer.withName(name).variable(Tensors.constant(tf.withInitScope(), type, shape, init));
    params.add(v);
    return v;
  }

  /** Runs {@code target} on the problem's batch (with one NaN input when {@code poisoned}). */
  void run(Session session, Op target, boolean poisoned) {
    double[] data = inputs.clone();
    if (poisoned) {
      data[3] = Double.NaN;
    }
    try (Tensor xs = Tensors.tensorOf(type, inputShape, data);
        TInt32 ys = TInt32.tensorOf(Shape.of(labels.length), DataBuffers.of(labels, true, false))) {
      session.runner().feed(x, xs).feed(y, ys).addTarget(target).run();
    }
  }

  double loss(Session session) {
    try (Tensor xs = Tensors.tensorOf(type, inputShape, inputs);
        TInt32 ys = TInt32.tensorOf(Shape.of(labels.length), DataBuffers.of(labels, true, false));
        var r = session.runner().feed(x, xs).feed(y, ys).fetch(loss).run()) {
      return Tensors.toDoubles(r.get(0))[0];
    }
  }

  private static int argmaxOfProduct(double[] xs, int row, int k, double[] w, int n) {
    int best = 0;
    double bestValue = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      double v = 0;
      for (int i = 0; i < k; i++) {
        v += xs[row * k + i] * w[i * n + j];
      }
      if (v > bestValue) {
        bestValue = v;
        best = j;
      }
    }
    return best;
  }

  @Override
  public void close() {
    graph.close();
  }
}
