package dev.fisheropt.bench;

import dev.fisheropt.ops.SoftmaxCrossEntropy;
import dev.fisheropt.optimizers.AdaFisher;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.Frog;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.InverseRoot;
import dev.fisheropt.optimizers.LayerCollection;
import dev.fisheropt.optimizers.Muon;
import dev.fisheropt.xla.Xla;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.TensorFlow;
import org.tensorflow.framework.optimizers.Adam;
import org.tensorflow.framework.optimizers.Optimizer;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * Step time of each optimizer on an MLP, with and without XLA, in one JVM, and where every op ran.
 *
 * <p>The model is {@code x[batch, width] → depth × (Dense(width→width), tanh) →
 * Dense(width→classes)} with softmax cross-entropy, float32. Each step draws the same batch
 * in-graph (a stateless normal with a fixed seed; labels are the argmax of its first {@code
 * classes} columns), so no data crosses from the host. For every (XLA mode, optimizer) pair the
 * program builds a fresh graph and session (XLA through {@link Xla#sessionConfig()}), runs one step
 * with partition graphs to count ops per device and list update ops left outside XLA clusters, runs
 * {@code --warmup} steps, then times {@code --steps} steps one {@code Session.run} each and reports
 * the median. Ratios (optimizer ÷ Adam in the same mode, XLA ÷ no XLA for the same optimizer) come
 * from this one run.
 *
 * <pre>
 * java -cp CLASSPATH dev.fisheropt.bench.GpuStepBench \
 *   --optimizers adam,muon,fismo-eigh,fismo-newton --width 4096 --depth 2 --batch 1024 \
 *   --classes 1000 --xla off,on --warmup 5 --steps 30
 * </pre>
 */
public final class GpuStepBench {
  /**
   * The model's parts an optimizer may need (layer inputs and pre-activations for AdaFisher/FROG).
   */
  public record Model(
      Graph graph,
      Operand<TFloat32> loss,
      List<Variable<TFloat32>> kernels,
      List<Variable<TFloat32>> biases,
      List<Operand<TFloat32>> inputs,
      List<Operand<TFloat32>> preactivations) {
    LayerCollection layers() {
      LayerCollection layers = new LayerCollection();
      for (int i = 0; i < kernels.size(); i++) {
        layers.registerFullyConnected(
            kernels.get(i), biases.get(i), inputs.get(i), preactivations.get(i));
      }
      return layers;
    }

    List<Variable<?>> variables() {
      List<Variable<?>> all = new ArrayList<>(kernels);
      all.addAll(biases);
      return all;
    }
  }

  /**
   * Builds an optimizer on the model's graph; returns its step op and the name scope its update ops
   * live under (null where they have none, as the framework Adam's {@code ApplyAdam} ops).
   */
  public record Built(Op step, String scope) {}

  /** The optimizers by command-line name. Add AdaFisher and FROG here once they exist. */
  public static final Map<String, BiFunction<Graph, Model, Built>> OPTIMIZERS =
      new LinkedHashMap<>();

  static {
    OPTIMIZERS.put(
        "adam",
        (g, m) -> {
          Optimizer adam = new Adam(g, 1e-3f);
          return new Built(adam.minimize(m.loss()), null);
        });
    OPTIMIZERS.put("muon", (g, m) -> guarded(Muon.builder().build(g), m));
    OPTIMIZERS.put(
        "fismo-eigh", (g, m) -> guarded(Fismo.builder().inverseRoot(InverseRoot.EIGH).build(g), m));
    OPTIMIZERS.put(
        "fismo-newton",
        (g, m) -> guarded(Fismo.builder().inverseRoot(InverseRoot.NEWTON).build(g), m));
    // fisherInterval 1: the factor statistics are computed every step, the costliest setting.
    OPTIMIZERS.put(
        "adafisher",
        (g, m) -> guarded(AdaFisher.builder().layers(m.layers()).fisherInterval(1).build(g), m));
    OPTIMIZERS.put(
        "frog",
        (g, m) -> guarded(Frog.builder().layers(m.layers()).learningRate(0.05).build(g), m));
  }

  private static Built guarded(GuardedOptimizer optimizer, Model m) {
    return new Built(optimizer.minimize(m.loss(), m.variables()), optimizer.getOptimizerName());
  }

  /** One (optimizer, XLA mode) measurement. */
  public record Measurement(
      String optimizer,
      boolean xla,
      double medianMillis,
      double minMillis,
      Xla.Placement placement,
      List<String> updateOpsOutsideClusters,
      List<String> stepOpsOutsideClusters) {}

  /** Parsed command line, with defaults sized for one H100. */
  public record Settings(
      List<String> optimizers,
      int width,
      int depth,
      int batch,
      int classes,
      List<Boolean> xlaModes,
      int warmup,
      int steps) {
    static Settings parse(String... args) {
      Map<String, String> kv = new LinkedHashMap<>();
      for (int i = 0; i < args.length; i += 2) {
        if (!args[i].startsWith("--") || i + 1 >= args.length) {
          throw new IllegalArgumentException(
              "expected --key value pairs, got " + Arrays.toString(args));
        }
        kv.put(args[i].substring(2), args[i + 1]);
      }
      List<String> optimizers =
          List.of(kv.getOrDefault("optimizers", String.join(",", OPTIMIZERS.keySet())).split(","));
      for (String o : optimizers) {
        if (!OPTIMIZERS.containsKey(o)) {
          throw new IllegalArgumentException(
              "unknown optimizer '" + o + "'; known: " + OPTIMIZERS.keySet());
        }
      }
      List<Boolean> modes = new ArrayList<>();
      for (String mode : kv.getOrDefault("xla", "off,on").split(",")) {
        modes.add(
            switch (mode) {
              case "on" -> true;
              case "off" -> false;
              default ->
                  throw new IllegalArgumentException("--xla takes on, off or off,on; got " + mode);
            });
      }
      Settings s =
          new Settings(
              optimizers,
              intArg(kv, "width", 4096),
              intArg(kv, "depth", 2),
              intArg(kv, "batch", 1024),
              intArg(kv, "classes", 1000),
              modes,
              intArg(kv, "warmup", 5),
              intArg(kv, "steps", 30));
      kv.keySet()
          .removeAll(
              List.of(
                  "optimizers", "width", "depth", "batch", "classes", "xla", "warmup", "steps"));
      if (!kv.isEmpty()) {
        throw new IllegalArgumentException("unknown options " + kv.keySet());
      }
      return s;
    }

    private static int intArg(Map<String, String> kv, String key, int def) {
      int v = kv.containsKey(key) ? Integer.parseInt(kv.get(key)) : def;
      if (v < 1) {
        throw new IllegalArgumentException("--" + key + " must be at least 1, got " + v);
      }
      return v;
    }
  }

  private GpuStepBench() {}

  public static void main(String[] args) {
    run(Settings.parse(args), System.out);
  }

  /** Runs every (XLA mode, optimizer) pair, printing as it goes, and returns the measurements. */
  public static List<Measurement> run(Settings s, PrintStream out) {
    String tf32 =
        "0".equals(System.getenv("NVIDIA_TF32_OVERRIDE"))
            ? "off (NVIDIA_TF32_OVERRIDE=0)"
            : "on where the GPU has it (TensorFlow "
                + TensorFlow.version()
                + " default for float32 MatMul/Conv; set NVIDIA_TF32_OVERRIDE=0 to turn off)";
    out.printf(
        Locale.ROOT,
        "# GpuStepBench TensorFlow %s, float32, MLP width %d depth %d batch %d classes %d, warmup"
            + " %d, steps %d%n",
        TensorFlow.version(),
        s.width(),
        s.depth(),
        s.batch(),
        s.classes(),
        s.warmup(),
        s.steps());
    out.println("# TF32: " + tf32);
    List<Measurement> all = new ArrayList<>();
    for (boolean xla : s.xlaModes()) {
      for (String name : s.optimizers()) {
        Measurement m = measure(s, name, xla);
        all.add(m);
        out.printf(
            Locale.ROOT,
            "%n== %s xla=%s median %.3f ms, min %.3f ms%n",
            name,
            xla ? "on" : "off",
            m.medianMillis(),
            m.minMillis());
        m.placement()
            .opCountsByDevice()
            .forEach(
                (device, counts) ->
                    out.printf(
                        Locale.ROOT,
                        "  ops on %s: %d %s%n",
                        device,
                        counts.values().stream().mapToInt(Integer::intValue).sum(),
                        counts));
        out.printf(
            Locale.ROOT,
            "  XLA clusters run: %d; compute ops outside clusters: update %s, whole step %d %s%n",
            m.placement().count("_XlaRun"),
            m.updateOpsOutsideClusters() == null
                ? "n/a (no scope)"
                : m.updateOpsOutsideClusters().size()
                    + " "
                    + summarize(m.updateOpsOutsideClusters()),
            m.stepOpsOutsideClusters().size(),
            summarize(m.stepOpsOutsideClusters()));
      }
    }
    out.printf(
        Locale.ROOT, "%n# optimizer | xla | median ms | ÷ adam (same mode) | xla on ÷ off%n");
    for (Measurement m : all) {
      out.printf(
          Locale.ROOT,
          "%s | %s | %.3f | %s | %s%n",
          m.optimizer(),
          m.xla() ? "on" : "off",
          m.medianMillis(),
          ratio(m, find(all, "adam", m.xla())),
          m.xla() ? ratio(m, find(all, m.optimizer(), false)) : "");
    }
    return all;
  }

  private static Measurement find(List<Measurement> all, String optimizer, boolean xla) {
    return all.stream()
        .filter(m -> m.optimizer().equals(optimizer) && m.xla() == xla)
        .findFirst()
        .orElse(null);
  }

  private static String ratio(Measurement m, Measurement base) {
    return base == null
        ? "-"
        : String.format(Locale.ROOT, "%.2f", m.medianMillis() / base.medianMillis());
  }

  /** Op types of the ops left outside, with counts (the names are long and repetitive). */
  private static String summarize(List<String> ops) {
    Map<String, Integer> byType = new TreeMap<>();
    ops.forEach(
        o -> byType.merge(o.substring(o.lastIndexOf('(') + 1, o.length() - 1), 1, Integer::sum));
    return byType.toString();
  }

  private static Measurement measure(Settings s, String optimizer, boolean xla) {
    try (Graph g = new Graph()) {
      Model model = mlp(g, s);
      Built built = OPTIMIZERS.get(optimizer).apply(g, model);
      ConfigProto config = xla ? Xla.sessionConfig() : ConfigProto.getDefaultInstance();
      try (Session session = new Session(g, config)) {
        session.initialize();
        Xla.Placement placement;
        try (Result r =
            session
                .runner()
                .addTarget(built.step())
                .setOptions(Xla.partitionGraphs())
                .runAndFetchMetadata()) {
          placement = Xla.placement(r.getMetadata().orElseThrow());
        }
        for (int i = 0; i < s.warmup(); i++) {
          session.run(built.step());
        }
        double[] millis = new double[s.steps()];
        for (int i = 0; i < s.steps(); i++) {
          long t0 = System.nanoTime();
          session.run(built.step());
          millis[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(millis);
        double median =
            millis.length % 2 == 1
                ? millis[millis.length / 2]
                : (millis[millis.length / 2 - 1] + millis[millis.length / 2]) / 2;
        return new Measurement(
            optimizer,
            xla,
            median,
            millis[0],
            placement,
            built.scope() == null ? null : placement.computeOpsOutsideClusters(built.scope()),
            placement.computeOpsOutsideClusters());
      }
    }
  }

  /** The benchmark MLP, its batch drawn in-graph from a fixed seed. */
  static Model mlp(Graph g, Settings s) {
    Ops tf = Ops.create(g);
    Operand<TFloat32> x =
        tf.random.statelessRandomNormal(
            tf.constant(new long[] {s.batch(), s.width()}),
            tf.constant(new long[] {1L, 2L}),
            TFloat32.class);
    Operand<TInt64> labels =
        tf.math.argMax(
            tf.slice(
                x,
                tf.constant(new long[] {0, 0}),
                tf.constant(new long[] {s.batch(), Math.min(s.classes(), s.width())})),
            tf.constant(1),
            TInt64.class);
    List<Variable<TFloat32>> kernels = new ArrayList<>();
    List<Variable<TFloat32>> biases = new ArrayList<>();
    List<Operand<TFloat32>> inputs = new ArrayList<>();
    List<Operand<TFloat32>> preactivations = new ArrayList<>();
    Operand<TFloat32> h = x;
    for (int layer = 0; layer <= s.depth(); layer++) {
      boolean last = layer == s.depth();
      int out = last ? s.classes() : s.width();
      // Unscoped names (dense0_kernel): the framework Adam cannot make slots for dense0/kernel.
      Ops init = tf.withInitScope();
      // Glorot-uniform kernels from fixed seeds: every optimizer starts from the same weights.
      float limit = (float) Math.sqrt(6.0 / (s.width() + out));
      Operand<TFloat32> uniform =
          init.random.statelessRandomUniform(
              init.constant(new long[] {s.width(), out}),
              init.constant(new long[] {7L, layer}),
              TFloat32.class);
      Variable<TFloat32> kernel =
          tf.withName("dense" + layer + "_kernel")
              .variable(
                  init.math.mul(
                      init.math.sub(init.math.mul(uniform, init.constant(2f)), init.constant(1f)),
                      init.constant(limit)));
      Variable<TFloat32> bias =
          tf.withName("dense" + layer + "_bias")
              .variable(init.zeros(init.constant(new long[] {out}), TFloat32.class));
      inputs.add(h);
      Operand<TFloat32> z = tf.math.add(tf.linalg.matMul(h, kernel), bias);
      preactivations.add(z);
      kernels.add(kernel);
      biases.add(bias);
      h = last ? z : tf.math.tanh(z);
    }
    Operand<TFloat32> loss = SoftmaxCrossEntropy.mean(tf, h, labels, s.classes());
    return new Model(g, loss, kernels, biases, inputs, preactivations);
  }
}
