package dev.fisheropt.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;

/** This machine's limits as measured in the run: MatMul FLOP/s and Add bytes/s. */
record Roofline(double flopRate, double bandwidth) {
  /** max(FLOPs ÷ rate, bytes ÷ bandwidth), seconds. */
  double time(double flops, double bytes) {
    return Math.max(flops / flopRate, bytes / bandwidth);
  }

  String bound(double flops, double bytes) {
    return flops / flopRate >= bytes / bandwidth ? "FLOPs" : "memory";
  }

  /**
   * Roofline seconds of one training step of {@code e} on the bench MLP: every MatMul of forward
   * and backward at its own roof, their element-wise ops at the bandwidth, and the update as one
   * piece (as {@code StepBench update} charges it). A sum, not a max over the step: each of these
   * ops spreads over every core, so TensorFlow gains little by running two at once.
   */
  double step(StepBench.Entry e, int w, int batch) {
    double t = time(0, ByteModel.elementwiseForwardBackward(w, batch));
    for (long[] s : FlopModel.matMuls(w, batch)) {
      t += time(FlopModel.matMul(s), ByteModel.matmul(s[0], s[1], s[2]));
    }
    return t + time(FlopModel.update(e, w, batch), ByteModel.update(e, w, batch));
  }

  /** "roofline ms | efficiency | bound by" for a measured time. */
  String columns(double measured, double flops, double bytes) {
    double roof = time(flops, bytes);
    return String.format(
        Locale.ROOT, "%.2f | %.0f%% | %s", 1e3 * roof, 100 * roof / measured, bound(flops, bytes));
  }

  void print(String piece, double measured, double flops, double bytes) {
    System.out.printf(
        Locale.ROOT,
        "| %s | %.2f | %.3f | %.0f | %s |%n",
        piece,
        1e3 * measured,
        flops / 1e9,
        bytes / 1e6,
        columns(measured, flops, bytes));
  }

  /**
   * The two ceilings, timed in rounds that the caller may interleave with its own: a 1024×1024 by
   * 1024×1024 MatMul, and TensorFlow's Add of two float vectors (STREAM's "add": reads two arrays,
   * writes one) of 2²⁰ floats (the size of a 1024×1024 kernel) and 2²⁴. The ceiling is the best
   * round: the machine's limit is what it reaches when the other jobs leave it alone.
   */
  static final class Ceilings implements AutoCloseable {
    static final int SIDE = 1024;
    static final int[] STREAM_LENGTHS = {1 << 20, 1 << 24};

    private final Graph graph = new Graph();
    private final Session session;
    private final Op matmul;
    private final List<Op> streams = new ArrayList<>();
    private final List<Double> matmulTimes = new ArrayList<>();
    private final List<List<Double>> streamTimes = new ArrayList<>();

    Ceilings() {
      Ops tf = Ops.create(graph);
      matmul =
          tf.linalg.matMul(
              StepBench.variable(tf, SIDE, SIDE, 7), StepBench.variable(tf, SIDE, SIDE, 8));
      for (int length : STREAM_LENGTHS) {
        streams.add(
            tf.math.add(
                StepBench.variable(tf, length, 1, 9), StepBench.variable(tf, length, 1, 10)));
        streamTimes.add(new ArrayList<>());
      }
      session = new Session(graph);
      session.initialize();
      UpdateBench.time(session, matmul, 5);
      streams.forEach(op -> UpdateBench.time(session, op, 2));
    }

    void round() {
      matmulTimes.add(UpdateBench.time(session, matmul, 10));
      for (int k = 0; k < STREAM_LENGTHS.length; k++) {
        streamTimes
            .get(k)
            .add(UpdateBench.time(session, streams.get(k), STREAM_LENGTHS[k] < 1 << 22 ? 50 : 5));
      }
    }

    private static double best(List<Double> times) {
      return times.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    }

    private static double median(List<Double> times) {
      return StepBench.median(times.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** The ceilings of the rounds so far, printed with their medians. */
    Roofline roofline() {
      double flop = 2.0 * SIDE * SIDE * SIDE;
      double rate = flop / best(matmulTimes);
      System.out.printf(
          Locale.ROOT,
          "MatMul 1024x1024x1024: %.1f GFLOP/s best round (median %.1f)%n",
          rate / 1e9,
          flop / median(matmulTimes) / 1e9);
      double bandwidth = 0;
      for (int k = 0; k < STREAM_LENGTHS.length; k++) {
        double bytes = 3 * ByteModel.FLOAT * STREAM_LENGTHS[k];
        double fastest = bytes / best(streamTimes.get(k));
        bandwidth = Math.max(bandwidth, fastest);
        System.out.printf(
            Locale.ROOT,
            "Add of two 2^%d-float vectors: %.1f GB/s best round (median %.1f)%n",
            Integer.numberOfTrailingZeros(STREAM_LENGTHS[k]),
            fastest / 1e9,
            bytes / median(streamTimes.get(k)) / 1e9);
      }
      return new Roofline(rate, bandwidth);
    }

    @Override
    public void close() {
      session.close();
      graph.close();
    }
  }
}
