package dev.fisheropt.examples;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.optimizers.LayerCollection;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The classifiers of the comparison, float32, built in one graph with two inputs that share the
 * variables: a training batch of static size (the loss the optimizer minimizes; every layer
 * registered in {@link #layers()} with its inputs and pre-activations, as AdaFisher needs, and
 * every layer but the classifier head in {@link #hiddenLayers()}, as FROG gets) and an evaluation
 * batch of any size.
 *
 * <ul>
 *   <li>{@link Architecture#CNN}: conv 3×3×16 → ReLU → max-pool 2 → conv 3×3×32 → ReLU → max-pool 2
 *       → max-pool 2 (28→14→7→4) → dense 512→128 → ReLU → dense 128→10. The third pool keeps the
 *       first dense kernel at 512 rows, so FISMO's left factor is 512×512 rather than 1568×1568.
 *   <li>{@link Architecture#MLP}: dense 784→h → ReLU → dense h→h → ReLU → dense h→10.
 * </ul>
 *
 * Weights are He-normal from a {@link SplittableRandom} of the given seed, biases zero, so two runs
 * with one seed start identically.
 */
public final class Model implements Layered {
  /** The two model families. */
  public enum Architecture {
    CNN,
    MLP
  }

  private final Ops tf;
  private final SplittableRandom random;
  private final LayerCollection layers = new LayerCollection();
  private final LayerCollection hiddenLayers = new LayerCollection();
  private final List<Variable<TFloat32>> parameters = new ArrayList<>();
  private final Placeholder<TFloat32> trainImages;
  private final Placeholder<TInt32> trainLabels;
  private final Placeholder<TFloat32> evalImages;
  private final Operand<TFloat32> loss;
  private final List<Operand<TFloat32>> shardLosses;
  private final Operand<TInt32> evalPredictions;
  private final Operand<TFloat32> evalLogProbabilities;
  private final long parameterCount;

  /**
   * @param batchSize the static size of the training batch
   * @param hidden width of the MLP's hidden layers (ignored for the CNN)
   */
  public Model(Graph graph, Architecture architecture, int batchSize, int hidden, long seed) {
    this(graph, architecture, batchSize, hidden, seed, 1);
  }

  /**
   * The model with its training pass built {@code shards} times, each copy on the next 1/S of the
   * training batch with a loss of its own ({@link #shardLosses}), every layer registered on every
   * shard: a step built from those losses reduces as S data-parallel workers do.
   *
   * @param shards how many equal parts of the training batch the step reduces over
   */
  public Model(
      Graph graph, Architecture architecture, int batchSize, int hidden, long seed, int shards) {
    if (shards < 1 || batchSize % shards != 0) {
      throw new IllegalArgumentException(
          "a training batch of " + batchSize + " images does not split into " + shards + " shards");
    }
    this.tf = Ops.create(graph);
    this.random = new SplittableRandom(seed);
    Shape imageShape =
        architecture == Architecture.CNN
            ? Shape.of(batchSize, 28, 28, 1)
            : Shape.of(batchSize, FashionMnist.PIXELS);
    Shape evalShape =
        architecture == Architecture.CNN
            ? Shape.of(-1, 28, 28, 1)
            : Shape.of(-1, FashionMnist.PIXELS);
    trainImages =
        tf.withName("train_images").placeholder(TFloat32.class, Placeholder.shape(imageShape));
    trainLabels =
        tf.withName("train_labels")
            .placeholder(TInt32.class, Placeholder.shape(Shape.of(batchSize)));
    evalImages =
        tf.withName("eval_images").placeholder(TFloat32.class, Placeholder.shape(evalShape));
    List<? extends Operand<TFloat32>> images =
        shards == 1
            ? List.of(trainImages)
            : tf.split(tf.constant(0), trainImages, (long) shards).output();
    List<? extends Operand<TInt32>> labels =
        shards == 1
            ? List.of(trainLabels)
            : tf.split(tf.constant(0), trainLabels, (long) shards).output();
    List<Operand<TFloat32>> losses = new ArrayList<>();
    for (int k = 0; k < shards; k++) {
      Builder train = new Builder(new Pass(k));
      Operand<TFloat32> logits =
          architecture == Architecture.CNN
              ? cnn(train, images.get(k))
              : mlp(train, images.get(k), hidden);
      losses.add(SoftmaxCrossEntropy.mean(tf, logits, labels.get(k), FashionMnist.CLASSES));
    }
    shardLosses = List.copyOf(losses);
    Builder eval = new Builder(Pass.EVALUATION);
    Operand<TFloat32> evalLogits =
        architecture == Architecture.CNN ? cnn(eval, evalImages) : mlp(eval, evalImages, hidden);
    // The shards' mean as two workers' all-reduce computes it, (l₀ + l₁)/2.
    loss =
        tf.withName("loss")
            .identity(
                shards == 1
                    ? losses.get(0)
                    : tf.math.div(tf.math.addN(losses), tf.constant((float) shards)));
    evalPredictions =
        tf.withName("predictions")
            .dtypes
            .cast(tf.math.argMax(evalLogits, tf.constant(1)), TInt32.class);
    evalLogProbabilities = tf.withName("log_probabilities").nn.logSoftmax(evalLogits);
    long count = 0;
    for (Variable<TFloat32> v : parameters) {
      count += v.shape().size();
    }
    parameterCount = count;
  }

  private Operand<TFloat32> cnn(Builder b, Operand<TFloat32> x) {
    Operand<TFloat32> h = pool(tf.nn.relu(b.conv("conv1", x, 3, 1, 16)));
    h = pool(pool(tf.nn.relu(b.conv("conv2", h, 3, 16, 32))));
    h = tf.reshape(h, tf.constant(new long[] {x.shape().size(0), 4 * 4 * 32}));
    h = tf.nn.relu(b.dense("dense1", h, 512, 128));
    return b.head("dense2", h, 128, FashionMnist.CLASSES);
  }

  private Operand<TFloat32> mlp(Builder b, Operand<TFloat32> x, int hidden) {
    Operand<TFloat32> h = tf.nn.relu(b.dense("dense1", x, FashionMnist.PIXELS, hidden));
    h = tf.nn.relu(b.dense("dense2", h, hidden, hidden));
    return b.head("dense3", h, hidden, FashionMnist.CLASSES);
  }

  private Operand<TFloat32> pool(Operand<TFloat32> x) {
    return tf.nn.maxPool(
        x, tf.constant(new int[] {1, 2, 2, 1}), tf.constant(new int[] {1, 2, 2, 1}), "SAME");
  }

  /** Which copy of the model a {@link Builder} builds. */
  private record Pass(int shard) {
    static final Pass EVALUATION = new Pass(-1);

    boolean creates() {
      return shard == 0;
    }
  }

  /**
   * Creates the variables on the first training shard and reuses them on the other shards and the
   * evaluation pass; registers the layers on every training shard.
   */
  private final class Builder {
    private final Pass pass;
    private int next;

    Builder(Pass pass) {
      this.pass = pass;
    }

    Operand<TFloat32> dense(String name, Operand<TFloat32> x, int in, int out) {
      return dense(name, x, in, out, false);
    }

    /** The classifier head: a dense layer registered in {@link #layers()} only. */
    Operand<TFloat32> head(String name, Operand<TFloat32> x, int in, int out) {
      return dense(name, x, in, out, true);
    }

    private Operand<TFloat32> dense(
        String name, Operand<TFloat32> x, int in, int out, boolean head) {
      Variable<TFloat32> kernel = parameter(name, "kernel", Shape.of(in, out), in);
      Variable<TFloat32> bias = parameter(name, "bias", Shape.of(out), 0);
      Operand<TFloat32> z = tf.nn.biasAdd(tf.linalg.matMul(x, kernel), bias);
      if (pass.creates()) {
        layers.registerFullyConnected(kernel, bias, x, z);
        if (!head) {
          hiddenLayers.registerFullyConnected(kernel, bias, x, z);
        }
      } else if (pass.shard() > 0) {
        layers.registerShard(kernel, x, z);
        if (!head) {
          hiddenLayers.registerShard(kernel, x, z);
        }
      }
      return z;
    }

    Operand<TFloat32> conv(String name, Operand<TFloat32> x, int size, int in, int out) {
      Variable<TFloat32> kernel =
          parameter(name, "kernel", Shape.of(size, size, in, out), size * size * in);
      Variable<TFloat32> bias = parameter(name, "bias", Shape.of(out), 0);
      Operand<TFloat32> z =
          tf.nn.biasAdd(tf.nn.conv2d(x, kernel, List.of(1L, 1L, 1L, 1L), "SAME"), bias);
      if (pass.creates()) {
        layers.registerConv2d(kernel, bias, new long[] {1, 1, 1, 1}, "SAME", x, z);
        hiddenLayers.registerConv2d(kernel, bias, new long[] {1, 1, 1, 1}, "SAME", x, z);
      } else if (pass.shard() > 0) {
        layers.registerShard(kernel, x, z);
        hiddenLayers.registerShard(kernel, x, z);
      }
      return z;
    }

    /**
     * A new variable on the training pass (He-normal with this fan-in, zeros when 0); the same one
     * after.
     */
    private Variable<TFloat32> parameter(String scope, String name, Shape shape, int fanIn) {
      if (!pass.creates()) {
        return parameters.get(next++);
      }
      float[] values = new float[(int) shape.size()];
      double std = fanIn == 0 ? 0 : Math.sqrt(2.0 / fanIn);
      for (int i = 0; i < values.length; i++) {
        values[i] = (float) (std * gaussian(random));
      }
      Operand<TFloat32> init = tf.withInitScope().constant(shape, DataBuffers.of(values));
      Variable<TFloat32> v = tf.withSubScope(scope).withName(name).variable(init);
      parameters.add(v);
      return v;
    }
  }

  /**
   * A standard normal draw by Box–Muller from two uniforms of {@code random}, so that a seed fixes
   * the weights on every JVM (the models of the comparison draw their weights with it).
   */
  static double gaussian(SplittableRandom random) {
    double u = 1.0 - random.nextDouble();
    double w = random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
  }

  /** Every conv and dense layer, the classifier head included. */
  @Override
  public LayerCollection layers() {
    return layers;
  }

  /** Every conv and dense layer but the classifier head (the last dense layer). */
  @Override
  public LayerCollection hiddenLayers() {
    return hiddenLayers;
  }

  public List<Variable<TFloat32>> parameters() {
    return List.copyOf(parameters);
  }

  public long parameterCount() {
    return parameterCount;
  }

  /** Mean softmax cross-entropy of the training batch (the mean of the shards' losses). */
  public Operand<TFloat32> loss() {
    return loss;
  }

  /** Each shard's mean softmax cross-entropy, in order: what a step minimizes. */
  public List<Operand<TFloat32>> shardLosses() {
    return shardLosses;
  }

  public Placeholder<TFloat32> trainImages() {
    return trainImages;
  }

  public Placeholder<TInt32> trainLabels() {
    return trainLabels;
  }

  public Placeholder<TFloat32> evalImages() {
    return evalImages;
  }

  /** log softmax of the logits of every evaluation image, [n, 10]. */
  public Operand<TFloat32> evalLogProbabilities() {
    return evalLogProbabilities;
  }

  /** Predicted class of every evaluation image. */
  public Operand<TInt32> evalPredictions() {
    return evalPredictions;
  }
}
