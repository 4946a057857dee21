package dev.fisheropt.optimizers;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;

/**
 * FROG's dense layers give the same training whether their CG runs in the row space of the r
 * sampled rows (the default) or on the full [D, n] systems: a float64 ReLU MLP whose two kernels
 * both have D > r + 1 trains with the defaults (r = 24 of 128 rows, k = 4, τ = 1e-6, so some
 * columns take the under-sampled damping), and both ways agree to rounding after one step and after
 * twenty.
 *
 * <p>Not longer: the two ways round differently, and FROG amplifies such differences as any float
 * training does, more than most (its systems are damped by τ = 1e-6). Measured on this problem,
 * relative difference of the first kernel: 1.8e-16 after 1 step, 7e-15 after 3, 1e-13 after 5 and
 * 10, 1.3e-12 after 20, 4.2e-6 after 30.
 */
class FrogRowSpaceTest {
  private static final int BATCH = 128;
  private static final int IN = 40;
  private static final int HIDDEN = 30;
  private static final int CLASSES = 5;

  private static List<double[]> train(boolean inRowSpace, int steps) {
    Random random = new Random(17);
    double[] xData = RandomArrays.gaussian(random, BATCH * IN);
    int[] labels = new int[BATCH];
    for (int i = 0; i < BATCH; i++) {
      labels[i] = random.nextInt(CLASSES);
    }
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      Operand<TFloat64> x = Tensors.constant(tf, TFloat64.class, new long[] {BATCH, IN}, xData);
      Variable<TFloat64> kernel1 =
          variable(tf, "dense1/kernel", new long[] {IN, HIDDEN}, random, 1 / Math.sqrt(IN));
      Variable<TFloat64> bias1 = variable(tf, "dense1/bias", new long[] {HIDDEN}, random, 0.1);
      Variable<TFloat64> kernel2 =
          variable(
              tf, "dense2/kernel", new long[] {HIDDEN, CLASSES}, random, 1 / Math.sqrt(HIDDEN));
      Operand<TFloat64> z1 = tf.math.add(tf.linalg.matMul(x, kernel1), bias1);
      Operand<TFloat64> h = tf.nn.relu(z1);
      Operand<TFloat64> logits = tf.linalg.matMul(h, kernel2);
      Operand<TFloat64> loss = SoftmaxCrossEntropy.mean(tf, logits, tf.constant(labels), CLASSES);
      LayerCollection layers =
          new LayerCollection()
              .registerFullyConnected(kernel1, bias1, x, z1)
              .registerFullyConnected(kernel2, null, h, logits);
      Frog frog =
          Frog.builder().layers(layers).learningRate(0.02).solveInRowSpace(inRowSpace).build(graph);
      Op step = frog.minimize(loss);
      try (Session session = new Session(graph)) {
        session.initialize();
        for (int t = 0; t < steps; t++) {
          session.run(step);
        }
        List<double[]> values = new ArrayList<>();
        for (Variable<TFloat64> v : List.of(kernel1, bias1, kernel2)) {
          values.add(Tensors.fetch(session, v));
        }
        values.add(new double[] {Tensors.scalar(session, loss)});
        return values;
      }
    }
  }

  private static Variable<TFloat64> variable(
      Ops tf, String name, long[] shape, Random random, double scale) {
    int size = (int) (shape.length == 1 ? shape[0] : shape[0] * shape[1]);
    String[] scopeAndName = name.split("/");
    return tf.withSubScope(scopeAndName[0])
        .withName(scopeAndName[1])
        .variable(
            Tensors.constant(
                tf.withInitScope(),
                TFloat64.class,
                shape,
                RandomArrays.gaussian(random, size, scale)));
  }

  @Test
  void rowSpaceAndFullSystemsTrainTheSameNetwork() {
    String[] names = {"dense1/kernel", "dense1/bias", "dense2/kernel", "loss"};
    for (int steps : new int[] {1, 20}) {
      List<double[]> rowSpace = train(true, steps);
      List<double[]> full = train(false, steps);
      for (int i = 0; i < names.length; i++) {
        Close.assertClose(
            steps == 1 ? 1e-13 : 1e-10,
            names[i] + " after " + steps + " steps",
            rowSpace.get(i),
            full.get(i));
      }
    }
  }
}
