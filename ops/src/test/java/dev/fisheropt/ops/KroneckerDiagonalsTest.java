package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

class KroneckerDiagonalsTest {
  private static double[] fetch(Session session, Operand<TFloat64> v) {
    try (TFloat64 t = (TFloat64) session.runner().fetch(v).run().get(0)) {
      double[] out = new double[(int) t.shape().size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = t.getDouble(i);
      }
      return out;
    }
  }

  @Test
  void minMaxSendsInfinitiesToTheEndsAndKeepsTheAbsoluteEpsilon() {
    double inf = Double.POSITIVE_INFINITY;
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      double[] withInfinities =
          fetch(
              session,
              KroneckerDiagonals.minMax(tf, tf.constant(new double[] {inf, -inf, 0.5, 0.25})));
      double range = 1.0 + 1e-6;
      assertArrayEquals(
          new double[] {1 / range, 0, 0.5 / range, 0.25 / range}, withInfinities, 1e-15);
      // A range far below 1e-6 stays small instead of being stretched to [0, 1]: the raw scale
      // matters.
      double[] tiny =
          fetch(
              session, KroneckerDiagonals.minMax(tf, tf.constant(new double[] {1e-7, 3e-7, 6e-7})));
      assertArrayEquals(new double[] {0, 2e-7 / 1.5e-6, 5e-7 / 1.5e-6}, tiny, 1e-15);
      double[] constant =
          fetch(session, KroneckerDiagonals.minMax(tf, tf.constant(new double[] {3, 3, 3})));
      assertArrayEquals(new double[] {0, 0, 0}, constant, 0.0);
    }
  }

  @Test
  void denseInputsAreTheMeanSquarePerFeatureWithABiasEntry() {
    double[][] x = {{1, -2, 0.5}, {3, 0, -1}};
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      double[] withBias = fetch(session, KroneckerDiagonals.denseInputs(tf, tf.constant(x), true));
      assertArrayEquals(
          new double[] {(1 + 9) / 2.0, (4 + 0) / 2.0, (0.25 + 1) / 2.0, 1.0}, withBias, 1e-15);
      double[] without = fetch(session, KroneckerDiagonals.denseInputs(tf, tf.constant(x), false));
      assertArrayEquals(new double[] {5, 2, 0.625}, without, 1e-15);
    }
  }

  @Test
  void outputsAverageOverEveryAxisButTheLast() {
    // [2, 2, 2]: two samples, two positions, two channels.
    double[][][] dz = {{{1, 2}, {3, 4}}, {{-1, 0}, {2, -2}}};
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      double[] s = fetch(session, KroneckerDiagonals.outputs(tf, tf.constant(dz)));
      assertArrayEquals(new double[] {(1 + 9 + 1 + 4) / 4.0, (4 + 16 + 0 + 4) / 4.0}, s, 1e-15);
    }
  }

  @Test
  void denseInputsOnSequencesCountEveryPositionAsARow() {
    // [2, 2, 2]: two samples, two positions, two features.
    double[][][] x = {{{1, 2}, {3, 4}}, {{-1, 0}, {2, -2}}};
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      double[] h = fetch(session, KroneckerDiagonals.denseInputs(tf, tf.constant(x), true));
      assertArrayEquals(
          new double[] {(1 + 9 + 1 + 4) / 4.0, (4 + 16 + 0 + 4) / 4.0, 1.0}, h, 1e-15);
    }
  }

  @Test
  void layerNormInputsSumOverEveryAxisButTheSecond() {
    // [2, 3, 2]: B = 2, T = 3, C = 2. Per time step u_t = Σ_{b,c} h / C².
    double[][][] h = {{{1, 2}, {3, 4}, {0, -1}}, {{-1, 0}, {2, -2}, {5, 1}}};
    double[] u = {(1 + 2 - 1 + 0) / 4.0, (3 + 4 + 2 - 2) / 4.0, (0 - 1 + 5 + 1) / 4.0};
    double[][] flat = {{1, 2, 3}, {-1, 4, 0}};
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      double[] sequence = fetch(session, KroneckerDiagonals.layerNormInputs(tf, tf.constant(h)));
      assertArrayEquals(
          new double[] {(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]) / 4, 3 / 4.0}, sequence, 1e-15);
      // Rank 2 [B, C]: axis 1 is the features, u_c = Σ_b h (no further division).
      double[] features = fetch(session, KroneckerDiagonals.layerNormInputs(tf, tf.constant(flat)));
      assertArrayEquals(new double[] {(0 + 36 + 9) / 4.0, 3 / 4.0}, features, 1e-15);
    }
  }

  @Test
  void layerNormOutputsAreTheSquaredSumOverTheBatchSize() {
    double[][][] dy = {{{1, 2}, {3, 4}}, {{-1, 0}, {2, -2}}};
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      double[] s = fetch(session, KroneckerDiagonals.layerNormOutputs(tf, tf.constant(dy)));
      assertArrayEquals(new double[] {5 * 5 / 2.0, 4 * 4 / 2.0}, s, 1e-15);
    }
  }

  @Test
  void blendWeighsTheRunningFactorAndTheNormalisedStatistic() {
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      Operand<TFloat64> running = tf.constant(new double[] {1, 1, 1});
      Operand<TFloat64> fresh = tf.constant(new double[] {0, 1, 2});
      double[] d =
          fetch(
              session,
              KroneckerDiagonals.blend(tf, running, fresh, tf.constant(0.5), tf.constant(0.25)));
      double range = 2 + 1e-6;
      assertArrayEquals(new double[] {0.5, 0.5 + 0.25 / range, 0.5 + 0.25 * 2 / range}, d, 1e-15);
    }
  }
}
