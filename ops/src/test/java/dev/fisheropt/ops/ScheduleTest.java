package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongToDoubleFunction;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;

/**
 * Every schedule, evaluated in a graph over a range of steps (0, the boundaries, and far past the
 * end), against its closed form written out here (not through {@code valueAt}), and against its own
 * {@code valueAt}.
 */
class ScheduleTest {
  /** Steps far past any decay: where t + 1 or a cast to double rounds, and the largest int64. */
  private static final long[] FAR = {
    1_000_000, 1L << 53, (1L << 53) + 1, 1L << 62, Long.MAX_VALUE - 1, Long.MAX_VALUE
  };

  /** A schedule, its closed form and the scale its values are compared at. */
  record Case(
      String label,
      Schedule schedule,
      LongToDoubleFunction closedForm,
      double scale,
      long[] steps) {
    @Override
    public String toString() {
      return label;
    }
  }

  static Stream<Case> cases() {
    return Stream.of(
        new Case("constant 0.03", Schedule.constant(0.03), t -> 0.03, 0.03, range(0, 5)),
        new Case("constant 0", Schedule.constant(0), t -> 0, 1, range(0, 3)),
        warmup(0.1, 1),
        warmup(0.1, 5),
        warmup(3e-4, 1000),
        cosine(0.1, 100, 0.0),
        cosine(0.1, 100, 0.001),
        cosine(1e-3, 7, 0.5),
        cosine(2.0, 1, 0.0),
        warmupCosine(0.1, 10, 100, 0.0),
        warmupCosine(3e-4, 1, 50, 3e-5),
        warmupCosine(0.05, 0, 40, 0.01),
        warmupCosine(1.0, 99, 100, 0.25),
        linear(0.1, 100, 0.0),
        linear(0.01, 3, 0.02),
        linear(0.5, 1, 0.125),
        new Case(
            "piecewise [10, 20, 30]",
            Schedule.piecewiseConstant(new long[] {10, 20, 30}, new double[] {1, 0.5, 0.1, 0.01}),
            t -> t <= 10 ? 1 : t <= 20 ? 0.5 : t <= 30 ? 0.1 : 0.01,
            1,
            range(0, 40)),
        new Case(
            "piecewise [0]",
            Schedule.piecewiseConstant(new long[] {0}, new double[] {0.2, 0.7}),
            t -> t == 0 ? 0.2 : 0.7,
            1,
            range(0, 3)),
        new Case(
            "piecewise no boundaries",
            Schedule.piecewiseConstant(new long[0], new double[] {0.4}),
            t -> 0.4,
            1,
            range(0, 3)),
        new Case(
            "piecewise huge boundary",
            Schedule.piecewiseConstant(new long[] {Long.MAX_VALUE - 1}, new double[] {0.3, 0.6}),
            t -> t <= Long.MAX_VALUE - 1 ? 0.3 : 0.6,
            1,
            range(0, 2)),
        new Case(
            "0.25 x warmupCosine",
            Schedule.warmupCosine(0.1, 10, 100, 0.001).scaled(0.25),
            t ->
                0.25
                    * (t < 10
                        ? 0.1 * (t + 1) / 10
                        : 0.001
                            + 0.099 * 0.5 * (1 + Math.cos(Math.PI * Math.min(t - 10, 90) / 90.0))),
            0.025,
            range(0, 110)),
        new Case(
            "3 x 0.5 x linear",
            Schedule.linearDecay(0.1, 10, 0.0).scaled(0.5).scaled(3),
            t -> 1.5 * 0.1 * (1 - Math.min(t, 10) / 10.0),
            0.15,
            range(0, 12)));
  }

  private static Case warmup(double peak, long w) {
    return new Case(
        "linearWarmup(" + peak + ", " + w + ")",
        Schedule.linearWarmup(peak, w),
        t -> t < w ? peak * (t + 1) / w : peak,
        peak,
        range(0, w + 3));
  }

