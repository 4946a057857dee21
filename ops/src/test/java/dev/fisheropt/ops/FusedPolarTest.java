package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Graphs;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * {@code FisheroptFusedPolar} computes what the graph Newton–Schulz iteration computes, for single
 * and batched matrices of both orientations, and {@link FusedPolar} falls back to the graph
 * iteration when the library is missing.
 */
class FusedPolarTest {
  private static final double A = NewtonSchulz.A_DEFAULT;
  private static final double B = NewtonSchulz.B_DEFAULT;
  private static final double C = NewtonSchulz.C_DEFAULT;

  @BeforeAll
  static void libraryIsPresentUnlessTheNativeBuildWasSkipped() {
    NativeLibrary.requireUnlessSkipped();
  }

  static Stream<Arguments> shapes() {
    return Stream.of(
            Shape.of(1, 5),
            Shape.of(5, 1),
            Shape.of(16, 16),
            Shape.of(7, 3),
            Shape.of(3, 7),
            Shape.of(33, 65),
            Shape.of(130, 40),
            Shape.of(96, 257))
        .flatMap(
            s ->
                Stream.of(
                    Arguments.of(s, TFloat64.class, 1e-12), Arguments.of(s, TFloat32.class, 1e-5)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("shapes")
  <T extends TFloating> void equalsGraphNewtonSchulz(Shape shape, Class<T> type, double tolerance) {
    double[] m = RandomArrays.gaussian(11 + shape.size(), (int) shape.size());
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<T> input = Tensors.constant(tf, type, shape, m);
      Operand<T> fused = FusedPolar.polar(tf, input, 5, A, B, C);
      Operand<T> graph = NewtonSchulz.polar(tf, input, 5, A, B, C);
      assertEquals(FusedPolar.buildsOp(type) ? 1 : 0, Graphs.countOps(g, FusedPolar.OP_TYPE));
      assertEquals(shape, fused.shape());
      double[][] out = Tensors.fetch(g, fused, graph);
      Close.assertClose(tolerance, shape + " " + type.getSimpleName(), out[0], out[1]);
    }
  }

  @Test
  void usesTheOpOnlyWhereItBeatsTheGraph() {
    CustomOps library = CustomOps.shared();
    // This test runs twice: with the build this CPU prefers (AVX-512 here) and with the AVX2+FMA
    // build forced, which is slower than oneDNN's float32 GEMM and keeps float32 on the graph.
    assertEquals(library.isLoaded(), FusedPolar.buildsOp(TFloat64.class));
    assertEquals(
        library.isLoaded() && library.isAvx512Build(), FusedPolar.buildsOp(TFloat32.class));
    library
        .libraryFile()
        .ifPresent(
            f ->
                assertEquals(
                    f.getFileName().toString().contains("avx512"), library.isAvx512Build()));
    int float32Ops = FusedPolar.buildsOp(TFloat32.class) ? 1 : 0;
    int float64Ops = FusedPolar.buildsOp(TFloat64.class) ? 1 : 0;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      double[] m = RandomArrays.gaussian(3, 12);
      FusedPolar.polar(tf, Tensors.constant(tf, TFloat32.class, Shape.of(3, 4), m), 5, A, B, C);
      assertEquals(float32Ops, Graphs.countOps(g, FusedPolar.OP_TYPE));
      FusedPolar.polar(tf, Tensors.constant(tf, TFloat64.class, Shape.of(3, 4), m), 5, A, B, C);
      assertEquals(float32Ops + float64Ops, Graphs.countOps(g, FusedPolar.OP_TYPE));
    }
  }

  static Stream<Arguments> batches() {
    // [4,6,9] and [2,3,10,4] are small enough to be spread over the thread pool by matrix; the
    // matrices of [2,96,160] are each split over the pool.
    return Stream.of(Shape.of(4, 6, 9), Shape.of(2, 3, 10, 4), Shape.of(2, 96, 160))
        .flatMap(
            s ->
                Stream.of(
                    Arguments.of(s, TFloat64.class, 1e-12), Arguments.of(s, TFloat32.class, 1e-5)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("batches")
  <T extends TFloating> void batchEqualsGraphNewtonSchulzPerMatrix(
      Shape shape, Class<T> type, double tolerance) {
    int rank = shape.numDimensions();
    long rows = shape.size(rank - 2);
    long cols = shape.size(rank - 1);
    int count = (int) (shape.size() / (rows * cols));
    double[] m = RandomArrays.gaussian(5, (int) shape.size());
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<T> fused = FusedPolar.polar(tf, Tensors.constant(tf, type, shape, m), 3, A, B, C);
      List<Operand<T>> perMatrix = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        double[] one =
            Arrays.copyOfRange(m, (int) (i * rows * cols), (int) ((i + 1) * rows * cols));
        perMatrix.add(
            NewtonSchulz.polar(
                tf, Tensors.constant(tf, type, Shape.of(rows, cols), one), 3, A, B, C));
      }
      List<Operand<?>> fetches = new ArrayList<>(perMatrix);
      fetches.add(0, fused);
      double[][] out = Tensors.fetch(g, fetches.toArray(new Operand<?>[0]));
      for (int i = 0; i < count; i++) {
        double[] fusedOne =
            Arrays.copyOfRange(out[0], (int) (i * rows * cols), (int) ((i + 1) * rows * cols));
        Close.assertClose(
            tolerance, shape + " " + type.getSimpleName() + " matrix " + i, fusedOne, out[i + 1]);
      }
    }
  }

  @Test
  void zeroMatrixGivesZero() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> x =
          FusedPolar.polar(
              tf, tf.zeros(tf.constant(new long[] {3, 4}), TFloat64.class), 5, A, B, C);
      assertArrayEquals(new double[12], Tensors.fetch(g, x)[0]);
    }
  }

