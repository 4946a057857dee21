package dev.fisheropt.distributed;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.optimizers.AdaFisher;
import dev.fisheropt.optimizers.AdaFisherW;
import dev.fisheropt.optimizers.ElementwiseOptimizer;
import dev.fisheropt.optimizers.Fallback;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.Frog;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.LayerCollection;
import dev.fisheropt.optimizers.Muon;
import dev.fisheropt.optimizers.Replicas;
import dev.fisheropt.testing.Layers;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * A float64 CNN trained on a fixed stream of global batches, by one process on the whole batch or
 * by replica k of N on rows [k·B/N, (k+1)·B/N): {@code x[B,6,6,1] → conv 3×3×1→4 SAME + b → relu →
 * dense 144→5 + b → softmax cross-entropy}, both layers registered for AdaFisher and FROG (for
 * {@link Case#ADAFISHER_LAYER_NORM} a layer norm between the relu and the dense layer).
 */
final class ParallelProblem implements AutoCloseable {
  static final int GLOBAL_BATCH = 16;
  static final int SIDE = 6;
  static final int CHANNELS = 4;
  static final int CLASSES = 5;

  /** The optimizers under test, by name; each is small enough to train in a test. */
  enum Case {
    FISMO,
    FISMO_SHARDED,
    MUON,
    ADAFISHER,
    ADAFISHERW,
    /** AdaFisher with a layer norm before the dense layer: its statistics square batch sums. */
    ADAFISHER_LAYER_NORM,
    FROG,
    ADAM;

    /**
     * The name scope of this case's model and optimizer: a worker's server keeps every variable by
     * name for all its sessions, so each case's graph needs names of its own.
     */
    String scope() {
      return name().toLowerCase(Locale.ROOT);
    }

    GuardedOptimizer build(Graph g, LayerCollection layers) {
      String opt = scope() + "_optimizer";
      return switch (this) {
        case FISMO ->
            Fismo.builder().name(opt).learningRate(0.05).preconditionerInterval(2).build(g);
        case FISMO_SHARDED ->
            Fismo.builder()
                .name(opt)
                .learningRate(0.05)
                .preconditionerInterval(2)
                .shardedRoots(true)
                .build(g);
        case MUON -> Muon.builder().name(opt).learningRate(0.05).build(g);
        case ADAFISHER, ADAFISHER_LAYER_NORM ->
            AdaFisher.builder()
                .name(opt)
                .layers(layers)
                .learningRate(0.01)
                .fisherInterval(2)
                .build(g);
        case ADAFISHERW ->
            AdaFisherW.builder()
                .name(opt)
                .layers(layers)
                .learningRate(0.01)
                .fisherInterval(1)
                .weightDecay(0.01)
                .build(g);
        case FROG ->
            Frog.builder().name(opt).layers(layers).learningRate(0.05).sampleSize(12).build(g);
        case ADAM ->
            ElementwiseOptimizer.builder(Fallback.adam()).name(opt).learningRate(0.01).build(g);
      };
    }
  }

  final Graph graph = new Graph();
  final Ops tf;
  private final ParallelProblem.Case problemCase;
  final Placeholder<TFloat64> x;
  final Placeholder<TInt32> labels;
  final Op step;
  private final int replicas;
  private final int index;

  /**
   * The problem as replica {@code index} of {@code replicas} sees it, trained with {@code c};
   * {@code initSeed} seeds the initial weights (a replica's own, before the broadcast).
   */
  ParallelProblem(Case c, Replicas r, long initSeed) {
    this(c, r, initSeed, 1);
  }

  /**
   * As {@link #ParallelProblem(Case, Replicas, long)}, with the model built {@code shards} times in
   * the graph, each copy on the next 1/S of the replica's rows, and the step built from their
   * losses.
   */
  ParallelProblem(Case c, Replicas r, long initSeed, int shards) {
    this.replicas = r.count();
    this.index = r.index();
    this.problemCase = c;
    tf = Ops.create(graph).withSubScope(c.scope());
    x =
        tf.withName("x")
            .placeholder(TFloat64.class, Placeholder.shape(Shape.of(-1, SIDE, SIDE, 1)));
    labels = tf.withName("labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    Random init = new Random(initSeed);
    Variable<TFloat64> k1 = param("conv", "kernel", init, 1.0 / 3, 3, 3, 1, CHANNELS);
    Variable<TFloat64> b1 = param("conv", "bias", init, 0.1, CHANNELS);
    Variable<TFloat64> k2 =
        param("dense", "kernel", init, 1.0 / 12, SIDE * SIDE * CHANNELS, CLASSES);
    Variable<TFloat64> b2 = param("dense", "bias", init, 0.1, CLASSES);
    boolean norm = c == Case.ADAFISHER_LAYER_NORM;
    Variable<TFloat64> gamma =
        norm ? param("norm", "gamma", init, 0.1, SIDE * SIDE * CHANNELS) : null;
    Variable<TFloat64> beta =
        norm ? param("norm", "beta", init, 0.1, SIDE * SIDE * CHANNELS) : null;
    List<? extends Operand<TFloat64>> xs =
        shards == 1 ? List.of(x) : tf.split(tf.constant(0), x, (long) shards).output();
    List<? extends Operand<TInt32>> ys =
        shards == 1 ? List.of(labels) : tf.split(tf.constant(0), labels, (long) shards).output();
    LayerCollection layers = new LayerCollection();
    List<Operand<TFloat64>> losses = new ArrayList<>();
    for (int k = 0; k < shards; k++) {
      Operand<TFloat64> z1 =
          tf.math.add(tf.nn.conv2d(xs.get(k), k1, List.of(1L, 1L, 1L, 1L), "SAME"), b1);
      Operand<TFloat64> h =
          tf.reshape(tf.nn.relu(z1), tf.constant(new long[] {-1, SIDE * SIDE * CHANNELS}));
      Operand<TFloat64> features =
          norm ? Layers.layerNorm(tf, h, tf.math.add(gamma, tf.constant(1.0)), beta, 1e-5) : h;
      Operand<TFloat64> logits = tf.math.add(tf.linalg.matMul(features, k2), b2);
      losses.add(SoftmaxCrossEntropy.mean(tf, logits, ys.get(k), CLASSES));
      if (k == 0) {
        layers
            .registerConv2d(k1, b1, new long[] {1, 1, 1, 1}, "SAME", xs.get(k), z1)
            .registerFullyConnected(k2, b2, features, logits);
        if (norm) {
          layers.registerLayerNorm(gamma, beta, h, features);
        }
      } else {
        layers.registerShard(k1, xs.get(k), z1).registerShard(k2, features, logits);
        if (norm) {
          layers.registerShard(gamma, h, features);
        }
      }
    }
    step = c.build(graph, layers).minimize(losses, r);
  }

  /** Runs steps {@code first … first+count−1} on this replica's share of each global batch. */
  void train(Session s, int first, int count) {
    for (int i = first; i < first + count; i++) {
      try (TFloat64 xb = features(i);
          TInt32 yb = labels(i)) {
        s.runner().feed(x, xb).feed(labels, yb).addTarget(step).run();
      }
    }
  }

  /**
   * Every variable of the graph (parameters, slots, counters), as doubles, by name without the
   * case's scopes ({@code conv/kernel-P}, {@code optimizer/step}).
   */
  Map<String, double[]> state(Session s) {
    Map<String, double[]> out = new TreeMap<>();
    Iterator<GraphOperation> ops = graph.operations();
    while (ops.hasNext()) {
      GraphOperation op = ops.next();
      if ("VariableV2".equals(op.type())) {
        try (Tensor t = s.runner().fetch(op.name()).run().get(0)) {
          String name =
              op.name()
                  .replace(problemCase.scope() + "_optimizer/", "optimizer/")
                  .replace(problemCase.scope() + "/", "");
          out.put(name, Tensors.toDoubles(t));
        }
      }
    }
    return out;
  }

  private int rows() {
    return GLOBAL_BATCH / replicas;
  }

  /** This replica's rows of global batch {@code i}: inputs uniform in [−1, 1). */
  TFloat64 features(int i) {
    double[] all = globalFeatures(i);
    int per = SIDE * SIDE;
    double[] mine = new double[rows() * per];
    System.arraycopy(all, index * rows() * per, mine, 0, mine.length);
    return TFloat64.tensorOf(Shape.of(rows(), SIDE, SIDE, 1), DataBuffers.of(mine, true, false));
  }

  /** This replica's labels of global batch {@code i}: the 6×6 image's brightest row, mod 5. */
  TInt32 labels(int i) {
    double[] all = globalFeatures(i);
    int[] y = new int[rows()];
    for (int b = 0; b < rows(); b++) {
      int sample = index * rows() + b;
      int best = 0;
      double bestSum = Double.NEGATIVE_INFINITY;
      for (int row = 0; row < SIDE; row++) {
        double sum = 0;
        for (int col = 0; col < SIDE; col++) {
          sum += all[sample * SIDE * SIDE + row * SIDE + col];
        }
        if (sum > bestSum) {
          bestSum = sum;
          best = row;
        }
      }
      y[b] = best % CLASSES;
    }
    return TInt32.vectorOf(y);
  }

  private static double[] globalFeatures(int i) {
    Random r = new Random(1_000 + i);
    double[] v = new double[GLOBAL_BATCH * SIDE * SIDE];
    for (int j = 0; j < v.length; j++) {
      v[j] = 2 * r.nextDouble() - 1;
    }
    return v;
  }

  private Variable<TFloat64> param(
      String layer, String kind, Random init, double scale, long... shape) {
    int n = (int) Shape.of(shape).size();
    double[] v = new double[n];
    for (int j = 0; j < n; j++) {
      v[j] = scale * init.nextGaussian();
    }
    return tf.withSubScope(layer)
        .withName(kind)
        .variable(tf.withInitScope().constant(Shape.of(shape), DataBuffers.of(v, true, false)));
  }

  @Override
  public void close() {
    graph.close();
  }
}
