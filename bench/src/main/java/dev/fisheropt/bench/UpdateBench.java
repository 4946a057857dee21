package dev.fisheropt.bench;

import dev.fisheropt.examples.OptimizerChoice;
import dev.fisheropt.examples.StateMemory;
import dev.fisheropt.ops.KroneckerFactors;
import dev.fisheropt.ops.NewtonSchulz;
import dev.fisheropt.ops.Schedule;
import dev.fisheropt.optimizers.GuardedOptimizer;
import dev.fisheropt.optimizers.LayerCollection;
import dev.fisheropt.xla.Xla;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.framework.optimizers.Optimizer.GradAndVar;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.types.TFloat32;

/**
 * The optimizer update alone at w = 1024: the parameters of the bench MLP and fixed gradients, both
 * variables, so a step is exactly the update (no forward, backward or feeding). Its time is set
 * against the time its FLOP count ({@link FlopModel#update}) needs at the MatMul rate measured in
 * the same run, and against the roofline: max(FLOPs ÷ MatMul rate, bytes ({@link ByteModel}) ÷
 * memory bandwidth), both ceilings measured in the same run ({@link Roofline.Ceilings}). Also times
 * the pieces FISMO's refresh and Muon's polar factor spend their time in, against the same
 * roofline.
 *
 * <p>AdaFisher(W) and FROG read the layers' inputs and output gradients, so their update cannot run
 * without the model. For them the update is timed by difference, at batch {@link #IN_MODEL_BATCH}:
 * a training step of the MLP with the optimizer, minus a training step with SGD+momentum in the
 * same round, plus SGD+momentum's own update measured alone.
 */
final class UpdateBench {
  static final int WIDTH = 1024;
  static final int IN_MODEL_BATCH = 512;

  static boolean needsModel(StepBench.Entry e) {
    return switch (e.choice()) {
      case ADAFISHER, ADAFISHERW, FROG -> true;
      default -> false;
    };
  }

  private UpdateBench() {}

  /** A graph whose target runs one update of every kernel and bias of the MLP. */
  private static final class UpdateOnly implements AutoCloseable {
    final Graph graph = new Graph();
    final Session session;
    final Op update;
    final long stateBytes;
    final long parameters;

    UpdateOnly(StepBench.Entry e) {
      Ops tf = Ops.create(graph);
      List<GradAndVar<?>> pairs = new ArrayList<>();
      long count = 0;
      int seed = 1;
      for (long[] k : FlopModel.kernels(WIDTH)) {
        Operand<TFloat32> w =
            StepBench.variable(tf.withSubScope("layer" + seed), (int) k[0], (int) k[1], seed);
        Operand<TFloat32> g =
            StepBench.variable(
                tf.withSubScope("gradient" + seed), (int) k[0], (int) k[1], 100 + seed);
        pairs.add(new GradAndVar<>(tf.math.mul(g, tf.constant(1e-2f)).asOutput(), w.asOutput()));
        count += k[0] * k[1];
        seed++;
      }
      GuardedOptimizer optimizer =
          e.choice()
              .build(
                  graph,
                  new LayerCollection(),
                  Schedule.constant(e.choice().defaultLearningRate()),
                  e.tuning());
      update = optimizer.applyGradients(pairs, "update");
      stateBytes = StateMemory.bytes(optimizer);
      parameters = count;
      session = e.xla() ? new Session(graph, Xla.sessionConfig()) : new Session(graph);
      session.initialize();
    }

    double block(int steps) {
      long t0 = System.nanoTime();
      for (int s = 0; s < steps; s++) {
        session.runner().addTarget(update).run();
      }
      return (System.nanoTime() - t0) / 1e9 / steps;
    }

    @Override
    public void close() {
      session.close();
      graph.close();
    }
  }

  /** One op timed alone: target {@code op} of {@code graph}. */
  static double time(Session s, Op op, int steps) {
    long t0 = System.nanoTime();
    for (int i = 0; i < steps; i++) {
      s.runner().addTarget(op).run();
    }
    return (System.nanoTime() - t0) / 1e9 / steps;
  }

