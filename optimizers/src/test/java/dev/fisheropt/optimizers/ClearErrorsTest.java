package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/** Bad input gets an error that names what is wrong, at graph-build time. */
class ClearErrorsTest {
  static Stream<Function<Graph, GuardedOptimizer>> everyOptimizer() {
    return Stream.of(
        g -> ElementwiseOptimizer.builder(Fallback.adam()).build(g),
        g -> Muon.builder().build(g),
        g -> Fismo.builder().build(g),
        g -> AdaFisher.builder().build(g),
        g -> AdaFisherW.builder().build(g),
        g -> Frog.builder().build(g));
  }

  private static IllegalArgumentException rejected(Runnable r, String... words) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    for (String w : words) {
      assertTrue(e.getMessage().contains(w), "'" + w + "' missing from: " + e.getMessage());
    }
    return e;
  }

  @ParameterizedTest
  @MethodSource("everyOptimizer")
  void integerVariablesTheLossReadsAreLeftAloneAndRejectedWhenNamed(
      Function<Graph, GuardedOptimizer> factory) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Variable<TFloat32> w =
          tf.withName("w").variable(tf.withInitScope().constant(new float[][] {{1, 2}, {3, 4}}));
      Variable<TInt32> counts =
          tf.withName("counts").variable(tf.withInitScope().constant(new int[] {1, 2}));
      Operand<TFloat32> loss =
          tf.math.mul(
              tf.reduceSum(tf.math.mul(w, w), tf.constant(new int[] {0, 1})),
              tf.dtypes.cast(tf.reduceSum(counts, tf.constant(0)), TFloat32.class));
      GuardedOptimizer optimizer = factory.apply(g);
      Op step = optimizer.minimize(loss);
      try (Session s = new Session(g)) {
        s.initialize();
        s.run(step);
        try (TInt64 steps = (TInt64) s.runner().fetch(optimizer.stepCount()).run().get(0)) {
          assertEquals(1, steps.getLong());
        }
      }
    }
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Variable<TFloat32> w =
          tf.withName("w").variable(tf.withInitScope().constant(new float[] {1, 2}));
      Variable<TInt32> counts =
          tf.withName("counts").variable(tf.withInitScope().constant(new int[] {1, 2}));
      Operand<TFloat32> loss =
          tf.math.mul(
              tf.reduceSum(tf.math.mul(w, w), tf.constant(0)),
              tf.dtypes.cast(tf.reduceSum(counts, tf.constant(0)), TFloat32.class));
      GuardedOptimizer optimizer = factory.apply(g);
      rejected(
          () -> optimizer.minimize(loss, List.of(w, counts)),
          "'counts'",
          "INT32",
          "float32 and float64");
    }
  }

  @ParameterizedTest
  @MethodSource("everyOptimizer")
  void float16VariablesAreRejectedByEveryOptimizerWithTheSameWords(
      Function<Graph, GuardedOptimizer> factory) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Variable<TFloat16> w =
          tf.withName("half")
              .variable(
                  tf.withInitScope()
                      .dtypes
                      .cast(tf.constant(new float[][] {{1, 2}, {3, 4}}), TFloat16.class));
      Operand<TFloat16> loss = tf.reduceSum(tf.math.mul(w, w), tf.constant(new int[] {0, 1}));
      GuardedOptimizer optimizer = factory.apply(g);
      rejected(
          () -> optimizer.minimize(loss),
          "variable 'half' has dtype DT_HALF;",
          "float32 and float64 variables only");
    }
  }

  @Test
  void aSecondOptimizerWithATakenNameIsRejected() {
    try (Graph g = new Graph()) {
      Muon.builder().name("opt").build(g);
      rejected(() -> Fismo.builder().name("opt").build(g), "'opt' is already taken", ".name(");
    }
  }

  @Test
  void twoOptimizersOnOneVariableSayWhatHappened() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Variable<TFloat32> w =
          tf.withName("w").variable(tf.withInitScope().constant(new float[] {1, 2}));
      Operand<TFloat32> loss = tf.reduceSum(tf.math.mul(w, w), tf.constant(0));
      Muon.builder().name("first").build(g).minimize(loss);
      rejected(
          () -> Muon.builder().name("second").build(g).minimize(loss),
          "'w' already has a slot 'w-m'",
          "another optimizer",
          "minimize(loss, variables)");
    }
  }

  @Test
  void excludingNullSaysSo() {
    rejected(() -> Muon.builder().exclude((Variable<?>) null), "null");
    rejected(() -> Fismo.builder().exclude((Variable<?>[]) null), "null");
  }

  @Test
  void aConvLayerRegisteredWithOtherAttributesThanItsOpIsRejected() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.zeros(tf.constant(new long[] {2, 8, 8, 3}), TFloat32.class);
      Variable<TFloat32> k =
          tf.withName("k")
              .variable(
                  tf.withInitScope().zeros(tf.constant(new long[] {3, 3, 3, 4}), TFloat32.class));
      Operand<TFloat32> z =
          tf.nn.conv2d(
              x, k, List.of(1L, 1L, 1L, 1L), "SAME", Conv2d.dilations(List.of(1L, 2L, 2L, 1L)));
      long[] ones = {1, 1, 1, 1};
      rejected(
          () -> new LayerCollection().registerConv2d(k, null, ones, "SAME", ones, x, z),
          "dilations",
          "[1, 1, 1, 1]",
          "[1, 2, 2, 1]",
          "Conv2D");
      new LayerCollection().registerConv2d(k, null, ones, "SAME", new long[] {1, 2, 2, 1}, x, z);
    }
  }
}
