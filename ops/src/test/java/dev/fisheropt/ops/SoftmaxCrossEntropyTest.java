package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fisheropt.testing.DenseMatrices;
import dev.fisheropt.testing.Tensors;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

class SoftmaxCrossEntropyTest {
  @Test
  void valueAndFloat64GradientMatchTheClosedForm() {
    double[][] logits = {{1.0, 2.0, 0.5}, {-1.0, 0.0, 3.0}};
    int[] labels = {1, 2};
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> z = tf.constant(logits);
      Operand<TFloat64> loss = SoftmaxCrossEntropy.mean(tf, z, tf.constant(labels), 3);
      Output<?>[] grad = g.addGradients(loss.asOutput(), new Output<?>[] {z.asOutput()});
      try (Result r = s.runner().fetch(loss).fetch(grad[0]).run()) {
        double expected = 0;
        double[][] expectedGrad = new double[2][3];
        for (int b = 0; b < 2; b++) {
          double norm = 0;
          for (double v : logits[b]) {
            norm += Math.exp(v);
          }
          expected -= (logits[b][labels[b]] - Math.log(norm)) / 2;
          for (int k = 0; k < 3; k++) {
            expectedGrad[b][k] = (Math.exp(logits[b][k]) / norm - (k == labels[b] ? 1 : 0)) / 2;
          }
        }
        assertEquals(expected, ((TFloat64) r.get(0)).getDouble(), 1e-14);
        double[][] actualGrad = Tensors.toMatrix(r.get(1));
        assertEquals(0.0, DenseMatrices.maxAbsDifference(actualGrad, expectedGrad), 1e-14);
      }
    }
  }
}
