package dev.fisheropt.bench;

import dev.fisheropt.examples.Compare;
import dev.fisheropt.examples.CompareOptions;
import dev.fisheropt.examples.FashionMnist;
import dev.fisheropt.examples.Model;
import dev.fisheropt.ops.ExactPolar;
import dev.fisheropt.ops.NewtonSchulz;
import dev.fisheropt.ops.PolarExpress;
import dev.fisheropt.optimizers.Muon;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.stream.IntStream;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.linalg.Svd;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * How close Muon's quintic Newton–Schulz (NS) and the Polar Express schedule (PE) get to the exact
 * polar factor at an equal number of matrix products (the same iteration count), on random matrices
 * and on the momenta Muon holds while training the compare CNN on Fashion-MNIST.
 *
 * <p>For M = UΣVᵀ (SVD in float64) and an iterate X, the values Uᵀ X V on the diagonal are what the
 * iteration made of each singular value; the report gives max |d_i − 1| over the singular values
 * above 1e-6·σ₁ (those the polar factor maps to 1), and ‖X − U_r V_rᵀ‖_F / ‖U_r V_rᵀ‖_F, with X
 * computed in float32 as training does.
 *
 * <p>{@code PolarQualityBench [FASHION_MNIST_DIR] [MUON_STEPS]}
 */
public final class PolarQualityBench {
  private record Measure(double maxSigmaError, double relativeError) {}

  private PolarQualityBench() {}

  public static void main(String[] args) throws Exception {
    Path data = args.length > 0 ? Path.of(args[0]) : FashionMnist.DEBIAN_DIRECTORY;
    int muonSteps = args.length > 1 ? Integer.parseInt(args[1]) : 300;
    Map<String, double[][]> matrices = new LinkedHashMap<>();
    Random random = new Random(7);
    matrices.put("gaussian 128x128", gaussian(random, 128, 128, 1));
    matrices.put("gaussian 256x1024", gaussian(random, 256, 1024, 1));
    matrices.put("gaussian 512x128", gaussian(random, 512, 128, 1));
    matrices.put("cond 1e2, 256x256", withCondition(random, 256, 1e2));
    matrices.put("cond 1e3, 256x256", withCondition(random, 256, 1e3));
    matrices.put("cond 1e4, 256x256", withCondition(random, 256, 1e4));
    matrices.putAll(muonMomenta(data, muonSteps));

    int[] stepCounts = {4, 5, 6, 8};
    System.out.println(
        "| matrix | σ₁/σ_min | steps | NS max abs(σ−1) | PE max abs(σ−1) | NS rel. error | PE rel."
            + " error |");
    System.out.println("|---|---|---|---|---|---|---|");
    for (Map.Entry<String, double[][]> e : matrices.entrySet()) {
      double[][] m = e.getValue();
      for (int steps : stepCounts) {
        double[][] peSchedule =
            PolarExpress.withSafety(
                PolarExpress.coefficients(PolarExpress.LOWER_BOUND_DEFAULT, steps),
                PolarExpress.SAFETY_DEFAULT);
        Measure ns =
            measure(
                m,
                (tf, x) ->
                    NewtonSchulz.polar(
                        tf,
                        x,
                        steps,
                        NewtonSchulz.A_DEFAULT,
                        NewtonSchulz.B_DEFAULT,
                        NewtonSchulz.C_DEFAULT));
        Measure pe =
            measure(
                m, (tf, x) -> NewtonSchulz.polar(tf, x, peSchedule, PolarExpress.SAFETY_DEFAULT));
        System.out.printf(
            Locale.ROOT,
            "| %s | %.3g | %d | %.3g | %.3g | %.3g | %.3g |%n",
            e.getKey(),
            condition(m),
            steps,
            ns.maxSigmaError(),
            pe.maxSigmaError(),
            ns.relativeError(),
            pe.relativeError());
      }
    }
  }

