package dev.fisheropt.savedmodel;

import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.AdaFisher;
import dev.fisheropt.optimizers.AdaFisherW;
import dev.fisheropt.optimizers.ElementwiseOptimizer;
import dev.fisheropt.optimizers.Fallback;
import dev.fisheropt.optimizers.Fismo;
import dev.fisheropt.optimizers.Frog;
import dev.fisheropt.optimizers.Muon;
import dev.fisheropt.optimizers.Polar;
import java.util.List;
import java.util.function.Function;
import org.tensorflow.framework.optimizers.Adam;
import org.tensorflow.framework.optimizers.Optimizer;

/**
 * An optimizer under test: how to build it on a {@link TrainingProblem}, whether the problem may
 * put its variables under name scopes ({@code dense1/kernel}), and whether its steps are
 * deterministic (every state update ordered by control dependencies), which a bit-identical resume
 * requires.
 *
 * <p>Every export test runs once per entry of {@link #all()}; an optimizer joins them with one line
 * there; the layer-wise optimizers take the problem's registrations.
 */
record OptimizerCase(
    String name,
    boolean scopedNames,
    boolean deterministic,
    Function<TrainingProblem, Optimizer> factory) {

  static List<OptimizerCase> all() {
    return List.of(
        // The framework cannot create slots for scoped variables ("dense1/kernel-m" is rejected),
        // and
        // its finish() updates beta1_power unordered with ApplyAdam: the same resume in three fresh
        // JVMs gave two different results.
        new OptimizerCase("FrameworkAdam", false, false, p -> new Adam(p.graph, 0.01f)),
        // Adam for every parameter: the element-wise rule as a complete optimizer.
        new OptimizerCase(
            "ElementwiseAdam",
            true,
            true,
            p ->
                ElementwiseOptimizer.builder(Fallback.adam(0.01, 0.9, 0.999, 1e-8))
                    .name("Adam")
                    .build(p.graph)),
        new OptimizerCase(
            "Muon", true, true, p -> Muon.builder().learningRate(0.05).build(p.graph)),
        new OptimizerCase(
            "Fismo", true, true, p -> Fismo.builder().learningRate(0.05).build(p.graph)),
        // A schedule evaluated on the step counter: the export falls mid-warmup-cosine.
        new OptimizerCase(
            "FismoSchedule",
            true,
            true,
            p ->
                Fismo.builder()
                    .learningRate(Schedule.warmupCosine(0.05, 3, 12, 0.005))
                    .build(p.graph)),
        // The polar factor as the native op FisheroptFusedPolar: an export that needs the op
        // library.
        new OptimizerCase(
            "MuonFused",
            true,
            true,
            p -> Muon.builder().learningRate(0.05).polar(Polar.FUSED).build(p.graph)),
        new OptimizerCase(
            "FismoFused",
            true,
            true,
            p -> Fismo.builder().learningRate(0.05).polar(Polar.FUSED).build(p.graph)),
        // Short refresh intervals and a row sample smaller than the batch, so that the factor
        // refresh and the step-seeded sampling both cross the export boundary.
        new OptimizerCase(
            "AdaFisher",
            true,
            true,
            p -> AdaFisher.builder().layers(p.layers()).fisherInterval(2).build(p.graph)),
        new OptimizerCase(
            "AdaFisherW",
            true,
            true,
            p ->
                AdaFisherW.builder()
                    .layers(p.layers())
                    .fisherInterval(2)
                    .weightDecay(0.01)
                    .build(p.graph)),
        new OptimizerCase(
            "Frog",
            true,
            true,
            p ->
                Frog.builder().layers(p.layers()).learningRate(0.05).sampleSize(8).build(p.graph)));
  }

  /** The cases whose graphs run the fisheropt op library's {@code FisheroptFusedPolar}. */
  static List<OptimizerCase> fused() {
    return all().stream().filter(c -> c.name.endsWith("Fused")).toList();
  }

  static OptimizerCase named(String name) {
    return all().stream()
        .filter(c -> c.name.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no optimizer case " + name));
  }

  Optimizer optimizer(TrainingProblem problem) {
    return factory.apply(problem);
  }

  @Override
  public String toString() {
    return name;
  }
}
