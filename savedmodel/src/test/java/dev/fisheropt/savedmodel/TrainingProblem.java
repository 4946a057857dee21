package dev.fisheropt.savedmodel;

import dev.fisheropt.ops.CustomOps;
import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.optimizers.LayerCollection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.framework.optimizers.Optimizer;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * A small float32 classifier trained on a fixed stream of batches: {@code x[16,6] → Dense(6→8) →
 * tanh → Dense(8→4) → softmax cross-entropy}, built in a live session with the optimizer of an
 * {@link OptimizerCase} and a {@link TrainingExport}. Batch {@code i} is the same in every JVM, so
 * a run resumed in another process sees the batches the uninterrupted run saw.
 */
final class TrainingProblem implements AutoCloseable {
  static final int FEATURES = 6;
  static final int HIDDEN = 8;
  static final int CLASSES = 4;
  static final int BATCH = 16;

  /** Signature input names. */
  static final String X = "x";

  static final String LABELS = "labels";
  static final String LOGITS = "logits";

  final Graph graph = new Graph();
  final Ops tf = Ops.create(graph);
  final Placeholder<TFloat32> x;
  final Placeholder<TInt32> labels;
  final List<Variable<TFloat32>> params = new ArrayList<>();
  final Operand<TFloat32> logits;
  final Operand<TFloat32> loss;
  final Optimizer optimizer;
  final Session session;
  final TrainingExport export;
  private final LayerCollection layers = new LayerCollection();

  TrainingProblem(OptimizerCase optimizerCase) {
    x = tf.withName(X).placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, FEATURES)));
    labels = tf.withName(LABELS).placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    Random init = new Random(7);
    Variable<TFloat32> k1 = param(optimizerCase, "dense1", "kernel", init, FEATURES, HIDDEN);
    Variable<TFloat32> b1 = param(optimizerCase, "dense1", "bias", init, HIDDEN);
    Variable<TFloat32> k2 = param(optimizerCase, "dense2", "kernel", init, HIDDEN, CLASSES);
    Variable<TFloat32> b2 = param(optimizerCase, "dense2", "bias", init, CLASSES);
    Operand<TFloat32> z1 = tf.math.add(tf.linalg.matMul(x, k1), b1);
    Operand<TFloat32> hidden = tf.math.tanh(z1);
    logits = tf.withName(LOGITS).math.add(tf.linalg.matMul(hidden, k2), b2);
    loss = SoftmaxCrossEntropy.mean(tf, logits, labels, CLASSES);
    layers.registerFullyConnected(k1, b1, x, z1);
    layers.registerFullyConnected(k2, b2, hidden, logits);
    optimizer = optimizerCase.optimizer(this);
    Op step = optimizer.minimize(loss);
    session = new Session(graph);
    session.initialize();
    export =
        TrainingExport.builder(session)
            .input(X, x)
            .label(LABELS, labels)
            .prediction(LOGITS, logits)
            .loss(loss)
            .step(step)
            .build();
  }

  /**
   * The op types of the fisheropt op library ({@link CustomOps#OP_TYPES}) the graph runs, in its
   * nodes or inside its functions: non-empty for {@code polar(FUSED)} where the library loaded.
   */
  Set<String> libraryOps() {
    Set<String> used =
        new TreeSet<>(
            MetaGraphs.opTypes(MetaGraphDef.newBuilder().setGraphDef(graph.toGraphDef()).build()));
    used.retainAll(CustomOps.OP_TYPES);
    return used;
  }

  /**
   * The dense layers, registered for optimizers that need each layer's inputs and pre-activations.
   */
  LayerCollection layers() {
    return layers;
  }

  /**
   * Trains on batches {@code first, first+1, …} through the op the {@code train} signature runs.
   */
  void train(int first, int steps) {
    for (int i = first; i < first + steps; i++) {
      try (TFloat32 xb = features(i);
          TInt32 yb = labels(i)) {
        session.runner().feed(x, xb).feed(labels, yb).fetch(export.trainOutput()).run().close();
      }
    }
  }

  /**
   * The feeds of the {@code train} signature for batch {@code i}; the caller closes the tensors.
   */
  static Map<String, Tensor> trainFeeds(int i) {
    return Map.of(X, features(i), LABELS, labels(i));
  }

  /** Inputs of batch {@code i}: uniform in [−2, 2), the same in every JVM. */
  static TFloat32 features(int i) {
    Random r = new Random(1_000 + i);
    float[] v = new float[BATCH * FEATURES];
    for (int j = 0; j < v.length; j++) {
      v[j] = 4 * r.nextFloat() - 2;
    }
    return TFloat32.tensorOf(Shape.of(BATCH, FEATURES), DataBuffers.of(v, true, false));
  }

  /**
   * Labels of batch {@code i}: which of the first four features is largest, so that there is
   * something to learn.
   */
  static TInt32 labels(int i) {
    try (TFloat32 xb = features(i)) {
      int[] y = new int[BATCH];
      for (int b = 0; b < BATCH; b++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++) {
          if (xb.getFloat(b, c) > xb.getFloat(b, best)) {
            best = c;
          }
        }
        y[b] = best;
      }
      return TInt32.vectorOf(y);
    }
  }

  private Variable<TFloat32> param(
      OptimizerCase c, String layer, String kind, Random init, long... shape) {
    int n = (int) Shape.of(shape).size();
    float[] v = new float[n];
    float scale = (float) (1.0 / Math.sqrt(shape[0]));
    for (int j = 0; j < n; j++) {
      v[j] =
          kind.equals("bias")
              ? 0.1f * (float) init.nextGaussian()
              : scale * (float) init.nextGaussian();
    }
    Operand<TFloat32> value =
        tf.withInitScope().constant(Shape.of(shape), DataBuffers.of(v, true, false));
    Variable<TFloat32> variable =
        c.scopedNames()
            ? tf.withSubScope(layer).withName(kind).variable(value)
            : tf.withName(layer + "_" + kind).variable(value);
    params.add(variable);
    return variable;
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
