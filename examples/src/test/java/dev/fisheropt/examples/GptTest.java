package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.optimizers.LayerCollection;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

class GptTest {
  private static final int VOCABULARY = 7;
  private static final int[] INPUTS = {1, 2, 3, 4, 0, 6, 5, 1, 3, 3, 2, 6, 4, 4, 0, 1};
  private static final int[] TARGETS = {2, 3, 4, 0, 6, 5, 1, 1, 3, 2, 6, 4, 4, 0, 1, 5};

  @Test
  void shapesParametersAndRegistration() {
    Gpt.Size size = new Gpt.Size(16, 2, 4, 8, 2);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Gpt<TFloat32> m = new Gpt<>(g, TFloat32.class, size, VOCABULARY, 1);
      s.initialize();
      assertEquals(Shape.scalar(), m.loss().shape());
      assertArrayEquals(new long[] {-1, 8, VOCABULARY}, m.evalLogits().shape().asArray());
      assertEquals(size.parameters(VOCABULARY), m.parameterCount());
      int[] three = new int[3 * 8];
      try (TInt32 x = LanguageModelCompare.tokens(three, 3, 8);
          TFloat32 logits =
              (TFloat32) s.runner().feed(m.evalInputs(), x).fetch(m.evalLogits()).run().get(0)) {
        assertEquals(Shape.of(3, 8, VOCABULARY), logits.shape());
      }
      try (TInt32 x = LanguageModelCompare.tokens(INPUTS, 2, 8);
          TInt32 y = LanguageModelCompare.tokens(TARGETS, 2, 8);
          TFloat32 loss =
              (TFloat32)
                  s.runner()
                      .feed(m.trainInputs(), x)
                      .feed(m.trainTargets(), y)
                      .fetch(m.loss())
                      .run()
                      .get(0)) {
        // small initial weights: every next byte about equally likely
        assertEquals(Math.log(VOCABULARY), loss.getFloat(), 0.05);
      }
      // per block: ln1, q, k, v, out, ln2, mlp in, mlp out; then ln_f and the head
      assertEquals(2 * 8 + 2, m.layers().layers().size());
      assertEquals(2 * 8 + 1, m.hiddenLayers().layers().size());
      assertEquals(
          List.of("embedding/tokens", "embedding/positions", "head/kernel"),
          m.fallbackMatrices().stream().map(v -> v.op().name()).toList());
      LayerCollection.Layer q = m.layers().layers().get(1);
      assertEquals("block0/attn/query/kernel", q.name());
      assertEquals(Shape.of(2, 8, 16), q.inputs().shape());
      assertEquals(Shape.of(2, 8, 16), q.preactivations().shape());
    }
  }

  /** A later position never changes the logits of an earlier one. */
  @Test
  void attentionIsCausal() {
    Gpt.Size size = new Gpt.Size(8, 1, 2, 6, 1);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Gpt<TFloat64> m = new Gpt<>(g, TFloat64.class, size, VOCABULARY, 2);
      s.initialize();
      double[] a = logits(s, m, new int[] {1, 2, 3, 4, 5, 6});
      double[] b = logits(s, m, new int[] {1, 2, 3, 0, 0, 0});
      for (int i = 0; i < 3 * VOCABULARY; i++) {
        assertEquals(a[i], b[i], 0, "position " + i / VOCABULARY);
      }
      assertTrue(a[3 * VOCABULARY] != b[3 * VOCABULARY]);
    }
  }

  private static double[] logits(Session s, Gpt<TFloat64> m, int[] tokens) {
    try (TInt32 x = LanguageModelCompare.tokens(tokens, 1, tokens.length);
        TFloat64 t =
            (TFloat64) s.runner().feed(m.evalInputs(), x).fetch(m.evalLogits()).run().get(0)) {
      double[] v = new double[(int) t.shape().size()];
      t.copyTo(DataBuffers.of(v, false, false));
      return v;
    }
  }

  /**
   * The gradient TensorFlow builds for the attention block's parameters (its LayerNorm, query, key,
   * value and output projections) and the token embedding agrees with central differences of the
   * float64 loss, at weights large enough that the attention is far from uniform.
   */
  @Test
  void attentionBlockGradientMatchesFiniteDifferences() {
    Gpt.Size size = new Gpt.Size(8, 1, 2, 8, 2);
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Gpt<TFloat64> m = new Gpt<>(g, TFloat64.class, size, VOCABULARY, 3);
      List<Variable<TFloat64>> checked = new ArrayList<>();
      for (Variable<TFloat64> v : m.parameters()) {
        String name = v.op().name();
        if (name.startsWith("block0/ln1/")
            || name.startsWith("block0/attn/")
            || name.equals("embedding/tokens")) {
          checked.add(v);
        }
      }
      assertEquals(11, checked.size());
      Output<?>[] gradients =
          g.addGradients(
              m.loss().asOutput(),
              checked.stream().map(Operand::asOutput).toArray(Output<?>[]::new));
      List<Placeholder<TFloat64>> feeds = new ArrayList<>();
      List<Assign<TFloat64>> assigns = new ArrayList<>();
      for (Variable<TFloat64> v : m.parameters()) {
        Placeholder<TFloat64> p = tf.placeholder(TFloat64.class, Placeholder.shape(v.shape()));
        feeds.add(p);
        assigns.add(tf.assign(v, p));
      }
      s.initialize();
      Random random = new Random(11);
      List<double[]> values = new ArrayList<>();
      for (Variable<TFloat64> v : m.parameters()) {
        double[] w = new double[(int) v.shape().size()];
        boolean gamma = v.op().name().endsWith("gamma");
        for (int i = 0; i < w.length; i++) {
          w[i] = (gamma ? 1 : 0) + 0.5 * random.nextGaussian();
        }
        values.add(w);
      }
      set(s, m, feeds, assigns, values);
      double[] analytic;
      try (TInt32 x = LanguageModelCompare.tokens(INPUTS, 2, 8);
          TInt32 y = LanguageModelCompare.tokens(TARGETS, 2, 8)) {
        var runner = s.runner().feed(m.trainInputs(), x).feed(m.trainTargets(), y);
        for (Output<?> gr : gradients) {
          runner.fetch(gr);
        }
        List<double[]> parts = new ArrayList<>();
        try (var result = runner.run()) {
          for (int k = 0; k < gradients.length; k++) {
            TFloat64 t = (TFloat64) result.get(k);
            double[] v = new double[(int) t.shape().size()];
            t.copyTo(DataBuffers.of(v, false, false));
            parts.add(v);
          }
        }
        analytic = parts.stream().flatMapToDouble(java.util.Arrays::stream).toArray();
      }
      double h = 1e-6;
      double[] numeric = new double[analytic.length];
      int at = 0;
      for (Variable<TFloat64> v : checked) {
        double[] w = values.get(m.parameters().indexOf(v));
        for (int i = 0; i < w.length; i++) {
          double keep = w[i];
          w[i] = keep + h;
          set(s, m, feeds, assigns, values);
          double up = loss(s, m);
          w[i] = keep - h;
          set(s, m, feeds, assigns, values);
          double down = loss(s, m);
          w[i] = keep;
          numeric[at++] = (up - down) / (2 * h);
        }
      }
      set(s, m, feeds, assigns, values);
      double diff = 0;
      double norm = 0;
      for (int i = 0; i < analytic.length; i++) {
        diff += (analytic[i] - numeric[i]) * (analytic[i] - numeric[i]);
        norm += numeric[i] * numeric[i];
      }
      assertTrue(norm > 1e-4, "the checked gradient is not negligible: " + norm);
      double relative = Math.sqrt(diff / norm);
      assertTrue(relative < 1e-7, "relative error " + relative);
    }
  }

  private static void set(
      Session s,
      Gpt<TFloat64> m,
      List<Placeholder<TFloat64>> feeds,
      List<Assign<TFloat64>> assigns,
      List<double[]> values) {
    var runner = s.runner();
    List<TFloat64> tensors = new ArrayList<>();
    for (int k = 0; k < feeds.size(); k++) {
      TFloat64 t =
          TFloat64.tensorOf(
              m.parameters().get(k).shape(), DataBuffers.of(values.get(k), true, false));
      tensors.add(t);
      runner.feed(feeds.get(k), t).addTarget(assigns.get(k));
    }
    runner.run();
    tensors.forEach(TFloat64::close);
  }

  private static double loss(Session s, Gpt<TFloat64> m) {
    try (TInt32 x = LanguageModelCompare.tokens(INPUTS, 2, 8);
        TInt32 y = LanguageModelCompare.tokens(TARGETS, 2, 8);
        TFloat64 l =
            (TFloat64)
                s.runner()
                    .feed(m.trainInputs(), x)
                    .feed(m.trainTargets(), y)
                    .fetch(m.loss())
                    .run()
                    .get(0)) {
      return l.getDouble();
    }
  }
}
