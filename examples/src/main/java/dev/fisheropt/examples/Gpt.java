package dev.fisheropt.examples;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.optimizers.LayerCollection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * A GPT-style byte-level language model built from TF-Java graph ops, in float32 or float64: token
 * and learned position embeddings, {@code layers} pre-LayerNorm blocks (causal multi-head
 * self-attention, then a tanh-approximated GELU MLP of width 4·d, each added to the residual
 * stream), a final LayerNorm and a linear head; the loss is the mean cross-entropy of the next
 * token over every position of the batch.
 *
 * <p>One graph holds two passes that share the variables: the training pass on a batch of static
 * size (its loss is what the optimizer minimizes; every dense layer is registered in {@link
 * #layers()} with its rank-3 inputs and pre-activations, every LayerNorm with its input and output,
 * as AdaFisher and FROG need) and an evaluation pass on any number of sequences of length {@code
 * context} (validation loss, sampling).
 *
 * <p>Which op does what, for TF-Java 1.1.0's gradients (docs/lm.md): the token embedding is a
 * {@code Gather} (its C++ gradient exists and takes the variable directly); attention uses {@code
 * BatchMatMulV3} on computed tensors only (its gradient fails on a variable input) and an additive
 * causal mask rather than a select; the loss is {@link SoftmaxCrossEntropy#mean}, since the fused
 * sparse op has no gradient.
 *
 * <p>Initialization (GPT-2): weights normal with standard deviation 0.02 from a {@link
 * SplittableRandom} of the seed, the two residual projections of each block 0.02/√(2·layers),
 * biases and β zero, γ one; one seed gives the same initial weights in every run and in either
 * dtype (to its rounding).
 */
public final class Gpt<T extends TFloating> implements Layered {
  /** Layer-norm ε, as GPT-2's. */
  static final double LAYER_NORM_EPSILON = 1e-5;

  static final double INIT_STD = 0.02;

  /** The additive mask of future positions: exp(−1e9 − max) is 0 in float32 and float64. */
  private static final double MASKED = -1e9;

  /**
   * The model's shape.
   *
   * @param dModel width of the residual stream (a multiple of {@code heads})
   * @param layers number of blocks
   * @param heads attention heads per block
   * @param context sequence length
   * @param batch sequences per training batch
   */
  public record Size(int dModel, int layers, int heads, int context, int batch) {
    public Size {
      if (dModel < 1 || layers < 1 || heads < 1 || context < 1 || batch < 1) {
        throw new IllegalArgumentException(
            "model sizes must be positive: d "
                + dModel
                + ", layers "
                + layers
                + ", heads "
                + heads
                + ", context "
                + context
                + ", batch "
                + batch);
      }
      if (dModel % heads != 0) {
        throw new IllegalArgumentException(
            "d-model " + dModel + " is not a multiple of heads " + heads);
      }
    }

    /** Trainable parameters for a vocabulary of {@code vocabulary} symbols. */
    public long parameters(int vocabulary) {
      long d = dModel;
      long block = 2 * 2 * d + 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
      return vocabulary * d + context * d + layers * block + 2 * d + d * vocabulary + vocabulary;
    }

    @Override
    public String toString() {
      return String.format(
          java.util.Locale.ROOT,
          "d %d, %d layers, %d heads, context %d, batch %d",
          dModel,
          layers,
          heads,
          context,
          batch);
    }
  }

  private final Ops tf;
  private final Class<T> type;
  private final Size size;
  private final int vocabulary;
  private final SplittableRandom random;

  /** Name scopes by path: a sub-scope made twice would get a new, uniquified name. */
  private final Map<String, Ops> scopes = new HashMap<>();

  private final LayerCollection layers = new LayerCollection();
  private final LayerCollection hiddenLayers = new LayerCollection();
  private final List<Variable<T>> parameters = new ArrayList<>();
  private final List<Variable<?>> fallbackMatrices = new ArrayList<>();
  private final Operand<T> mask;
  private final Placeholder<TInt32> trainInputs;
  private final Placeholder<TInt32> trainTargets;
  private final Placeholder<TInt32> evalInputs;
  private final Placeholder<TInt32> evalTargets;
  private final Operand<T> trainLogits;
  private final Operand<T> loss;
  private final Operand<T> evalLoss;
  private final Operand<T> evalLogits;

  public Gpt(Graph graph, Class<T> type, Size size, int vocabulary, long seed) {
    this.tf = Ops.create(graph);
    this.type = type;
    this.size = size;
    this.vocabulary = vocabulary;
    this.random = new SplittableRandom(seed);
    int t = size.context();
    double[] maskValues = new double[t * t];
    for (int i = 0; i < t; i++) {
      for (int j = i + 1; j < t; j++) {
        maskValues[i * t + j] = MASKED;
      }
    }
    mask = constant(Shape.of(t, t), maskValues);
    Shape trainShape = Shape.of(size.batch(), t);
    Shape evalShape = Shape.of(-1, t);
    trainInputs =
        tf.withName("train_inputs").placeholder(TInt32.class, Placeholder.shape(trainShape));
    trainTargets =
        tf.withName("train_targets").placeholder(TInt32.class, Placeholder.shape(trainShape));
    evalInputs = tf.withName("eval_inputs").placeholder(TInt32.class, Placeholder.shape(evalShape));
    evalTargets =
        tf.withName("eval_targets").placeholder(TInt32.class, Placeholder.shape(evalShape));
    trainLogits = forward(new Builder(true), trainInputs, size.batch());
    Operand<T> logits = forward(new Builder(false), evalInputs, -1);
    loss = tf.withName("loss").identity(crossEntropy(trainLogits, trainTargets));
    evalLoss = tf.withName("eval_loss").identity(crossEntropy(logits, evalTargets));
    evalLogits = tf.withName("logits").identity(logits);
  }

  private Operand<T> crossEntropy(Operand<T> logits, Operand<TInt32> targets) {
    return SoftmaxCrossEntropy.mean(
        tf,
        tf.reshape(logits, tf.constant(new long[] {-1, vocabulary})),
        tf.reshape(targets, tf.constant(new long[] {-1})),
        vocabulary);
  }

  /** Logits [batch, context, vocabulary] of {@code tokens} [batch, context]; batch −1: any. */
  private Operand<T> forward(Builder b, Operand<TInt32> tokens, long batch) {
    int d = size.dModel();
    double residualStd = INIT_STD / Math.sqrt(2.0 * size.layers());
    Variable<T> tokenEmbedding = b.parameter("embedding", "tokens", Shape.of(vocabulary, d), 1);
    Variable<T> positionEmbedding =
        b.parameter("embedding", "positions", Shape.of(size.context(), d), 1);
    if (b.training) {
      fallbackMatrices.add(tokenEmbedding);
      fallbackMatrices.add(positionEmbedding);
    }
    Operand<T> x =
        tf.math.add(tf.gather(tokenEmbedding, tokens, tf.constant(0)), positionEmbedding);
    for (int l = 0; l < size.layers(); l++) {
      String block = "block" + l;
      x = tf.math.add(x, attention(b, block, b.layerNorm(block + "/ln1", x), batch, residualStd));
      Operand<T> h = b.dense(block + "/mlp/in", b.layerNorm(block + "/ln2", x), d, 4 * d, INIT_STD);
      x = tf.math.add(x, b.dense(block + "/mlp/out", gelu(h), 4 * d, d, residualStd));
    }
    return b.head(b.layerNorm("ln_f", x), d, vocabulary);
  }

  /** Causal multi-head self-attention of {@code x} [batch, context, d], output projected. */
  private Operand<T> attention(Builder b, String block, Operand<T> x, long batch, double outStd) {
    int d = size.dModel();
    Operand<T> q = heads(b.dense(block + "/attn/query", x, d, d, INIT_STD), batch);
    Operand<T> k = heads(b.dense(block + "/attn/key", x, d, d, INIT_STD), batch);
    Operand<T> v = heads(b.dense(block + "/attn/value", x, d, d, INIT_STD), batch);
    double scale = 1 / Math.sqrt((double) d / size.heads());
    Operand<T> scores =
        tf.math.add(
            tf.math.mul(tf.train.batchMatMul(q, k, type, BatchMatMul.adjY(true)), scalar(scale)),
            mask);
    Operand<T> mixed = tf.train.batchMatMul(tf.nn.softmax(scores), v, type);
    Operand<T> merged =
        tf.reshape(
            tf.linalg.transpose(mixed, tf.constant(new int[] {0, 2, 1, 3})),
            tf.constant(new long[] {batch, size.context(), d}));
    return b.dense(block + "/attn/out", merged, d, d, outStd);
  }

  /** [batch, context, d] → [batch, heads, context, d/heads]. */
  private Operand<T> heads(Operand<T> x, long batch) {
    int h = size.heads();
    Operand<T> split =
        tf.reshape(x, tf.constant(new long[] {batch, size.context(), h, size.dModel() / h}));
    return tf.linalg.transpose(split, tf.constant(new int[] {0, 2, 1, 3}));
  }

  /** GELU, tanh approximation: x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³))). */
  private Operand<T> gelu(Operand<T> x) {
    Operand<T> cube = tf.math.mul(tf.math.mul(x, x), x);
    Operand<T> inner =
        tf.math.mul(
            scalar(Math.sqrt(2 / Math.PI)), tf.math.add(x, tf.math.mul(scalar(0.044715), cube)));
    return tf.math.mul(tf.math.mul(scalar(0.5), x), tf.math.add(scalar(1), tf.math.tanh(inner)));
  }

  private Operand<T> scalar(double value) {
    return tf.dtypes.cast(tf.constant(value), type);
  }

  private Operand<T> constant(Shape shape, double[] values) {
    return tf.withInitScope()
        .dtypes
        .cast(tf.withInitScope().constant(shape, DataBuffers.of(values, true, false)), type);
  }

  /**
   * Creates the variables on the training pass and reuses them, in order, on the evaluation pass.
   */
  private final class Builder {
    private final boolean training;
    private int next;

    Builder(boolean training) {
      this.training = training;
    }

    Operand<T> dense(String scope, Operand<T> x, int in, int out, double std) {
      return dense(scope, x, in, out, std, false);
    }

    Operand<T> head(Operand<T> x, int in, int out) {
      return dense("head", x, in, out, INIT_STD, true);
    }

    /** x [batch, context, in] · W [in, out] + b, the matmul over the last axis. */
    private Operand<T> dense(
        String scope, Operand<T> x, int in, int out, double std, boolean head) {
      Variable<T> kernel = parameter(scope, "kernel", Shape.of(in, out), std);
      Variable<T> bias = parameter(scope, "bias", Shape.of(out), 0);
      long batch = x.shape().size(0);
      Operand<T> flat = tf.reshape(x, tf.constant(new long[] {-1, in}));
      Operand<T> z =
          tf.reshape(
              tf.nn.biasAdd(tf.linalg.matMul(flat, kernel), bias),
              tf.constant(new long[] {batch, size.context(), out}));
      if (training) {
        layers.registerFullyConnected(kernel, bias, x, z);
        if (head) {
          fallbackMatrices.add(kernel);
        } else {
          hiddenLayers.registerFullyConnected(kernel, bias, x, z);
        }
      }
      return z;
    }

    /** γ ⊙ (x − mean) / √(var + ε) + β over the last axis. */
    Operand<T> layerNorm(String scope, Operand<T> x) {
      int d = size.dModel();
      Variable<T> gamma = parameter(scope, "gamma", Shape.of(d), 0, 1);
      Variable<T> beta = parameter(scope, "beta", Shape.of(d), 0);
      Operand<TInt32> last = tf.constant(new int[] {-1});
      Operand<T> centered =
          tf.math.sub(x, tf.math.mean(x, last, org.tensorflow.op.math.Mean.keepDims(true)));
      Operand<T> variance =
          tf.math.mean(
              tf.math.mul(centered, centered), last, org.tensorflow.op.math.Mean.keepDims(true));
      Operand<T> normed =
          tf.math.mul(centered, tf.math.rsqrt(tf.math.add(variance, scalar(LAYER_NORM_EPSILON))));
      Operand<T> y = tf.math.add(tf.math.mul(normed, gamma), beta);
      if (training) {
        layers.registerLayerNorm(gamma, beta, x, y);
        hiddenLayers.registerLayerNorm(gamma, beta, x, y);
      }
      return y;
    }

    /**
     * A variable drawn from N(0, std²) (zeros for std 0); see {@link #parameter(String, String,
     * Shape, double, double)}.
     */
    Variable<T> parameter(String scope, String name, Shape shape, double std) {
      return parameter(scope, name, shape, std, 0);
    }

    /**
     * A new variable on the training pass, {@code mean} plus normal noise of standard deviation
     * {@code std} (none for 0, so the random stream is only drawn for random weights); the same
     * one, in creation order, on the evaluation pass.
     */
    Variable<T> parameter(String scope, String name, Shape shape, double std, double mean) {
      if (!training) {
        return parameters.get(next++);
      }
      double[] values = new double[(int) shape.size()];
      for (int i = 0; i < values.length; i++) {
        values[i] = std == 0 ? mean : mean + std * Model.gaussian(random);
      }
      Variable<T> v = scope(scope).withName(name).variable(constant(shape, values));
      parameters.add(v);
      return v;
    }
  }

  /** The name scope {@code path} (segments separated by '/'), made once. */
  private Ops scope(String path) {
    Ops known = scopes.get(path);
    if (known == null) {
      int slash = path.lastIndexOf('/');
      known =
          slash < 0
              ? tf.withSubScope(path)
              : scope(path.substring(0, slash)).withSubScope(path.substring(slash + 1));
      scopes.put(path, known);
    }
    return known;
  }

  @Override
  public LayerCollection layers() {
    return layers;
  }

  /** Every registered layer but the head: FROG leaves the head to its momentum rule. */
  @Override
  public LayerCollection hiddenLayers() {
    return hiddenLayers;
  }

  /** The token and position embeddings and the head kernel. */
  @Override
  public List<Variable<?>> fallbackMatrices() {
    return List.copyOf(fallbackMatrices);
  }

  public List<Variable<T>> parameters() {
    return List.copyOf(parameters);
  }

  public long parameterCount() {
    return parameters.stream().mapToLong(v -> v.shape().size()).sum();
  }

  public Size size() {
    return size;
  }

  public int vocabulary() {
    return vocabulary;
  }

  /** Mean next-token cross-entropy (nats) of the training batch. */
  public Operand<T> loss() {
    return loss;
  }

  /** Logits [batch, context, vocabulary] of the training batch. */
  public Operand<T> logits() {
    return trainLogits;
  }

  /** Tokens [batch, context] of the training batch. */
  public Placeholder<TInt32> trainInputs() {
    return trainInputs;
  }

  /** The next token of every position of {@link #trainInputs()}. */
  public Placeholder<TInt32> trainTargets() {
    return trainTargets;
  }

  /** Tokens [n, context] to evaluate or sample from. */
  public Placeholder<TInt32> evalInputs() {
    return evalInputs;
  }

  public Placeholder<TInt32> evalTargets() {
    return evalTargets;
  }

  /** Mean next-token cross-entropy (nats) of the evaluation sequences. */
  public Operand<T> evalLoss() {
    return evalLoss;
  }

  /** Logits [n, context, vocabulary] of the evaluation sequences. */
  public Operand<T> evalLogits() {
    return evalLogits;
  }

  /** The dtype of the model's variables and activations. */
  public Class<T> type() {
    return type;
  }
}
