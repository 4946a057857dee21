package dev.fisheropt.optimizers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.testing.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;

/** Steps of one session from several threads: serialised by {@link SerialSteps}, none is lost. */
class SerialStepsTest {
  private static final int THREADS = 2;
  private static final int STEPS_EACH = 200;

  private record Trained(long steps, double[] w) {}

  private static Trained train(boolean concurrent) throws Exception {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat64> target = tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(3)));
      Variable<TFloat64> w =
          tf.withName("w").variable(tf.withInitScope().constant(new double[] {1, -2, 3}));
      Operand<TFloat64> diff = tf.math.sub(w, target);
      Operand<TFloat64> loss = tf.reduceSum(tf.math.mul(diff, diff), tf.constant(0));
      Muon muon = Muon.builder().fallback(Fallback.adam(0.01, 0.9, 0.999, 1e-8)).build(g);
      Op step = muon.minimize(loss);
      try (Session session = new Session(g);
          TFloat64 t = TFloat64.vectorOf(0.5, 0.25, -1)) {
        session.initialize();
        SerialSteps steps = new SerialSteps(session, step);
        Map<Operand<?>, TFloat64> feeds = Map.of(target, t);
        if (concurrent) {
          ExecutorService pool = Executors.newFixedThreadPool(THREADS);
          List<Future<?>> done = new ArrayList<>();
          for (int i = 0; i < THREADS; i++) {
            done.add(
                pool.submit(
                    () -> {
                      for (int s = 0; s < STEPS_EACH; s++) {
                        steps.run(feeds);
                      }
                    }));
          }
          for (Future<?> f : done) {
            f.get(120, TimeUnit.SECONDS);
          }
          pool.shutdown();
          assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        } else {
          for (int s = 0; s < THREADS * STEPS_EACH; s++) {
            steps.run(feeds);
          }
        }
        try (TInt64 count = (TInt64) session.runner().fetch(muon.stepCount()).run().get(0)) {
          return new Trained(count.getLong(), Tensors.fetch(session, w));
        }
      }
    }
  }

  @Test
  void stepsFromTwoThreadsAreAllAppliedAsIfRunInSequence() throws Exception {
    Trained sequential = train(false);
    Trained concurrent = train(true);
    assertEquals(THREADS * STEPS_EACH, concurrent.steps());
    // Every step sees the same batch, so the order of the threads' steps cannot matter.
    assertArrayEquals(sequential.w(), concurrent.w(), 0.0);
  }
}