  private static Case cosine(double initial, long d, double fin) {
    // optax cosine_decay_schedule with alpha = final/initial, written as final + (initial −
    // final)·cosine_decay.
    return new Case(
        "cosineDecay(" + initial + ", " + d + ", " + fin + ")",
        Schedule.cosineDecay(initial, d, fin),
        t -> fin + (initial - fin) * 0.5 * (1 + Math.cos(Math.PI * Math.min(t, d) / d)),
        Math.max(initial, fin),
        range(0, d + 3));
  }

  private static Case warmupCosine(double peak, long w, long total, double fin) {
    return new Case(
        "warmupCosine(" + peak + ", " + w + ", " + total + ", " + fin + ")",
        Schedule.warmupCosine(peak, w, total, fin),
        t ->
            t < w
                ? peak * (t + 1) / w
                : fin
                    + (peak - fin)
                        * 0.5
                        * (1 + Math.cos(Math.PI * Math.min(t - w, total - w) / (total - w))),
        Math.max(peak, fin),
        range(0, total + 3));
  }

  private static Case linear(double initial, long d, double fin) {
    return new Case(
        "linearDecay(" + initial + ", " + d + ", " + fin + ")",
        Schedule.linearDecay(initial, d, fin),
        t -> initial + (fin - initial) * Math.min(t, d) / d,
        Math.max(initial, fin),
        range(0, d + 3));
  }

