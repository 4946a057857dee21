package dev.fisheropt.optimizers;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Layers;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.types.family.TFloating;

/**
 * The reference problems as TF-Java graphs with variables named as in the reference files: mlp
 * {@code x → Dense(6→8) → tanh → Dense(8→4) → CE}, cnn {@code x → Conv2D(3→5, 3×3, SAME) → relu →
 * global mean pool → Dense(5→4) → CE} and tfm {@code x[B,T,6] → Dense(6→8) at every position →
 * LayerNorm(8) → tanh → Dense(8→4) at every position → mean over time → CE}.
 */
final class ReferenceModel<T extends TFloating> {
  final Graph graph;
  final Ops tf;
  final Map<String, Variable<T>> params = new LinkedHashMap<>();
  final Operand<T> input;
  final Operand<T> preactivations1;

  /** tfm only: the layer norm's output (null otherwise). */
  final Operand<T> normalized;

  final Operand<T> hidden;

  /** The last dense layer's output: the logits, or for tfm the per-position logits. */
  final Operand<T> preactivations2;

  /**
   * tfm only: each dense layer's inputs and pre-activations flattened to [B·T, features] rows (the
   * rank-3 tensors are reshapes of these), for registering the same layers as rank-2 ones.
   */
  final List<Operand<T>> rows = new ArrayList<>();

  final Operand<T> logits;
  final Operand<T> loss;

  ReferenceModel(Reference ref, Class<T> type) {
    graph = new Graph();
    tf = Ops.create(graph);
    for (Map.Entry<String, Reference.Tensor> e : ref.initialParams.entrySet()) {
      String[] parts = e.getKey().split("/");
      Operand<T> init =
          Tensors.constant(tf.withInitScope(), type, e.getValue().shape(), e.getValue().data());
      params.put(e.getKey(), tf.withSubScope(parts[0]).withName(parts[1]).variable(init));
    }
    input = Tensors.constant(tf, type, ref.input.shape(), ref.input.data());
    Operand<T> norm = null;
    if (ref.problem.equals("mlp")) {
      preactivations1 =
          tf.math.add(
              tf.linalg.matMul(input, params.get("dense1/kernel")), params.get("dense1/bias"));
      hidden = tf.math.tanh(preactivations1);
      logits =
          tf.math.add(
              tf.linalg.matMul(hidden, params.get("dense2/kernel")), params.get("dense2/bias"));
      preactivations2 = logits;
    } else if (ref.problem.equals("tfm")) {
      preactivations1 =
          sequenceDense(tf, input, params.get("dense1/kernel"), params.get("dense1/bias"), rows);
      norm =
          Layers.layerNorm(
              tf,
              preactivations1,
              params.get("ln/gamma"),
              params.get("ln/beta"),
              ref.layerNormEpsilon);
      hidden = tf.math.tanh(norm);
      preactivations2 =
          sequenceDense(tf, hidden, params.get("dense2/kernel"), params.get("dense2/bias"), rows);
      logits = tf.math.mean(preactivations2, tf.constant(1));
    } else {
      Operand<T> conv =
          tf.nn.conv2d(
              input,
              params.get("conv/kernel"),
              List.of(1L, 1L, 1L, 1L),
              "SAME",
              Conv2d.dataFormat("NHWC"));
      preactivations1 = tf.nn.biasAdd(conv, params.get("conv/bias"));
      hidden = tf.math.mean(tf.nn.relu(preactivations1), tf.constant(new int[] {1, 2}));
      logits =
          tf.math.add(
              tf.linalg.matMul(hidden, params.get("dense/kernel")), params.get("dense/bias"));
      preactivations2 = logits;
    }
    normalized = norm;
    loss = SoftmaxCrossEntropy.mean(tf, logits, tf.constant(ref.labels), ref.numClasses);
  }

  /** X·W over the last axis of X [B, T, in]: a reshape to [B·T, in], a matmul and back. */
  static <T extends TFloating> Operand<T> sequenceMatMul(Ops tf, Operand<T> x, Operand<T> kernel) {
    return sequenceDense(tf, x, kernel, null, new ArrayList<>());
  }

  /**
   * X·W (+ b) over the last axis of X [B, T, in], as [B·T, in] rows reshaped back to [B, T, out];
   * the rows and their pre-activations are appended to {@code rows}.
   */
  static <T extends TFloating> Operand<T> sequenceDense(
      Ops tf, Operand<T> x, Operand<T> kernel, Operand<T> bias, List<Operand<T>> rows) {
    long[] xs = x.shape().asArray();
    long out = kernel.shape().size(1);
    Operand<T> in = tf.reshape(x, tf.constant(new long[] {-1, xs[2]}));
    Operand<T> z = tf.linalg.matMul(in, kernel);
    if (bias != null) {
      z = tf.math.add(z, bias);
    }
    rows.add(in);
    rows.add(z);
    return tf.reshape(z, tf.constant(new long[] {xs[0], xs[1], out}));
  }

  /**
   * One step of a reference trajectory: fails unless the loss before it matches {@code expected}'s
   * within {@code tolerance} (relative), runs {@code step}, then fails unless every parameter
   * matches. Messages start with {@code at}.
   */
  void assertStep(Session session, Op step, Reference.Step expected, String at, double tolerance) {
    Close.assertClose(
        tolerance, at + " loss before", Tensors.scalar(session, loss), expected.lossBefore());
    session.run(step);
    for (Map.Entry<String, Reference.Tensor> e : expected.params().entrySet()) {
      Close.assertClose(
          tolerance,
          at + " " + e.getKey(),
          Tensors.fetch(session, params.get(e.getKey())),
          e.getValue().data());
    }
  }

  /**
   * The tfm problem's layers with its dense layers registered on their flattened [B·T, features]
   * rows instead of the [B, T, features] tensors.
   */
  LayerCollection layersOnRows() {
    return new LayerCollection()
        .registerFullyConnected(
            params.get("dense1/kernel"), params.get("dense1/bias"), rows.get(0), rows.get(1))
        .registerLayerNorm(
            params.get("ln/gamma"), params.get("ln/beta"), preactivations1, normalized)
        .registerFullyConnected(
            params.get("dense2/kernel"), params.get("dense2/bias"), rows.get(2), rows.get(3));
  }

  /** Every layer of the problem, registered for the layer-wise optimizers. */
  LayerCollection layers() {
    LayerCollection layers = new LayerCollection();
    if (params.containsKey("ln/gamma")) {
      layers.registerFullyConnected(
          params.get("dense1/kernel"), params.get("dense1/bias"), input, preactivations1);
      layers.registerLayerNorm(
          params.get("ln/gamma"), params.get("ln/beta"), preactivations1, normalized);
      layers.registerFullyConnected(
          params.get("dense2/kernel"), params.get("dense2/bias"), hidden, preactivations2);
    } else if (params.containsKey("dense1/kernel")) {
      layers.registerFullyConnected(
          params.get("dense1/kernel"), params.get("dense1/bias"), input, preactivations1);
      layers.registerFullyConnected(
          params.get("dense2/kernel"), params.get("dense2/bias"), hidden, logits);
    } else {
      layers.registerConv2d(
          params.get("conv/kernel"),
          params.get("conv/bias"),
          new long[] {1, 1, 1, 1},
          "SAME",
          input,
          preactivations1);
      layers.registerFullyConnected(
          params.get("dense/kernel"), params.get("dense/bias"), hidden, logits);
    }
    return layers;
  }
}
