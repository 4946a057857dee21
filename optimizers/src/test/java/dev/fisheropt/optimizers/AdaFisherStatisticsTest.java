package dev.fisheropt.optimizers;

import dev.fisheropt.ops.KroneckerDiagonals;
import dev.fisheropt.testing.Close;
import dev.fisheropt.testing.Layers;
import dev.fisheropt.testing.RandomArrays;
import dev.fisheropt.testing.Tensors;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.types.TFloat64;

/**
 * The layer statistics AdaFisher normalises: for a conv layer Ĥ_D is the mean square of every
 * zero-padded im2col patch feature (in the kernel's (kh, kw, cin) order, divided further by
 * kh·kw·cin, bias entry 1/(kh·kw·cin)) and Ŝ_D the mean square of dLoss/dZ over batch and
 * positions; both are Min-Max normalised with an absolute 1e-6 before entering the factors. Dense
 * layers on [batch, time, features] and layer norms are checked against plain Java as well.
 */
class AdaFisherStatisticsTest {
  private static final int BATCH = 2;
  private static final int HEIGHT = 7;
  private static final int WIDTH = 6;
  private static final int KH = 3;
  private static final int KW = 2;
  private static final int CIN = 3;
  private static final int COUT = 4;

  static Stream<Arguments> convolutions() {
    return Stream.of(
        Arguments.of(new long[] {1, 1, 1, 1}, "SAME", new long[] {1, 1, 1, 1}, true),
        Arguments.of(new long[] {1, 2, 2, 1}, "SAME", new long[] {1, 1, 1, 1}, true),
        Arguments.of(new long[] {1, 2, 1, 1}, "VALID", new long[] {1, 1, 1, 1}, false),
        Arguments.of(new long[] {1, 1, 1, 1}, "SAME", new long[] {1, 2, 2, 1}, true),
        Arguments.of(new long[] {1, 1, 2, 1}, "VALID", new long[] {1, 2, 1, 1}, true));
  }