  /** Muon's momentum of every matrix of the compare CNN after {@code steps} steps at batch 128. */
  private static Map<String, double[][]> muonMomenta(Path data, int steps) throws Exception {
    FashionMnist.Split train = FashionMnist.load(data).train();
    Map<String, double[][]> momenta = new LinkedHashMap<>();
    int batch = 128;
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Model model = new Model(g, Model.Architecture.CNN, batch, CompareOptions.HIDDEN_DEFAULT, 1);
      var step =
          Muon.builder().learningRate(Muon.LEARNING_RATE_DEFAULT).build(g).minimize(model.loss());
      s.initialize();
      for (int k = 0; k < steps; k++) {
        int first = k * batch;
        int[] rows = IntStream.range(0, batch).map(i -> (first + i) % train.count()).toArray();
        try (TFloat32 images = Compare.images(Model.Architecture.CNN, train, rows, 0, batch);
            TInt32 labels = Compare.labels(train, rows, 0, batch)) {
          s.runner()
              .feed(model.trainImages(), images)
              .feed(model.trainLabels(), labels)
              .addTarget(step)
              .run();
        }
      }
      for (Variable<TFloat32> v : model.parameters()) {
        Shape shape = v.shape();
        if (shape.numDimensions() < 2) {
          continue;
        }
        String slot = v.op().name() + "-momentum";
        try (Tensor t = s.runner().fetch(slot).run().get(0)) {
          double[] flat = new double[(int) shape.size()];
          TFloat32 f = (TFloat32) t;
          int[] i = {0};
          f.scalars().forEach(sc -> flat[i[0]++] = sc.getFloat());
          int cols = (int) shape.size(shape.numDimensions() - 1);
          int rows = flat.length / cols;
          double[][] m = new double[rows][cols];
          for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * cols, m[r], 0, cols);
          }
          momenta.put(
              "Muon momentum " + v.op().name() + " " + rows + "x" + cols + ", step " + steps, m);
        }
      }
    }
    return momenta;
  }

  private static Measure measure(
      double[][] m, BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> polar) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> m64 = constant(tf, m);
      Svd<TFloat64> svd = tf.linalg.svd(m64, Svd.fullMatrices(false));
      Operand<TFloat64> x =
          tf.dtypes.cast(polar.apply(tf, tf.dtypes.cast(m64, TFloat32.class)), TFloat64.class);
      Operand<TFloat64> mapped =
          tf.linalg.matrixDiagPart(
              tf.linalg.matMul(tf.linalg.matMul(svd.u(), x, MatMul.transposeA(true)), svd.v()),
              tf.constant(0),
              tf.constant(0.0));
      Operand<TFloat64> exact = ExactPolar.polar(tf, m64);
      Operand<TFloat64> error =
          tf.math.div(frobenius(tf, tf.math.sub(x, exact)), frobenius(tf, exact));
      try (Result out = s.runner().fetch(svd.s()).fetch(mapped).fetch(error).run()) {
        double[] sv = values((TFloat64) out.get(0));
        double[] dv = values((TFloat64) out.get(1));
        Tensor rel = out.get(2);
        double worst = 0;
        for (int i = 0; i < sv.length; i++) {
          if (sv[i] > 1e-6 * sv[0]) {
            worst = Math.max(worst, Math.abs(dv[i] - 1));
          }
        }
        return new Measure(worst, ((TFloat64) rel).getDouble());
      }
    }
  }

  private static Operand<TFloat64> frobenius(Ops tf, Operand<TFloat64> x) {
    return tf.math.sqrt(tf.reduceSum(tf.math.square(x), tf.constant(new int[] {0, 1})));
  }

  private static double condition(double[][] m) {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Svd<TFloat64> svd = tf.linalg.svd(constant(tf, m), Svd.computeUv(false));
      try (TFloat64 sigma = (TFloat64) s.runner().fetch(svd.s()).run().get(0)) {
        double[] sv = values(sigma);
        return sv[0] / sv[sv.length - 1];
      }
    }
  }

  private static double[] values(TFloat64 t) {
    double[] v = new double[(int) t.shape().size()];
    int[] i = {0};
    t.scalars().forEach(sc -> v[i[0]++] = sc.getDouble());
    return v;
  }

  private static Operand<TFloat64> constant(Ops tf, double[][] m) {
    double[] flat = new double[m.length * m[0].length];
    for (int r = 0; r < m.length; r++) {
      System.arraycopy(m[r], 0, flat, r * m[0].length, m[0].length);
    }
    return tf.constant(Shape.of(m.length, m[0].length), DataBuffers.of(flat));
  }

  private static double[][] gaussian(Random random, int rows, int cols, double scale) {
    double[][] m = new double[rows][cols];
    for (double[] row : m) {
      for (int j = 0; j < cols; j++) {
        row[j] = scale * random.nextGaussian();
      }
    }
    return m;
  }

  /** Q₁ diag(σ) Q₂ᵀ with σ geometric from 1 down to 1/{@code condition}. */
  private static double[][] withCondition(Random random, int n, double condition) {
    double[][] q1 = orthonormal(gaussian(random, n, n, 1));
    double[][] q2 = orthonormal(gaussian(random, n, n, 1));
    double[][] m = new double[n][n];
    for (int k = 0; k < n; k++) {
      double sigma = Math.pow(condition, -(double) k / (n - 1));
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          m[i][j] += q1[i][k] * sigma * q2[j][k];
        }
      }
    }
    return m;
  }

  /** Gram–Schmidt on the columns. */
  private static double[][] orthonormal(double[][] a) {
    int n = a.length;
    List<double[]> columns = new ArrayList<>();
    for (int c = 0; c < n; c++) {
      double[] v = new double[n];
      for (int r = 0; r < n; r++) {
        v[r] = a[r][c];
      }
      for (double[] u : columns) {
        double dot = 0;
        for (int r = 0; r < n; r++) {
          dot += u[r] * v[r];
        }
        for (int r = 0; r < n; r++) {
          v[r] -= dot * u[r];
        }
      }
      double norm = 0;
      for (double x : v) {
        norm += x * x;
      }
      norm = Math.sqrt(norm);
      for (int r = 0; r < n; r++) {
        v[r] /= norm;
      }
      columns.add(v);
    }
    double[][] q = new double[n][n];
    for (int c = 0; c < n; c++) {
      for (int r = 0; r < n; r++) {
        q[r][c] = columns.get(c)[r];
      }
    }
    return q;
  }
}