  /** from..to inclusive, then {@link #FAR}. */
  private static long[] range(long from, long to) {
    return LongStream.concat(LongStream.rangeClosed(from, to), LongStream.of(FAR)).toArray();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void graphMatchesTheClosedForm(Case c) {
    double[] graph = graphValues(c.schedule, c.steps, ConfigProto.getDefaultInstance());
    for (int i = 0; i < c.steps.length; i++) {
      long t = c.steps[i];
      double expected = c.closedForm.applyAsDouble(t);
      assertTrue(Double.isFinite(graph[i]) && graph[i] >= 0, c + " at step " + t + ": " + graph[i]);
      assertEquals(expected, graph[i], 1e-12 * c.scale, c + " at step " + t);
    }
  }

  /**
   * valueAt follows the graph's formula in the graph's order: bit for bit, except that TensorFlow's
   * sin/cos (Eigen's, or XLA's) may round differently from Java's by an ulp or two.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void valueAtEqualsTheGraphValue(Case c) {
    double[] graph = graphValues(c.schedule, c.steps, ConfigProto.getDefaultInstance());
    for (int i = 0; i < c.steps.length; i++) {
      assertAgrees(c.schedule, c.steps[i], graph[i], c.toString());
    }
  }

  /** Every step of a long cosine decay (with warmup): graph and valueAt within 1e-15 relative. */
  @Test
  void valueAtEqualsTheGraphValueAtEveryStepOfALongDecay() {
    Schedule schedule = Schedule.warmupCosine(3e-4, 500, 20_000, 0.0);
    long[] steps = LongStream.rangeClosed(0, 20_001).toArray();
    double[] graph = graphValues(schedule, steps, ConfigProto.getDefaultInstance());
    double worst = 0;
    for (int i = 0; i < steps.length; i++) {
      double java = schedule.valueAt(steps[i]);
      worst = Math.max(worst, java == graph[i] ? 0 : Math.abs(graph[i] - java) / Math.ulp(java));
      assertAgrees(schedule, steps[i], graph[i], schedule.toString());
    }
    System.out.println(
        "ScheduleTest: "
            + schedule
            + ", steps 0.."
            + (steps.length - 1)
            + ": graph vs valueAt at most "
            + worst
            + " ulp");
  }

  /** Exactly equal for schedules without sin/cos; within 1e-15 relative (≥ 4.5 ulp) with them. */
  private static void assertAgrees(Schedule schedule, long step, double graph, String what) {
    double java = schedule.valueAt(step);
    assertEquals(java, graph, usesTrig(schedule) ? 1e-15 * java : 0.0, what + " at step " + step);
  }

  private static boolean usesTrig(Schedule s) {
    return s instanceof Schedule.CosineDecay
        || s instanceof Schedule.WarmupCosine
        || s instanceof Schedule.Scaled scaled && usesTrig(scaled.base());
  }

  /**
   * With XLA auto-clustering on (CPU), the schedule's ops all run in a cluster and give the same
   * values.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void compilesUnderXla(Case c) {
    ConfigProto xla =
        ConfigProto.newBuilder()
            .setGraphOptions(
                GraphOptions.newBuilder()
                    .setOptimizerOptions(
                        OptimizerOptions.newBuilder()
                            .setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_2)
                            .setCpuGlobalJit(true)))
            .build();
    try (Graph g = new Graph();
        Session s = new Session(g, xla)) {
      Ops tf = Ops.create(g);
      Placeholder<TInt64> step = tf.placeholder(TInt64.class, Placeholder.shape(Shape.of(-1)));
      Operand<TFloat64> value = c.schedule.value(tf, step);
      // Lazy compilation may run a cluster's uncompiled fallback the first time or two.
      double[] out = null;
      List<NodeDef> nodes = new ArrayList<>();
      for (int run = 0; run < 3; run++) {
        try (TInt64 feed = TInt64.vectorOf(c.steps);
            Result r =
                s.runner()
                    .feed(step, feed)
                    .fetch(value)
                    .setOptions(RunOptions.newBuilder().setOutputPartitionGraphs(true).build())
                    .runAndFetchMetadata()) {
          out = Tensors.toDoubles(r.get(0));
          nodes.clear();
          for (GraphDef partition : r.getMetadata().orElseThrow().getPartitionGraphsList()) {
            nodes.addAll(partition.getNodeList());
          }
        }
      }
      long computeOps = 0;
      for (var it = g.operations(); it.hasNext(); ) {
        String type = it.next().type();
        computeOps += type.equals("Const") || type.equals("Placeholder") ? 0 : 1;
      }
      // Auto-clustering leaves graphs of fewer than 4 ops (a constant's Shape + Fill, one select)
      // alone.
      if (computeOps >= 4) {
        assertTrue(
            nodes.stream().anyMatch(n -> n.getOp().equals("_XlaRun")), c + ": no XLA cluster ran");
        List<String> outside =
            nodes.stream()
                .filter(n -> !n.getName().matches("cluster_\\d+(_\\d+)?/.*"))
                .map(NodeDef::getOp)
                .filter(
                    op ->
                        !List.of(
                                "_XlaCompile",
                                "_XlaRun",
                                "_XlaMerge",
                                "_Arg",
                                "_Retval",
                                "Placeholder",
                                "Const",
                                "NoOp",
                                "_Send",
                                "_Recv",
                                "Identity")
                            .contains(op))
                .toList();
        assertEquals(List.of(), outside, c + ": ops outside the XLA cluster");
      }
      for (int i = 0; i < c.steps.length; i++) {
        assertAgrees(c.schedule, c.steps[i], out[i], c + " under XLA");
      }
    }
  }

  @Test
  void aScalarStepGivesAScalarRate() {
    for (Schedule schedule :
        List.of(
            Schedule.constant(0.1),
            Schedule.linearWarmup(0.1, 5),
            Schedule.cosineDecay(0.1, 5, 0),
            Schedule.warmupCosine(0.1, 2, 5, 0),
            Schedule.linearDecay(0.1, 5, 0),
            Schedule.piecewiseConstant(new long[] {2}, new double[] {0.1, 0.01}),
            Schedule.constant(2).scaled(3))) {
      try (Graph g = new Graph();
          Session s = new Session(g)) {
        Ops tf = Ops.create(g);
        Operand<TFloat64> value = schedule.value(tf, tf.constant(3L));
        try (Result r = s.runner().fetch(value).run()) {
          assertEquals(Shape.scalar(), r.get(0).shape(), schedule.toString());
          assertEquals(
              schedule.valueAt(3), Tensors.toDoubles(r.get(0))[0], 0.0, schedule.toString());
        }
      }
    }
  }

  @Test
  void theGraphTreatsANegativeStepAsZeroAndValueAtRejectsIt() {
    for (Case c : cases().toList()) {
      double[] graph =
          graphValues(
              c.schedule,
              new long[] {-1, -1000, Long.MIN_VALUE, 0},
              ConfigProto.getDefaultInstance());
      for (double v : graph) {
        assertEquals(graph[3], v, 0.0, c.toString());
      }
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> c.schedule.valueAt(-1));
      assertTrue(e.getMessage().contains("step") && e.getMessage().contains("-1"), e.getMessage());
    }
  }

  @Test
  void endpointsAreExact() {
    Schedule.CosineDecay cosine = Schedule.cosineDecay(0.1, 100, 0.001);
    assertEquals(0.1, cosine.valueAt(0), 0.0);
    assertEquals(0.001, cosine.valueAt(100), 0.0);
    assertEquals(0.001, cosine.valueAt(Long.MAX_VALUE), 0.0);
    Schedule.LinearWarmup warmup = Schedule.linearWarmup(0.1, 3);
    assertEquals(0.1 / 3, warmup.valueAt(0), 0.0);
    assertEquals(0.1, warmup.valueAt(2), 0.0);
    assertEquals(0.1, warmup.valueAt(3), 0.0);
    Schedule.WarmupCosine wc = Schedule.warmupCosine(0.1, 10, 100, 0.0);
    assertEquals(0.01, wc.valueAt(0), 1e-18);
    assertEquals(0.1, wc.valueAt(9), 0.0);
    assertEquals(0.1, wc.valueAt(10), 0.0);
    assertEquals(0.0, wc.valueAt(100), 0.0);
    Schedule.LinearDecay linear = Schedule.linearDecay(0.1, 7, 0.003);
    assertEquals(0.1, linear.valueAt(0), 0.0);
    assertEquals(0.003, linear.valueAt(7), 0.0);
    double[] graph =
        graphValues(cosine, new long[] {0, 100, Long.MAX_VALUE}, ConfigProto.getDefaultInstance());
    assertEquals(0.1, graph[0], 0.0);
    assertEquals(0.001, graph[1], 0.0);
    assertEquals(0.001, graph[2], 0.0);
    graph = graphValues(warmup, new long[] {0, 2, 3}, ConfigProto.getDefaultInstance());
    assertEquals(0.1 / 3, graph[0], 0.0);
    assertEquals(0.1, graph[1], 0.0);
    assertEquals(0.1, graph[2], 0.0);
    graph = graphValues(linear, new long[] {0, 7, 8}, ConfigProto.getDefaultInstance());
    assertEquals(0.1, graph[0], 0.0);
    assertEquals(0.003, graph[1], 0.0);
    assertEquals(0.003, graph[2], 0.0);
  }

  /** Near the end of a decay to 0 the value is tiny; it is still accurate relative to itself. */
  @Test
  void aCosineDecayToZeroIsRelativelyAccurateNearTheEnd() {
    long d = 1000;
    Schedule.CosineDecay cosine = Schedule.cosineDecay(1.0, d, 0.0);
    double[] graph =
        graphValues(cosine, new long[] {d - 1, d - 2}, ConfigProto.getDefaultInstance());
    for (int k = 1; k <= 2; k++) {
      // ½(1 + cos(π(1 − k/D))) = sin²(πk/(2D)), with a small argument: accurate to an ulp or so.
      double expected = Math.pow(Math.sin(Math.PI * k / (2.0 * d)), 2);
      assertEquals(expected, cosine.valueAt(d - k), 1e-15 * expected);
      assertEquals(expected, graph[k - 1], 1e-15 * expected);
    }
  }

  @Test
  void initialAndPeakValues() {
    assertEquals(0.1 / 5, Schedule.linearWarmup(0.1, 5).initialValue(), 0.0);
    assertEquals(0.1, Schedule.linearWarmup(0.1, 5).peakValue(), 0.0);
    assertEquals(0.1, Schedule.cosineDecay(0.1, 5, 0.01).initialValue(), 0.0);
    assertEquals(0.5, Schedule.cosineDecay(0.1, 5, 0.5).peakValue(), 0.0);
    assertEquals(0.1, Schedule.warmupCosine(0.1, 3, 10, 0).peakValue(), 0.0);
    assertEquals(0.1, Schedule.warmupCosine(0.1, 0, 10, 0).initialValue(), 0.0);
    assertEquals(0.2, Schedule.linearDecay(0.1, 5, 0.2).peakValue(), 0.0);
    assertEquals(
        0.7,
        Schedule.piecewiseConstant(new long[] {1, 2}, new double[] {0.1, 0.7, 0.3}).peakValue(),
        0.0);
    assertEquals(
        0.1,
        Schedule.piecewiseConstant(new long[] {1, 2}, new double[] {0.1, 0.7, 0.3}).initialValue(),
        0.0);
    assertEquals(0.3, Schedule.linearWarmup(0.1, 5).scaled(3).peakValue(), 1e-16);
  }

  @Test
  void scaled() {
    Schedule base = Schedule.warmupCosine(0.1, 10, 100, 0.001);
    assertSame(base, base.scaled(1.0));
    Schedule half = base.scaled(0.5);
    assertEquals(new Schedule.Scaled(base, 0.5), half);
    for (long t : range(0, 110)) {
      assertEquals(0.5 * base.valueAt(t), half.valueAt(t), 0.0);
    }
    // Scaling twice multiplies the factors; scaling by 0 gives 0.
    assertEquals(new Schedule.Scaled(base, 0.5 * 0.2), half.scaled(0.2));
    assertEquals(0.0, base.scaled(0).valueAt(5), 0.0);
    assertEquals(0.05, half.initialValue() * 10, 1e-17);
    assertEquals(0.05, half.peakValue(), 0.0);
    assertMessage(() -> base.scaled(-1), "factor", "-1.0");
    assertMessage(() -> base.scaled(Double.NaN), "factor", "NaN");
    assertMessage(() -> half.scaled(Double.POSITIVE_INFINITY), "factor", "Infinity");
    assertMessage(
        () -> Schedule.constant(10).scaled(1e308), "factor 1.0E308", "peak 10.0", "overflows");
  }

  @Test
  void piecewiseConstantCopiesItsArrays() {
    long[] b = {5, 10};
    double[] v = {0.3, 0.2, 0.1};
    Schedule.PiecewiseConstant p = Schedule.piecewiseConstant(b, v);
    b[0] = 7;
    v[0] = 9;
    p.boundaries()[1] = 0;
    p.values()[1] = 9;
    assertEquals(0.3, p.valueAt(5), 0.0);
    assertEquals(0.2, p.valueAt(10), 0.0);
    assertEquals(Schedule.piecewiseConstant(new long[] {5, 10}, new double[] {0.3, 0.2, 0.1}), p);
    assertEquals(
        Schedule.piecewiseConstant(new long[] {5, 10}, new double[] {0.3, 0.2, 0.1}).hashCode(),
        p.hashCode());
    assertNotEquals(
        Schedule.piecewiseConstant(new long[] {5, 11}, new double[] {0.3, 0.2, 0.1}), p);
    assertEquals("PiecewiseConstant[boundaries=[5, 10], values=[0.3, 0.2, 0.1]]", p.toString());
  }

  static Stream<Arguments> invalid() {
    return Stream.of(
        bad(() -> Schedule.constant(-0.1), "constant", "value", "-0.1"),
        bad(() -> Schedule.constant(Double.NaN), "constant", "value", "NaN"),
        bad(() -> Schedule.constant(Double.POSITIVE_INFINITY), "value", "Infinity"),
        bad(() -> Schedule.linearWarmup(Double.NaN, 10), "linearWarmup", "peak", "NaN"),
        bad(() -> Schedule.linearWarmup(0.1, 0), "linearWarmup", "warmupSteps", ">= 1", "got 0"),
        bad(() -> Schedule.linearWarmup(0.1, -3), "warmupSteps", "-3"),
        bad(() -> Schedule.cosineDecay(-1, 10, 0), "cosineDecay", "initial", "-1.0"),
        bad(() -> Schedule.cosineDecay(0.1, 0, 0), "cosineDecay", "decaySteps", "got 0"),
        bad(
            () -> Schedule.cosineDecay(0.1, 10, Double.NEGATIVE_INFINITY),
            "cosineDecay",
            "finalValue",
            "-Infinity"),
        bad(() -> Schedule.warmupCosine(Double.NaN, 1, 10, 0), "warmupCosine", "peak", "NaN"),
        bad(
            () -> Schedule.warmupCosine(0.1, -1, 10, 0),
            "warmupCosine",
            "warmupSteps",
            ">= 0",
            "-1"),
        bad(
            () -> Schedule.warmupCosine(0.1, 10, 10, 0),
            "warmupCosine",
            "totalSteps",
            "warmupSteps (10)",
            "got 10"),
        bad(() -> Schedule.warmupCosine(0.1, 0, 0, 0), "totalSteps", "got 0"),
        bad(() -> Schedule.warmupCosine(0.1, 1, 10, -0.5), "warmupCosine", "finalValue", "-0.5"),
        bad(() -> Schedule.linearDecay(Double.NaN, 10, 0), "linearDecay", "initial", "NaN"),
        bad(() -> Schedule.linearDecay(0.1, -5, 0), "linearDecay", "decaySteps", "-5"),
        bad(() -> Schedule.linearDecay(0.1, 5, -1e-9), "linearDecay", "finalValue", "-1.0E-9"),
        bad(
            () -> Schedule.piecewiseConstant(new long[] {10, 20}, new double[] {1, 2}),
            "piecewiseConstant",
            "values",
            "3 entries",
            "got 2"),
        bad(
            () -> Schedule.piecewiseConstant(new long[0], new double[0]),
            "values",
            "1 entries",
            "got 0"),
        bad(
            () -> Schedule.piecewiseConstant(new long[] {10, 10}, new double[] {1, 2, 3}),
            "strictly increasing",
            "boundaries[1] = 10",
            "boundaries[0] = 10"),
        bad(
            () -> Schedule.piecewiseConstant(new long[] {10, 20, 15}, new double[] {1, 2, 3, 4}),
            "boundaries[2] = 15"),
        bad(
            () -> Schedule.piecewiseConstant(new long[] {-1, 20}, new double[] {1, 2, 3}),
            ">= 0",
            "boundaries[0] = -1"),
        bad(
            () -> Schedule.piecewiseConstant(new long[] {1}, new double[] {1, Double.NaN}),
            "values[1]",
            "NaN"),
        bad(
            () -> Schedule.piecewiseConstant(new long[] {1}, new double[] {-2, 1}),
            "values[0]",
            "-2.0"),
        bad(() -> Schedule.piecewiseConstant(null, new double[] {1}), "boundaries", "null"));
  }

  private static Arguments bad(Executable build, String... fragments) {
    return Arguments.of(build, fragments);
  }

  @ParameterizedTest
  @MethodSource("invalid")
  void invalidArgumentsAreRejectedAtOnceByName(Executable build, String[] fragments) {
    assertMessage(build, fragments);
  }

  private static void assertMessage(Executable build, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build);
    for (String f : fragments) {
      assertTrue(
          e.getMessage().contains(f), "'" + e.getMessage() + "' does not mention '" + f + "'");
    }
  }

  /** The schedule at every step of {@code steps}, fed through an int64 placeholder, in one run. */
  private static double[] graphValues(Schedule schedule, long[] steps, ConfigProto config) {
    try (Graph g = new Graph();
        Session s = new Session(g, config)) {
      Ops tf = Ops.create(g);
      Placeholder<TInt64> step = tf.placeholder(TInt64.class, Placeholder.shape(Shape.of(-1)));
      Operand<TFloat64> value = schedule.value(tf, step);
      try (TInt64 feed = TInt64.vectorOf(steps);
          Result r = s.runner().feed(step, feed).fetch(value).run()) {
        assertEquals(Shape.of(steps.length), r.get(0).shape());
        return Tensors.toDoubles(r.get(0));
      }
    }
  }
}