  @Test
  void nonFiniteMatrixGivesNaNsAndLeavesTheRestOfTheBatchAlone() {
    double[] m = RandomArrays.gaussian(3, 2 * 3 * 4);
    m[5] = Double.POSITIVE_INFINITY;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> fused =
          FusedPolar.polar(
              tf, Tensors.constant(tf, TFloat64.class, Shape.of(2, 3, 4), m), 5, A, B, C);
      Operand<TFloat64> second =
          NewtonSchulz.polar(
              tf,
              Tensors.constant(tf, TFloat64.class, Shape.of(3, 4), Arrays.copyOfRange(m, 12, 24)),
              5,
              A,
              B,
              C);
      double[][] out = Tensors.fetch(g, fused, second);
      for (int i = 0; i < 12; i++) {
        assertTrue(
            Double.isNaN(out[0][i]), "entry " + i + " of the non-finite matrix: " + out[0][i]);
      }
      Close.assertClose(
          1e-12, "the finite matrix of the batch", Arrays.copyOfRange(out[0], 12, 24), out[1]);
    }
  }

  @Test
  void rejectsInputsThatAreNotMatrices() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> FusedPolar.polar(tf, tf.constant(new double[] {1, 2, 3}), 5, A, B, C));
      assertTrue(e.getMessage().contains("shape [3]"), e.getMessage());
      assertThrows(
          IllegalArgumentException.class,
          () -> FusedPolar.polar(tf, tf.constant(new double[][] {{1}}), 0, A, B, C));
      assertThrows(
          IllegalArgumentException.class,
          () -> FusedPolar.polar(tf, tf.constant(new double[][] {{1}}), 5, Double.NaN, B, C));
      assertThrows(
          IllegalArgumentException.class,
          () ->
              FusedPolar.polar(
                  tf,
                  tf.constant(new int[][] {{1}}).asOutput().expect(TFloat64.class),
                  5,
                  A,
                  B,
                  C));
    }
  }

  @Test
  void opItselfRejectsBadRankAndAttributesWhenTheGraphIsBuilt() {
    try (Graph g = new Graph();
        TFloat64 a = TFloat64.scalarOf(A);
        TFloat32 wrongType = TFloat32.scalarOf(1f)) {
      Ops tf = Ops.create(g);
      RuntimeException rank =
          assertThrows(
              RuntimeException.class,
              () ->
                  tf.scope()
                      .opBuilder(FusedPolar.OP_TYPE, "rank1")
                      .addInput(tf.constant(new double[] {1, 2}).asOutput())
                      .setAttr("steps", 5L)
                      .setAttr("a", a)
                      .setAttr("b", a)
                      .setAttr("c", a)
                      .build());
      assertTrue(rank.getMessage().contains("rank"), rank.getMessage());
      RuntimeException steps =
          assertThrows(
              RuntimeException.class,
              () ->
                  tf.scope()
                      .opBuilder(FusedPolar.OP_TYPE, "steps0")
                      .addInput(tf.constant(new double[][] {{1, 2}}).asOutput())
                      .setAttr("steps", 0L)
                      .setAttr("a", a)
                      .setAttr("b", a)
                      .setAttr("c", a)
                      .build());
      assertTrue(steps.getMessage().contains("steps"), steps.getMessage());
      tf.scope()
          .opBuilder(FusedPolar.OP_TYPE, "float32Coefficient")
          .addInput(tf.constant(new double[][] {{1, 2}}).asOutput())
          .setAttr("steps", 5L)
          .setAttr("a", wrongType)
          .setAttr("b", a)
          .setAttr("c", a)
          .build();
      try (Session s = new Session(g)) {
        RuntimeException attr =
            assertThrows(
                RuntimeException.class, () -> s.runner().fetch("float32Coefficient").run().close());
        assertTrue(attr.getMessage().contains("'a' must be a float64 scalar"), attr.getMessage());
      }
    }
  }

  @Test
  void missingLibraryFallsBackToGraphNewtonSchulzAndSaysWhy() {
    List<LogRecord> records = new ArrayList<>();
    Handler capture =
        new Handler() {
          @Override
          public void publish(LogRecord r) {
            records.add(r);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger logger = Logger.getLogger("dev.fisheropt.ops");
    logger.addHandler(capture);
    CustomOps missing;
    try {
      missing =
          CustomOps.loadResource("dev/fisheropt/ops/native/no-such-platform/libfisheropt_ops.so");
    } finally {
      logger.removeHandler(capture);
    }
    assertFalse(missing.isLoaded());
    assertTrue(
        missing.unavailableReason().orElseThrow().contains("no-such-platform"),
        missing.unavailableReason().orElseThrow());
    assertEquals(1, records.size());
    assertTrue(records.get(0).getParameters()[0].toString().contains("no-such-platform"));

    double[] single = RandomArrays.gaussian(21, 5 * 8);
    double[] batch = RandomArrays.gaussian(22, 2 * 8 * 5);
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> fallback =
          FusedPolar.polar(
              tf,
              Tensors.constant(tf, TFloat64.class, Shape.of(5, 8), single),
              5,
              A,
              B,
              C,
              missing);
      Operand<TFloat64> batchFallback =
          FusedPolar.polar(
              tf,
              Tensors.constant(tf, TFloat64.class, Shape.of(2, 8, 5), batch),
              5,
              A,
              B,
              C,
              missing);
      assertEquals(0, Graphs.countOps(g, FusedPolar.OP_TYPE));
      Operand<TFloat64> graph =
          NewtonSchulz.polar(
              tf, Tensors.constant(tf, TFloat64.class, Shape.of(5, 8), single), 5, A, B, C);
      Operand<TFloat64> first =
          NewtonSchulz.polar(
              tf,
              Tensors.constant(
                  tf, TFloat64.class, Shape.of(8, 5), Arrays.copyOfRange(batch, 0, 40)),
              5,
              A,
              B,
              C);
      Operand<TFloat64> second =
          NewtonSchulz.polar(
              tf,
              Tensors.constant(
                  tf, TFloat64.class, Shape.of(8, 5), Arrays.copyOfRange(batch, 40, 80)),
              5,
              A,
              B,
              C);
      double[][] out = Tensors.fetch(g, fallback, graph, batchFallback, first, second);
      assertArrayEquals(out[1], out[0]);
      assertArrayEquals(out[3], Arrays.copyOfRange(out[2], 0, 40));
      assertArrayEquals(out[4], Arrays.copyOfRange(out[2], 40, 80));
    }
  }

  @Test
  void missingLibraryFileIsReportedNotThrown() {
    CustomOps missing = CustomOps.loadFile(Path.of("/nonexistent/libfisheropt_ops.so"));
    assertFalse(missing.isLoaded());
    assertTrue(
        missing.unavailableReason().orElseThrow().contains("/nonexistent/libfisheropt_ops.so"));
    assertTrue(missing.libraryFile().isEmpty());
    assertTrue(missing.registeredOpTypes().isEmpty());
  }

  /**
   * What exports and other runtimes rely on: the op types listed and the file TensorFlow loaded.
   */
  @Test
  void theLoadedLibraryRegistersExactlyTheListedOpTypesFromTheFileItNames() {
    CustomOps library = CustomOps.shared();
    assertEquals(CustomOps.OP_TYPES, library.registeredOpTypes());
    java.nio.file.Path file = library.libraryFile().orElseThrow();
    assertTrue(java.nio.file.Files.isRegularFile(file), file::toString);
    assertTrue(file.isAbsolute(), file::toString);
  }
}