  @ParameterizedTest(name = "strides {0} {1} dilations {2} bias {3}")
  @MethodSource("convolutions")
  void convStatisticsEqualDirectIm2col(
      long[] strides, String padding, long[] dilations, boolean withBias) {
    Random random = new Random(7);
    double[] x = RandomArrays.gaussian(random, BATCH * HEIGHT * WIDTH * CIN);
    double[] kernelInit = RandomArrays.gaussian(random, KH * KW * CIN * COUT);
    int oh = outputSize(HEIGHT, KH, (int) strides[1], (int) dilations[1], padding);
    int ow = outputSize(WIDTH, KW, (int) strides[2], (int) dilations[2], padding);
    double[] upstream = RandomArrays.gaussian(random, BATCH * oh * ow * COUT);

    double[] expectedH = im2colInputStatistics(x, oh, ow, strides, padding, dilations, withBias);
    double[] expectedS = new double[COUT];
    for (int i = 0; i < upstream.length; i++) {
      expectedS[i % COUT] += upstream[i] * upstream[i] / (BATCH * oh * ow);
    }

    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      Operand<TFloat64> input =
          Tensors.constant(tf, TFloat64.class, new long[] {BATCH, HEIGHT, WIDTH, CIN}, x);
      Variable<TFloat64> kernel =
          tf.withName("kernel")
              .variable(
                  Tensors.constant(
                      tf.withInitScope(),
                      TFloat64.class,
                      new long[] {KH, KW, CIN, COUT},
                      kernelInit));
      Variable<TFloat64> bias =
          withBias
              ? tf.withName("bias")
                  .variable(
                      tf.withInitScope()
                          .zeros(tf.withInitScope().constant(new long[] {COUT}), TFloat64.class))
              : null;
      Operand<TFloat64> z;
      if (dilations[1] == 1 && dilations[2] == 1) {
        z =
            tf.nn.conv2d(
                input, kernel, toList(strides), padding, Conv2d.dilations(toList(dilations)));
      } else {
        // TensorFlow's CPU kernels cannot differentiate a dilated Conv2D; the same layer as
        // patches·kernel can.
        Operand<TFloat64> patches =
            tf.image.extractImagePatches(
                input,
                List.of(1L, (long) KH, (long) KW, 1L),
                toList(strides),
                toList(dilations),
                padding);
        z =
            tf.reshape(
                tf.linalg.matMul(
                    tf.reshape(patches, tf.constant(new long[] {-1, KH * KW * CIN})),
                    tf.reshape(kernel, tf.constant(new long[] {KH * KW * CIN, COUT}))),
                tf.constant(new long[] {BATCH, oh, ow, COUT}));
      }
      if (withBias) {
        z = tf.nn.biasAdd(z, bias);
      }
      LayerCollection layers =
          new LayerCollection().registerConv2d(kernel, bias, strides, padding, dilations, input, z);
      // With loss = Σ z·U the gradient dLoss/dZ is exactly U.
      Operand<TFloat64> u =
          Tensors.constant(tf, TFloat64.class, new long[] {BATCH, oh, ow, COUT}, upstream);
      Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(z, u), tf.constant(new int[] {0, 1, 2, 3}));
      Operand<TFloat64> hHat = AdaFisherBase.inputStatistics(tf, layers.layers().get(0), input, z);
      Operand<TFloat64> sHat = KroneckerDiagonals.outputs(tf, u);
      AdaFisher adaFisher =
          AdaFisher.builder().layers(layers).factorEma(0, 1).fisherInterval(1).build(graph);
      var step = adaFisher.minimize(loss);
      try (Session session = new Session(graph)) {
        session.initialize();
        Close.assertClose(1e-13, "Ĥ_D", Tensors.fetch(session, hHat), expectedH);
        Close.assertClose(1e-13, "Ŝ_D", Tensors.fetch(session, sHat), expectedS);
        session.run(step);
        // Refreshed with weights (0, 1) the factors are the normalised statistics themselves.
        Close.assertClose(
            1e-12,
            "H_D",
            Tensors.fetch(session, adaFisher.getSlot(kernel.asOutput(), "H_D").orElseThrow()),
            minMax(expectedH));
        Close.assertClose(
            1e-12,
            "S_D",
            Tensors.fetch(session, adaFisher.getSlot(kernel.asOutput(), "S_D").orElseThrow()),
            minMax(expectedS));
      }
    }
  }

  /**
   * A dense layer on [batch, time, features] counts every position as a row (Ĥ_D the mean of x²
   * over batch and time, bias entry 1; Ŝ_D the mean of dZ² likewise); a layer norm after it gets
   * the authors' two-entry Ĥ_D = [Σ_t (Σ_{b,c} h / C²)², T] / B² and Ŝ_D = (Σ_{b,t} dY)² / B. After
   * one refresh with weights (0, 1) the factors are their Min-Max values, and γ and β move by η·g /
   * F̃ with F̃ = H_D[0]·S_D + λ and H_D[1]·S_D + λ.
   */
  @Test
  void sequenceDenseAndLayerNormStatisticsEqualPlainJava() {
    int b = 2;
    int t = 3;
    int f = 4;
    int c = 3;
    Random random = new Random(11);
    double[] x = RandomArrays.gaussian(random, b * t * f);
    double[] kernelInit = RandomArrays.gaussian(random, f * c);
    double[] gammaInit = {1.2, 0.7, -0.4};
    double[] betaInit = {0.1, -0.3, 0.5};
    double[] upstream = RandomArrays.gaussian(random, b * t * c);
    double learningRate = 0.01;
    double damping = 1e-3;
    try (Graph graph = new Graph()) {
      Ops tf = Ops.create(graph);
      Operand<TFloat64> input = Tensors.constant(tf, TFloat64.class, new long[] {b, t, f}, x);
      Variable<TFloat64> kernel =
          tf.withName("kernel")
              .variable(
                  Tensors.constant(
                      tf.withInitScope(), TFloat64.class, new long[] {f, c}, kernelInit));
      Variable<TFloat64> bias =
          tf.withName("bias")
              .variable(
                  tf.withInitScope()
                      .zeros(tf.withInitScope().constant(new long[] {c}), TFloat64.class));
      Variable<TFloat64> gamma =
          tf.withName("gamma")
              .variable(
                  Tensors.constant(tf.withInitScope(), TFloat64.class, new long[] {c}, gammaInit));
      Variable<TFloat64> beta =
          tf.withName("beta")
              .variable(
                  Tensors.constant(tf.withInitScope(), TFloat64.class, new long[] {c}, betaInit));
      Operand<TFloat64> z = tf.math.add(ReferenceModel.sequenceMatMul(tf, input, kernel), bias);
      Operand<TFloat64> y = Layers.layerNorm(tf, z, gamma, beta, 1e-5);
      // With loss = Σ y·U the gradient dLoss/dY is exactly U.
      Operand<TFloat64> u = Tensors.constant(tf, TFloat64.class, new long[] {b, t, c}, upstream);
      Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(y, u), tf.constant(new int[] {0, 1, 2}));
      LayerCollection layers =
          new LayerCollection()
              .registerFullyConnected(kernel, bias, input, z)
              .registerLayerNorm(gamma, beta, z, y);
      Output<?>[] grads =
          graph.addGradients(
              loss.asOutput(), new Output<?>[] {z.asOutput(), gamma.asOutput(), beta.asOutput()});
      AdaFisher adaFisher =
          AdaFisher.builder()
              .layers(layers)
              .learningRate(learningRate)
              .damping(damping)
              .factorEma(0, 1)
              .fisherInterval(1)
              .build(graph);
      var step = adaFisher.minimize(loss);
      try (Session session = new Session(graph)) {
        session.initialize();
        double[] zValues = Tensors.fetch(session, z);
        double[] dz = Tensors.fetch(session, grads[0]);
        double[] gGamma = Tensors.fetch(session, grads[1]);
        double[] gBeta = Tensors.fetch(session, grads[2]);

        double[] denseH = new double[f + 1];
        for (int i = 0; i < x.length; i++) {
          denseH[i % f] += x[i] * x[i] / (b * t);
        }
        denseH[f] = 1;
        double[] denseS = new double[c];
        for (int i = 0; i < dz.length; i++) {
          denseS[i % c] += dz[i] * dz[i] / (b * t);
        }
        double[] perStep = new double[t];
        for (int i = 0; i < zValues.length; i++) {
          perStep[(i / c) % t] += zValues[i] / ((double) c * c);
        }
        double sumOfSquares = 0;
        for (double v : perStep) {
          sumOfSquares += v * v;
        }
        double[] normH = {sumOfSquares / ((double) b * b), (double) t / ((double) b * b)};
        double[] summed = new double[c];
        for (int i = 0; i < upstream.length; i++) {
          summed[i % c] += upstream[i];
        }
        double[] normS = new double[c];
        for (int j = 0; j < c; j++) {
          normS[j] = summed[j] * summed[j] / b;
        }
        LayerCollection.Layer dense = layers.layers().get(0);
        LayerCollection.Layer norm = layers.layers().get(1);
        Close.assertClose(
            1e-13,
            "dense Ĥ_D",
            Tensors.fetch(session, AdaFisherBase.inputStatistics(tf, dense, input, z)),
            denseH);
        Close.assertClose(
            1e-13,
            "layer norm Ĥ_D",
            Tensors.fetch(session, AdaFisherBase.inputStatistics(tf, norm, z, y)),
            normH);
        Close.assertClose(
            1e-13,
            "layer norm Ŝ_D",
            Tensors.fetch(session, AdaFisherBase.outputStatistics(tf, norm, u)),
            normS);

        session.run(step);
        double[] hDense = minMax(denseH);
        double[] sDense = minMax(denseS);
        double[] hNorm = minMax(normH);
        double[] sNorm = minMax(normS);
        Close.assertClose(1e-12, "dense H_D", slot(session, adaFisher, kernel, "H_D"), hDense);
        Close.assertClose(1e-12, "dense S_D", slot(session, adaFisher, kernel, "S_D"), sDense);
        Close.assertClose(1e-12, "layer norm H_D", slot(session, adaFisher, gamma, "H_D"), hNorm);
        Close.assertClose(1e-12, "layer norm S_D", slot(session, adaFisher, gamma, "S_D"), sNorm);
        // Step 1: the bias-corrected momentum is g itself.
        double[] gammaAfter = new double[c];
        double[] betaAfter = new double[c];
        for (int j = 0; j < c; j++) {
          gammaAfter[j] = gammaInit[j] - learningRate * gGamma[j] / (hNorm[0] * sNorm[j] + damping);
          betaAfter[j] = betaInit[j] - learningRate * gBeta[j] / (hNorm[1] * sNorm[j] + damping);
        }
        Close.assertClose(1e-12, "gamma after one step", Tensors.fetch(session, gamma), gammaAfter);
        Close.assertClose(1e-12, "beta after one step", Tensors.fetch(session, beta), betaAfter);
      }
    }
  }

  private static double[] slot(
      Session session, GuardedOptimizer optimizer, Variable<?> variable, String name) {
    return Tensors.fetch(session, optimizer.getSlot(variable.asOutput(), name).orElseThrow());
  }

  private static double[] im2colInputStatistics(
      double[] x,
      int oh,
      int ow,
      long[] strides,
      String padding,
      long[] dilations,
      boolean withBias) {
    int fanIn = KH * KW * CIN;
    int padTop =
        padding.equals("SAME")
            ? samePadBefore(HEIGHT, KH, oh, (int) strides[1], (int) dilations[1])
            : 0;
    int padLeft =
        padding.equals("SAME")
            ? samePadBefore(WIDTH, KW, ow, (int) strides[2], (int) dilations[2])
            : 0;
    double rows = (double) BATCH * oh * ow;
    double[] h = new double[fanIn + (withBias ? 1 : 0)];
    for (int b = 0; b < BATCH; b++) {
      for (int i = 0; i < oh; i++) {
        for (int j = 0; j < ow; j++) {
          for (int kh = 0; kh < KH; kh++) {
            for (int kw = 0; kw < KW; kw++) {
              int r = i * (int) strides[1] + kh * (int) dilations[1] - padTop;
              int c = j * (int) strides[2] + kw * (int) dilations[2] - padLeft;
              for (int ci = 0; ci < CIN; ci++) {
                double v =
                    r < 0 || r >= HEIGHT || c < 0 || c >= WIDTH
                        ? 0
                        : x[((b * HEIGHT + r) * WIDTH + c) * CIN + ci];
                h[(kh * KW + kw) * CIN + ci] += v * v / (rows * fanIn);
              }
            }
          }
          if (withBias) {
            h[fanIn] += 1.0 / (rows * fanIn);
          }
        }
      }
    }
    return h;
  }

  private static int outputSize(int in, int k, int stride, int dilation, String padding) {
    int effective = (k - 1) * dilation + 1;
    return padding.equals("SAME") ? (in + stride - 1) / stride : (in - effective + stride) / stride;
  }

  private static int samePadBefore(int in, int k, int out, int stride, int dilation) {
    int effective = (k - 1) * dilation + 1;
    return Math.max((out - 1) * stride + effective - in, 0) / 2;
  }

  private static double[] minMax(double[] v) {
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double d : v) {
      lo = Math.min(lo, d);
      hi = Math.max(hi, d);
    }
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (v[i] - lo) / (hi - lo + 1e-6);
    }
    return out;
  }

  private static List<Long> toList(long[] values) {
    return Arrays.stream(values).boxed().toList();
  }
}