  static void run(int rounds, List<StepBench.Entry> entries) {
    List<StepBench.Entry> direct =
        new ArrayList<>(entries.stream().filter(e -> !needsModel(e)).toList());
    List<StepBench.Entry> inModel = entries.stream().filter(UpdateBench::needsModel).toList();
    StepBench.Entry momentum =
        StepBench.ENTRIES.stream()
            .filter(e -> e.choice() == OptimizerChoice.MOMENTUM)
            .findFirst()
            .orElseThrow();
    if (!inModel.isEmpty() && !direct.contains(momentum)) {
      direct.add(momentum);
    }
    try (Graph g = new Graph();
        Roofline.Ceilings ceilings = new Roofline.Ceilings()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> a = StepBench.variable(tf, WIDTH, WIDTH, 7);
      Operand<TFloat32> spd =
          tf.math.add(
              tf.linalg.matMul(a, a, MatMul.transposeB(true)),
              KroneckerFactors.identity(tf, WIDTH, TFloat32.class));
      Op eigh = tf.linalg.selfAdjointEig(spd, SelfAdjointEig.computeV(true));
      Op spdOnly = spd;
      Op polar = NewtonSchulz.polar(tf, a);
      try (Session s = new Session(g)) {
        s.initialize();
        List<UpdateOnly> updates = new ArrayList<>();
        for (StepBench.Entry e : direct) {
          updates.add(new UpdateOnly(e));
        }
        for (UpdateOnly u : updates) {
          u.block(StepBench.BLOCK);
        }
        List<StepBench.Trainer> trainers = new ArrayList<>();
        if (!inModel.isEmpty()) {
          trainers.add(new StepBench.Trainer(momentum, WIDTH, IN_MODEL_BATCH));
          for (StepBench.Entry e : inModel) {
            trainers.add(new StepBench.Trainer(e, WIDTH, IN_MODEL_BATCH));
          }
        }
        for (StepBench.Trainer t : trainers) {
          t.block(StepBench.BLOCK);
        }
        double[][] stepTimes = new double[trainers.size()][rounds];
        time(s, eigh, 1);
        time(s, polar, 1);
        double[] eighTimes = new double[rounds];
        double[] polarTimes = new double[rounds];
        double[][] updateTimes = new double[updates.size()][rounds];
        for (int r = 0; r < rounds; r++) {
          ceilings.round();
          eighTimes[r] = time(s, eigh, 2) - time(s, spdOnly, 2);
          polarTimes[r] = time(s, polar, 3);
          for (int k = 0; k < updates.size(); k++) {
            int i = (k + r) % updates.size();
            updateTimes[i][r] = updates.get(i).block(StepBench.BLOCK);
          }
          for (int k = 0; k < trainers.size(); k++) {
            int i = (k + r) % trainers.size();
            stepTimes[i][r] = trainers.get(i).block(StepBench.BLOCK);
          }
        }
        Roofline roof = ceilings.roofline();
        System.out.println();
        System.out.println(
            "| piece | measured ms | GFLOP | MB | roofline ms | efficiency | bound by |");
        System.out.println("|---|---|---|---|---|---|---|");
        roof.print(
            "Newton-Schulz, 5 steps, 1024x1024",
            StepBench.median(polarTimes),
            FlopModel.newtonSchulz(WIDTH, WIDTH),
            ByteModel.newtonSchulz(WIDTH, WIDTH));
        roof.print(
            "eigh 1024x1024 (SelfAdjointEigV2 with vectors, 9n^3)",
            StepBench.median(eighTimes),
            9.0 * WIDTH * WIDTH * WIDTH,
            2 * ByteModel.FLOAT * WIDTH * WIDTH);
        System.out.println();
        System.out.println(
            "| optimizer | update ms (median) | GFLOP (model) | MB (model) | roofline ms |"
                + " efficiency | bound by | state bytes / parameter |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (int i = 0; i < updates.size(); i++) {
          UpdateOnly u = updates.get(i);
          StepBench.Entry e = direct.get(i);
          double flops = FlopModel.update(e, WIDTH, IN_MODEL_BATCH);
          double bytes = ByteModel.update(e, WIDTH, IN_MODEL_BATCH);
          double t = StepBench.median(updateTimes[i]);
          System.out.printf(
              Locale.ROOT,
              "| %s | %.2f | %.3f | %.0f | %s | %.2f |%n",
              e.label(),
              1e3 * t,
              flops / 1e9,
              bytes / 1e6,
              roof.columns(t, flops, bytes),
              (double) u.stateBytes / u.parameters);
        }
        if (!trainers.isEmpty()) {
          double momentumUpdate = StepBench.median(updateTimes[direct.indexOf(momentum)]);
          System.out.println();
          System.out.printf(
              Locale.ROOT,
              "In the model, B = %d: update = step - SGD+momentum step (same round, median) +"
                  + " SGD+momentum update alone (%.2f ms)%n",
              IN_MODEL_BATCH,
              1e3 * momentumUpdate);
          System.out.println(
              "| optimizer | step ms (median) | SGD+momentum step ms (median) | update ms | GFLOP"
                  + " (model) | MB (model) | roofline ms | efficiency | bound by | state bytes /"
                  + " parameter |");
          System.out.println("|---|---|---|---|---|---|---|---|---|---|");
          for (int i = 1; i < trainers.size(); i++) {
            StepBench.Trainer t = trainers.get(i);
            double[] differences = new double[rounds];
            for (int r = 0; r < rounds; r++) {
              differences[r] = stepTimes[i][r] - stepTimes[0][r];
            }
            double update = StepBench.median(differences) + momentumUpdate;
            double flops = FlopModel.update(t.entry, WIDTH, IN_MODEL_BATCH);
            double bytes = ByteModel.update(t.entry, WIDTH, IN_MODEL_BATCH);
            long parameters = 0;
            for (long[] k : FlopModel.kernels(WIDTH)) {
              parameters += k[0] * k[1];
            }
            System.out.printf(
                Locale.ROOT,
                "| %s | %.2f | %.2f | %.2f | %.3f | %.0f | %s | %.2f |%n",
                t.entry.label(),
                1e3 * StepBench.median(stepTimes[i]),
                1e3 * StepBench.median(stepTimes[0]),
                1e3 * update,
                flops / 1e9,
                bytes / 1e6,
                roof.columns(update, flops, bytes),
                (double) t.stateBytes / parameters);
          }
        }
        updates.forEach(UpdateOnly::close);
        trainers.forEach(StepBench.Trainer::close);
      }
    }
  }
}
