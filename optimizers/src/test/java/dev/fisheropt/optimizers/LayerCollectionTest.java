package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * Registration checks every static shape it can see and says what does not match, so a wiring
 * mistake fails where the model is built rather than as a shape error inside a training step.
 */
class LayerCollectionTest {
  private final Graph graph = new Graph();
  private final Ops tf = Ops.create(graph);
  private final Map<String, Ops> scopes = new HashMap<>();

  @AfterEach
  void close() {
    graph.close();
  }

  private Variable<TFloat32> variable(String name, long... shape) {
    String[] parts = name.split("/");
    Ops scope = parts.length == 1 ? tf : scopes.computeIfAbsent(parts[0], tf::withSubScope);
    return scope
        .withName(parts[parts.length - 1])
        .variable(tf.withInitScope().zeros(tf.withInitScope().constant(shape), TFloat32.class));
  }

  private Operand<TFloat32> tensor(long... shape) {
    return tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(shape)));
  }

  private static void assertRejected(String expectedFragment, Executable registration) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, registration);
    assertTrue(
        e.getMessage().contains(expectedFragment),
        "message '" + e.getMessage() + "' should mention '" + expectedFragment + "'");
  }

  @Test
  void registeredLayersAreFoundByKernelAndBias() {
    Variable<TFloat32> kernel = variable("dense/kernel", 6, 4);
    Variable<TFloat32> bias = variable("dense/bias", 4);
    Variable<TFloat32> convKernel = variable("conv/kernel", 3, 3, 2, 5);
    LayerCollection layers =
        new LayerCollection()
            .registerFullyConnected(kernel, bias, tensor(8, 6), tensor(8, 4))
            .registerConv2d(
                convKernel,
                null,
                new long[] {1, 2, 2, 1},
                "VALID",
                tensor(8, 9, 9, 2),
                tensor(8, 4, 4, 5));
    assertEquals(2, layers.layers().size());
    assertSame(layers.layerOf(kernel).orElseThrow(), layers.layerOf(bias).orElseThrow());
    assertEquals(LayerCollection.Kind.CONV2D, layers.layerOf(convKernel).orElseThrow().kind());
    assertTrue(layers.layerOf(variable("other", 3)).isEmpty());
  }

  @Test
  void unknownBatchSizeIsAccepted() {
    new LayerCollection()
        .registerFullyConnected(variable("k", 6, 4), null, tensor(-1, 6), tensor(-1, 4));
    new LayerCollection()
        .registerConv2d(
            variable("c", 3, 3, 2, 5),
            null,
            new long[] {1, 1, 1, 1},
            "SAME",
            tensor(-1, 7, 7, 2),
            tensor(-1, 7, 7, 5));
  }

  @Test
  void wrongRankIsRejected() {
    assertRejected(
        "kernel must have rank 2, got shape [6, 4, 1]",
        () ->
            new LayerCollection()
                .registerFullyConnected(variable("k", 6, 4, 1), null, tensor(8, 6), tensor(8, 4)));
    assertRejected(
        "inputs must have rank 2 or 3, got shape [8, 2, 3, 1]",
        () ->
            new LayerCollection()
                .registerFullyConnected(
                    variable("k", 6, 4), null, tensor(8, 2, 3, 1), tensor(8, 4)));
    assertRejected(
        "inputs must have rank 4, got shape [8, 18]",
        () ->
            new LayerCollection()
                .registerConv2d(
                    variable("c", 3, 3, 2, 5),
                    null,
                    new long[] {1, 1, 1, 1},
                    "SAME",
                    tensor(8, 18),
                    tensor(8, 3, 3, 5)));
    assertRejected(
        "bias must have rank 1, got shape [1, 4]",
        () ->
            new LayerCollection()
                .registerFullyConnected(
                    variable("k", 6, 4), variable("b", 1, 4), tensor(8, 6), tensor(8, 4)));
  }

  @Test
  void kernelThatDoesNotFitTheInputsIsRejected() {
    assertRejected(
        "inputs feature size is 5 but kernel rows is 6",
        () ->
            new LayerCollection()
                .registerFullyConnected(variable("k", 6, 4), null, tensor(8, 5), tensor(8, 4)));
    assertRejected(
        "preactivations feature size is 3 but kernel columns is 4",
        () ->
            new LayerCollection()
                .registerFullyConnected(variable("k", 6, 4), null, tensor(8, 6), tensor(8, 3)));
    assertRejected(
        "preactivations batch size is 7 but inputs batch size is 8",
        () ->
            new LayerCollection()
                .registerFullyConnected(variable("k", 6, 4), null, tensor(8, 6), tensor(7, 4)));
    assertRejected(
        "inputs channels is 3 but kernel input channels is 2",
        () ->
            new LayerCollection()
                .registerConv2d(
                    variable("c", 3, 3, 2, 5),
                    null,
                    new long[] {1, 1, 1, 1},
                    "SAME",
                    tensor(8, 7, 7, 3),
                    tensor(8, 7, 7, 5)));
    assertRejected(
        "preactivations channels is 4 but kernel output channels is 5",
        () ->
            new LayerCollection()
                .registerConv2d(
                    variable("c", 3, 3, 2, 5),
                    null,
                    new long[] {1, 1, 1, 1},
                    "SAME",
                    tensor(8, 7, 7, 2),
                    tensor(8, 7, 7, 4)));
  }

  @Test
  void biasOfTheWrongLengthIsRejected() {
    assertRejected(
        "bias length is 5 but kernel output size is 4",
        () ->
            new LayerCollection()
                .registerFullyConnected(
                    variable("k", 6, 4), variable("b", 5), tensor(8, 6), tensor(8, 4)));
    assertRejected(
        "bias length is 2 but kernel output size is 5",
        () ->
            new LayerCollection()
                .registerConv2d(
                    variable("c", 3, 3, 2, 5),
                    variable("cb", 2),
                    new long[] {1, 1, 1, 1},
                    "SAME",
                    tensor(8, 7, 7, 2),
                    tensor(8, 7, 7, 5)));
  }

  @Test
  void convOutputSizeMustFollowFromPaddingStridesAndDilations() {
    Variable<TFloat32> kernel = variable("c", 3, 3, 2, 5);
    // SAME keeps ceil(7 / 2) = 4; VALID leaves ceil((7 − 3 + 1) / 2) = 3; dilation 2 makes the
    // kernel 5 wide.
    assertRejected(
        "preactivations height is 3 but the size SAME padding and stride 2 give is 4",
        () ->
            new LayerCollection()
                .registerConv2d(
                    kernel,
                    null,
                    new long[] {1, 2, 2, 1},
                    "SAME",
                    tensor(8, 7, 7, 2),
                    tensor(8, 3, 4, 5)));
    assertRejected(
        "preactivations width is 4 but the size VALID padding and stride 2 give is 3",
        () ->
            new LayerCollection()
                .registerConv2d(
                    kernel,
                    null,
                    new long[] {1, 2, 2, 1},
                    "VALID",
                    tensor(8, 7, 7, 2),
                    tensor(8, 3, 4, 5)));
    assertRejected(
        "preactivations height is 5 but the size VALID padding and stride 1 give is 3",
        () ->
            new LayerCollection()
                .registerConv2d(
                    kernel,
                    null,
                    new long[] {1, 1, 1, 1},
                    "VALID",
                    new long[] {1, 2, 2, 1},
                    tensor(8, 7, 7, 2),
                    tensor(8, 5, 5, 5)));
    new LayerCollection()
        .registerConv2d(
            kernel,
            null,
            new long[] {1, 1, 1, 1},
            "VALID",
            new long[] {1, 2, 2, 1},
            tensor(8, 7, 7, 2),
            tensor(8, 3, 3, 5));
  }

  @Test
  void malformedConvSettingsAreRejected() {
    Variable<TFloat32> kernel = variable("c", 3, 3, 2, 5);
    assertRejected(
        "padding must be \"SAME\" or \"VALID\", got same",
        () ->
            new LayerCollection()
                .registerConv2d(
                    kernel,
                    null,
                    new long[] {1, 1, 1, 1},
                    "same",
                    tensor(8, 7, 7, 2),
                    tensor(8, 7, 7, 5)));
    assertRejected(
        "strides must be {1, h, w, 1} with h, w ≥ 1, got [2, 2]",
        () ->
            new LayerCollection()
                .registerConv2d(
                    kernel,
                    null,
                    new long[] {2, 2},
                    "SAME",
                    tensor(8, 7, 7, 2),
                    tensor(8, 4, 4, 5)));
    assertRejected(
        "dilations must be {1, h, w, 1} with h, w ≥ 1, got [1, 0, 1, 1]",
        () ->
            new LayerCollection()
                .registerConv2d(
                    kernel,
                    null,
                    new long[] {1, 1, 1, 1},
                    "SAME",
                    new long[] {1, 0, 1, 1},
                    tensor(8, 7, 7, 2),
                    tensor(8, 7, 7, 5)));
  }

  @Test
  void dtypeMismatchAndNullsAreRejected() {
    Operand<TFloat64> doubles = tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(8, 6)));
    assertRejected(
        "inputs has dtype DT_DOUBLE but the kernel has DT_FLOAT",
        () ->
            new LayerCollection()
                .registerFullyConnected(variable("k", 6, 4), null, doubles, tensor(8, 4)));
    assertRejected(
        "kernel must not be null",
        () -> new LayerCollection().registerFullyConnected(null, null, tensor(8, 6), tensor(8, 4)));
    assertRejected(
        "preactivations must not be null",
        () ->
            new LayerCollection()
                .registerFullyConnected(variable("k", 6, 4), null, tensor(8, 6), null));
  }

  @Test
  void aVariableBelongsToOneLayerOnly() {
    Variable<TFloat32> kernel = variable("dense/kernel", 6, 4);
    Variable<TFloat32> bias = variable("dense/bias", 4);
    LayerCollection layers =
        new LayerCollection().registerFullyConnected(kernel, bias, tensor(8, 6), tensor(8, 4));
    assertRejected(
        "variable 'dense/kernel' is already registered with layer 'dense/kernel'",
        () -> layers.registerFullyConnected(kernel, null, tensor(8, 6), tensor(8, 4)));
    assertRejected(
        "variable 'dense/bias' is already registered with layer 'dense/kernel'",
        () ->
            layers.registerFullyConnected(
                variable("other/kernel", 6, 4), bias, tensor(8, 6), tensor(8, 4)));
    assertEquals(1, layers.layers().size());
    assertTrue(layers.layerOf(variable("other/kernel2", 6, 4)).isEmpty());
  }

  @Test
  void denseLayersOnSequencesAndLayerNormsAreRegistered() {
    Variable<TFloat32> kernel = variable("dense/kernel", 6, 8);
    Variable<TFloat32> bias = variable("dense/bias", 8);
    Variable<TFloat32> gamma = variable("ln/gamma", 8);
    Variable<TFloat32> beta = variable("ln/beta", 8);
    Variable<TFloat32> scaleOnly = variable("ln2/gamma", 8);
    Operand<TFloat32> z = tensor(-1, 5, 8);
    LayerCollection layers =
        new LayerCollection()
            .registerFullyConnected(kernel, bias, tensor(-1, 5, 6), z)
            .registerLayerNorm(gamma, beta, z, tensor(-1, 5, 8))
            .registerLayerNorm(scaleOnly, null, tensor(4, 8), tensor(4, 8));
    assertEquals(3, layers.layers().size());
    LayerCollection.Layer norm = layers.layerOf(beta).orElseThrow();
    assertSame(norm, layers.layerOf(gamma).orElseThrow());
    assertEquals(LayerCollection.Kind.LAYER_NORM, norm.kind());
    assertEquals("ln/gamma", norm.name());
    assertSame(z, norm.inputs());
    assertEquals(LayerCollection.Kind.FULLY_CONNECTED, layers.layerOf(kernel).orElseThrow().kind());
  }

  @Test
  void sequenceDenseMismatchesAreNamed() {
    assertRejected(
        "fully-connected layer 'k1': preactivations have rank 2 but inputs have rank 3",
        () ->
            new LayerCollection()
                .registerFullyConnected(variable("k1", 6, 4), null, tensor(8, 5, 6), tensor(8, 4)));
    assertRejected(
        "fully-connected layer 'k2': preactivations time steps is 4 but inputs time steps is 5",
        () ->
            new LayerCollection()
                .registerFullyConnected(
                    variable("k2", 6, 4), null, tensor(8, 5, 6), tensor(8, 4, 4)));
    assertRejected(
        "fully-connected layer 'k3': inputs feature size is 7 but kernel rows is 6",
        () ->
            new LayerCollection()
                .registerFullyConnected(
                    variable("k3", 6, 4), null, tensor(8, 5, 7), tensor(8, 5, 4)));
    assertRejected(
        "fully-connected layer 'k4': preactivations feature size is 3 but kernel columns is 4",
        () ->
            new LayerCollection()
                .registerFullyConnected(
                    variable("k4", 6, 4), null, tensor(8, 5, 6), tensor(8, 5, 3)));
  }

  @Test
  void layerNormMismatchesAreNamed() {
    assertRejected(
        "layer norm 'ln/gamma' gamma must have rank 1, got shape [8, 1]",
        () ->
            new LayerCollection()
                .registerLayerNorm(variable("ln/gamma", 8, 1), null, tensor(4, 8), tensor(4, 8)));
    assertRejected(
        "layer norm 'g2': inputs feature size (last axis) is 6 but gamma length is 8",
        () ->
            new LayerCollection()
                .registerLayerNorm(variable("g2", 8), null, tensor(4, 5, 6), tensor(4, 5, 6)));
    assertRejected(
        "layer norm 'g3': beta length is 7 but gamma length is 8",
        () ->
            new LayerCollection()
                .registerLayerNorm(
                    variable("g3", 8), variable("b", 7), tensor(4, 5, 8), tensor(4, 5, 8)));
    assertRejected(
        "layer norm 'g4': outputs size on axis 1 is 4 but inputs size is 5",
        () ->
            new LayerCollection()
                .registerLayerNorm(variable("g4", 8), null, tensor(4, 5, 8), tensor(4, 4, 8)));
    assertRejected(
        "layer norm 'g5': outputs shape [4, 8] has another rank than inputs shape [4, 5, 8]",
        () ->
            new LayerCollection()
                .registerLayerNorm(variable("g5", 8), null, tensor(4, 5, 8), tensor(4, 8)));
    assertRejected(
        "layer norm 'g6' inputs must have rank 2 or more, got shape [8]",
        () ->
            new LayerCollection().registerLayerNorm(variable("g6", 8), null, tensor(8), tensor(8)));
    assertRejected(
        "layer norm 'g7' outputs must not be null",
        () -> new LayerCollection().registerLayerNorm(variable("g7", 8), null, tensor(4, 8), null));
    assertRejected(
        "layer norm gamma must not be null",
        () -> new LayerCollection().registerLayerNorm(null, null, tensor(4, 8), tensor(4, 8)));
    Operand<TFloat64> doubles = tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(4, 8)));
    assertRejected(
        "layer norm 'g9' outputs has dtype DT_DOUBLE but the gamma has DT_FLOAT",
        () ->
            new LayerCollection()
                .registerLayerNorm(variable("g9", 8), null, tensor(4, 8), doubles));
    Variable<TFloat32> gamma = variable("norm/gamma", 8);
    LayerCollection layers =
        new LayerCollection().registerLayerNorm(gamma, null, tensor(4, 8), tensor(4, 8));
    assertRejected(
        "variable 'norm/gamma' is already registered with layer 'norm/gamma'",
        () -> layers.registerLayerNorm(gamma, null, tensor(4, 8), tensor(4, 8)));
  }
}
