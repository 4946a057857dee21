package dev.fisheropt.bench;

import dev.fisheropt.examples.Model;
import dev.fisheropt.examples.OptimizerChoice;
import dev.fisheropt.optimizers.AdaFisher;
import dev.fisheropt.optimizers.ElementwiseOptimizer;
import dev.fisheropt.optimizers.Fallback;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.LayerCollection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.BiFunction;
import org.tensorflow.Graph;

/**
 * What the step guard costs: Adam, AdaFisher and FISMO on the compare CNN (batch 128, the main
 * job's settings), each with the guard on (the default) and off ({@code skipNonFinite(false)}), as
 * ratios to guarded Adam measured in the same run with {@link StepBench}'s rounds-and-rotation
 * method.
 *
 * <p>{@code GuardBench ROUNDS}
 */
public final class GuardBench {
  private static final int BATCH = 128;

  private record Entry(
      String label, BiFunction<Graph, LayerCollection, GuardedOptimizer> factory) {}

  static List<Entry> entries() {
    List<Entry> entries = new ArrayList<>();
    for (boolean guard : new boolean[] {true, false}) {
      String suffix = guard ? "" : " (no guard)";
      entries.add(
          new Entry(
              "Adam" + suffix,
              (g, l) ->
                  ElementwiseOptimizer.builder(Fallback.adam())
                      .name("Adam")
                      .learningRate(2e-3)
                      .skipNonFinite(guard)
                      .build(g)));
      entries.add(
          new Entry(
              "AdaFisher" + suffix,
              (g, l) ->
                  AdaFisher.builder()
                      .layers(l)
                      .learningRate(5e-4)
                      .fisherInterval(10)
                      .skipNonFinite(guard)
                      .build(g)));
      entries.add(
          new Entry(
              "FISMO k=10" + suffix,
              (g, l) -> Fismo.builder().preconditionerInterval(10).skipNonFinite(guard).build(g)));
    }
    entries.sort((a, b) -> a.label().equals("Adam") ? -1 : b.label().equals("Adam") ? 1 : 0);
    return entries;
  }

  private GuardBench() {}

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 9;
    System.out.printf(
        Locale.ROOT,
        "# guard, CNN batch %d, %d rounds, %d cores, Java %s%n",
        BATCH,
        rounds,
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"));
    List<Entry> entries = entries();
    List<StepBench.Trainer> trainers = new ArrayList<>();
    for (Entry e : entries) {
      // The compare CNN ignores the width; the entry's choice only labels the row.
      trainers.add(
          new StepBench.Trainer(
              new StepBench.Entry(
                  e.label(), OptimizerChoice.ADAM, OptimizerChoice.Tuning.defaults()),
              Model.Architecture.CNN,
              0,
              BATCH,
              e.factory()));
    }
    trainers.forEach(t -> t.block(StepBench.BLOCK));
    double[][] times = new double[trainers.size()][rounds];
    for (int r = 0; r < rounds; r++) {
      for (int k = 0; k < trainers.size(); k++) {
        int i = (k + r) % trainers.size();
        times[i][r] = trainers.get(i).block(StepBench.BLOCK);
      }
    }
    System.out.println(
        "| optimizer | ms/step (median) | ratio to guarded Adam (median of rounds) | min–max of"
            + " rounds |");
    System.out.println("|---|---|---|---|");
    for (int i = 0; i < trainers.size(); i++) {
      double[] ratios = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        ratios[r] = times[i][r] / times[0][r];
      }
      double[] sorted = ratios.clone();
      Arrays.sort(sorted);
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f | %.3f | %.3f–%.3f |%n",
          entries.get(i).label(),
          1000 * StepBench.median(times[i]),
          StepBench.median(ratios),
          sorted[0],
          sorted[sorted.length - 1]);
    }
    trainers.forEach(StepBench.Trainer::close);
  }
}
