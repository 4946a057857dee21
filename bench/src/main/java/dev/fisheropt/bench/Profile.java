package dev.fisheropt.bench;

import dev.fisheropt.examples.Model;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.proto.DeviceStepStats;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunOptions;

/**
 * Where a training step's time goes: runs steps of one {@link StepBench.Entry} with {@code
 * TraceLevel.FULL_TRACE} and sums the kernels' times (TensorFlow's step stats) by op type, and
 * separately for the ops inside the optimizer's name scope (the update). Kernel times of ops that
 * ran in parallel add up, so the sum can exceed the wall time.
 */
final class Profile {
  private Profile() {}

  static void run(
      StepBench.Entry entry, Model.Architecture architecture, int width, int batch, int steps) {
    try (StepBench.Trainer t = new StepBench.Trainer(entry, architecture, width, batch)) {
      t.block(StepBench.BLOCK);
      RunOptions options =
          RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
      Map<String, Double> byType = new HashMap<>();
      Map<String, Double> updateByType = new HashMap<>();
      String scope = entry.choice().displayName();
      double total = 0;
      double update = 0;
      long t0 = System.nanoTime();
      for (int s = 0; s < steps; s++) {
        try (Result r =
            t.session
                .runner()
                .feed(t.model.trainImages(), t.images[s % StepBench.INPUTS])
                .feed(t.model.trainLabels(), t.labels[s % StepBench.INPUTS])
                .addTarget(t.step)
                .setOptions(options)
                .runAndFetchMetadata()) {
          for (DeviceStepStats device :
              r.getMetadata().orElseThrow().getStepStats().getDevStatsList()) {
            for (NodeExecStats node : device.getNodeStatsList()) {
              String name = node.getNodeName();
              GraphOperation op = t.graph.operation(name);
              String type = op == null ? "(" + name + ")" : op.type();
              double ms = node.getAllEndRelMicros() / 1e3 / steps;
              byType.merge(type, ms, Double::sum);
              total += ms;
              if (isUpdate(name, scope)) {
                updateByType.merge(type, ms, Double::sum);
                update += ms;
              }
            }
          }
        }
      }
      double wall = (System.nanoTime() - t0) / 1e6 / steps;
      System.out.printf(
          Locale.ROOT,
          "# profile %s, %s, w = %d, B = %d, %d traced steps: wall %.1f ms/step (tracing included),"
              + " kernel time %.1f ms/step, of which the optimizer's scope %.1f ms%n",
          entry.label(),
          architecture,
          width,
          batch,
          steps,
          wall,
          total,
          update);
      print("whole step", byType, total);
      print("optimizer scope only", updateByType, update);
    }
  }

  private static boolean isUpdate(String node, String scope) {
    String n = node.toLowerCase(Locale.ROOT);
    String prefix = scope.toLowerCase(Locale.ROOT) + "/";
    return n.startsWith(prefix) || n.contains("/" + prefix);
  }

  private static void print(String title, Map<String, Double> byType, double total) {
    System.out.println();
    System.out.println("| op type (" + title + ") | ms/step | share |");
    System.out.println("|---|---|---|");
    byType.entrySet().stream()
        .sorted(Map.Entry.<String, Double>comparingByValue().reversed())
        .limit(12)
        .forEach(
            e ->
                System.out.printf(
                    Locale.ROOT,
                    "| %s | %.2f | %.0f%% |%n",
                    e.getKey(),
                    e.getValue(),
                    100 * e.getValue() / total));
  }
}
