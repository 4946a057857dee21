package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Layers;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * A step built from S shards of the batch (the model S times in one graph, one loss each, every
 * layer registered on every shard) is the step on the whole batch: the same algorithm, summed in
 * another order. (That it computes the very bits of S data-parallel workers is checked in {@code
 * distributed}'s DataParallelTest.)
 */
class ShardedStepTest {
  private static final int BATCH = 8;
  private static final int IN = 6;
  private static final int HIDDEN = 5;
  private static final int CLASSES = 3;
  private static final int STEPS = 3;

  /** Each optimizer under test, built on the problem's layers. */
  private static final List<BiFunction<Graph, LayerCollection, GuardedOptimizer>> OPTIMIZERS =
      List.of(
          (g, l) -> Fismo.builder().learningRate(0.05).preconditionerInterval(2).build(g),
          (g, l) -> Muon.builder().learningRate(0.05).build(g),
          (g, l) -> AdaFisher.builder().layers(l).learningRate(0.01).fisherInterval(2).build(g),
          (g, l) -> AdaFisherW.builder().layers(l).learningRate(0.01).build(g),
          // τ = 1e-2: with the default 1e-6 a 5-row sample's systems are so ill-conditioned that
          // FROG turns the summation order's last bits into 5e-9 within three steps.
          (g, l) ->
              Frog.builder().layers(l).learningRate(0.05).sampleSize(5).damping(1e-2).build(g),
          (g, l) -> ElementwiseOptimizer.builder(Fallback.adam()).learningRate(0.01).build(g));

  @ParameterizedTest(name = "{0} shards")
  @ValueSource(ints = {2, 4})
  void aStepOnShardsIsTheStepOnTheWholeBatch(int shards) {
    for (int i = 0; i < OPTIMIZERS.size(); i++) {
      List<double[]> whole = train(OPTIMIZERS.get(i), 1);
      List<double[]> sharded = train(OPTIMIZERS.get(i), shards);
      assertEquals(whole.size(), sharded.size());
      for (int v = 0; v < whole.size(); v++) {
        Close.assertClose(
            1e-12, "optimizer " + i + ", variable " + v, sharded.get(v), whole.get(v));
      }
      assertTrue(whole.get(0)[0] != initialKernel()[0], "trained");
    }
  }

  /**
   * A layer norm's AdaFisher statistics square sums over the batch; on shards they average the sums
   * and square after, which is the whole batch's statistic up to rounding.
   */
  @ParameterizedTest(name = "{0} shards")
  @ValueSource(ints = {2, 4})
  void adaFisherOnALayerNormOfShardsIsTheWholeBatchStep(int shards) {
    for (BiFunction<Graph, LayerCollection, GuardedOptimizer> optimizer :
        List.<BiFunction<Graph, LayerCollection, GuardedOptimizer>>of(
            (g, l) -> AdaFisher.builder().layers(l).learningRate(0.01).fisherInterval(2).build(g),
            (g, l) -> AdaFisherW.builder().layers(l).learningRate(0.01).build(g))) {
      List<double[]> whole = train(optimizer, 1, true);
      List<double[]> sharded = train(optimizer, shards, true);
      for (int v = 0; v < whole.size(); v++) {
        Close.assertClose(1e-12, "variable " + v, sharded.get(v), whole.get(v));
      }
    }
  }

  @Test
  void aLayerMissingOnAShardIsNamed() {
    try (Graph g = new Graph()) {
      Problem p = new Problem(g, 2, false);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> Frog.builder().layers(p.layers).build(g).minimize(p.losses, Replicas.single()));
      assertEquals(
          "layer 'dense1/kernel' is registered on 1 shard of the batch but the step has 2 losses,"
              + " one per shard: register it on every shard (registerShard) and give the step one"
              + " loss per shard",
          e.getMessage());
    }
  }

  @Test
  void shardsMustBeCopiesOfOneModel() {
    try (Graph g = new Graph()) {
      Problem p = new Problem(g, 2, true);
      Ops tf = Ops.create(g);
      Variable<TFloat64> other =
          tf.withName("other").variable(tf.withInitScope().constant(new double[] {1, 2}));
      Operand<TFloat64> odd = tf.math.add(p.losses.get(1), tf.reduceSum(other, tf.constant(0)));
      GuardedOptimizer adam = ElementwiseOptimizer.builder(Fallback.adam()).build(g);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> adam.minimize(List.of(p.losses.get(0), odd), Replicas.single()));
      assertTrue(
          e.getMessage().startsWith("the loss of shard 1 reads the variables"), e.getMessage());
      assertThrows(
          IllegalArgumentException.class, () -> adam.minimize(List.of(), Replicas.single()));
    }
  }

  @Test
  void aShardIsRegisteredForAKnownLayerOnce() {
    try (Graph g = new Graph()) {
      Problem p = new Problem(g, 2, true);
      LayerCollection.Layer first = p.layers.layers().get(0);
      IllegalArgumentException again =
          assertThrows(
              IllegalArgumentException.class,
              () -> p.layers.registerShard(p.kernel1, first.inputs(), first.preactivations()));
      assertTrue(again.getMessage().contains("is already registered as the pre-activations"));
      IllegalArgumentException unknown =
          assertThrows(
              IllegalArgumentException.class,
              () -> p.layers.registerShard(p.bias1, first.inputs(), first.preactivations()));
      assertEquals(
          "'dense1/bias' is not the kernel of a registered layer: register the layer before its"
              + " other shards",
          unknown.getMessage());
      assertEquals(2, p.layers.shardsOf(first).size());
      assertEquals(2, p.layers.layers().size(), "a shard is not another layer");
    }
  }

  /** Every variable after {@link #STEPS} steps, in name order. */
  private static List<double[]> train(
      BiFunction<Graph, LayerCollection, GuardedOptimizer> optimizer, int shards) {
    return train(optimizer, shards, false);
  }

  private static List<double[]> train(
      BiFunction<Graph, LayerCollection, GuardedOptimizer> optimizer,
      int shards,
      boolean layerNorm) {
    try (Graph g = new Graph()) {
      Problem p = new Problem(g, shards, true, layerNorm);
      Op step = optimizer.apply(g, p.layers).minimize(p.losses, Replicas.single());
      try (Session s = new Session(g)) {
        s.initialize();
        for (int i = 0; i < STEPS; i++) {
          s.run(step);
        }
        List<double[]> values = new ArrayList<>();
        List<Variable<TFloat64>> all =
            new ArrayList<>(List.of(p.kernel1, p.bias1, p.kernel2, p.bias2));
        if (layerNorm) {
          all.addAll(List.of(p.gamma, p.beta));
        }
        for (Variable<TFloat64> v : all) {
          try (Tensor t = s.runner().fetch(v).run().get(0)) {
            values.add(Tensors.toDoubles(t));
          }
        }
        return values;
      }
    }
  }

  private static double[] initialKernel() {
    return gaussian(new Random(1), IN * HIDDEN, 0.5);
  }

  /**
   * x [8, 6] → dense 6→5 + b → tanh → dense 5→3 + b → softmax cross-entropy, built once per shard
   * on the next 8/S rows, both layers registered on every shard (or only on the first).
   */
  private static final class Problem {
    final LayerCollection layers = new LayerCollection();
    final List<Operand<TFloat64>> losses = new ArrayList<>();
    final Variable<TFloat64> kernel1;
    final Variable<TFloat64> bias1;
    final Variable<TFloat64> kernel2;
    final Variable<TFloat64> bias2;
    Variable<TFloat64> gamma;
    Variable<TFloat64> beta;

    Problem(Graph g, int shards, boolean registerEveryShard) {
      this(g, shards, registerEveryShard, false);
    }

    /**
     * With {@code layerNorm}, dense1's output is layer-normalized (γ, β registered) before tanh.
     */
    Problem(Graph g, int shards, boolean registerEveryShard, boolean layerNorm) {
      Ops tf = Ops.create(g);
      Ops dense1 = tf.withSubScope("dense1");
      Ops dense2 = tf.withSubScope("dense2");
      kernel1 = variable(dense1, "kernel", initialKernel(), IN, HIDDEN);
      bias1 = variable(dense1, "bias", gaussian(new Random(2), HIDDEN, 0.1), HIDDEN);
      kernel2 =
          variable(
              dense2, "kernel", gaussian(new Random(3), HIDDEN * CLASSES, 0.5), HIDDEN, CLASSES);
      bias2 = variable(dense2, "bias", gaussian(new Random(4), CLASSES, 0.1), CLASSES);
      if (layerNorm) {
        Ops norm = tf.withSubScope("norm");
        double[] g0 = gaussian(new Random(6), HIDDEN, 0.1);
        for (int i = 0; i < HIDDEN; i++) {
          g0[i] += 1;
        }
        gamma = variable(norm, "gamma", g0, HIDDEN);
        beta = variable(norm, "beta", gaussian(new Random(7), HIDDEN, 0.1), HIDDEN);
      }
      int rows = BATCH / shards;
      double[] x = gaussian(new Random(5), BATCH * IN, 1.0);
      int[] y = new int[BATCH];
      for (int i = 0; i < BATCH; i++) {
        y[i] = (i * 7 + 1) % CLASSES;
      }
      for (int k = 0; k < shards; k++) {
        double[] xk = new double[rows * IN];
        System.arraycopy(x, k * rows * IN, xk, 0, xk.length);
        int[] yk = new int[rows];
        System.arraycopy(y, k * rows, yk, 0, rows);
        Operand<TFloat64> input = tf.constant(Shape.of(rows, IN), DataBuffers.of(xk, true, false));
        Operand<TFloat64> z1 = tf.nn.biasAdd(tf.linalg.matMul(input, kernel1), bias1);
        Operand<TFloat64> normalized = layerNorm ? Layers.layerNorm(tf, z1, gamma, beta, 1e-5) : z1;
        Operand<TFloat64> h = tf.math.tanh(normalized);
        Operand<TFloat64> z2 = tf.nn.biasAdd(tf.linalg.matMul(h, kernel2), bias2);
        Operand<TInt32> labels = tf.constant(yk);
        losses.add(SoftmaxCrossEntropy.mean(tf, z2, labels, CLASSES));
        if (k == 0) {
          layers
              .registerFullyConnected(kernel1, bias1, input, z1)
              .registerFullyConnected(kernel2, bias2, h, z2);
          if (layerNorm) {
            layers.registerLayerNorm(gamma, beta, z1, normalized);
          }
        } else if (registerEveryShard) {
          layers.registerShard(kernel1, input, z1).registerShard(kernel2, h, z2);
          if (layerNorm) {
            layers.registerShard(gamma, z1, normalized);
          }
        }
      }
    }

    private static Variable<TFloat64> variable(Ops tf, String name, double[] v, long... shape) {
      return tf.withName(name)
          .variable(tf.withInitScope().constant(Shape.of(shape), DataBuffers.of(v, true, false)));
    }
  }

  private static double[] gaussian(Random r, int n, double scale) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = scale * r.nextGaussian();
    }
    return v;
  }
}
