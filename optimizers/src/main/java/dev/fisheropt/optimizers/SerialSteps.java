package dev.fisheropt.optimizers;

import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.op.Op;

/**
 * Runs the training steps of one session one at a time, whichever threads call it.
 *
 * <p>A fisheropt step reads every piece of state, computes, and then writes it all behind one
 * barrier. Two {@code session.run} calls of the step that overlap both read the old state, and the
 * later write wins: one of the two updates is lost (two threads × 200 steps left the step counter
 * between 254 and 343). TensorFlow offers no lock a step could take, so steps of one training graph
 * must be serialised; this class does it with a Java lock around each run, so that concurrent
 * callers (data-loading threads, a server handling training requests) take turns. Runs that only
 * read (inference, metrics) need no lock.
 *
 * <pre>{@code
 * SerialSteps steps = new SerialSteps(session, optimizer.minimize(loss));
 * // from any thread:
 * steps.run(Map.of(x, batch, labels, batchLabels));
 * }</pre>
 */
public final class SerialSteps {
  private final Session session;
  private final Op step;
  private final Object lock = new Object();

  /** Serialises the runs of {@code step} in {@code session}. */
  public SerialSteps(Session session, Op step) {
    if (session == null || step == null) {
      throw new IllegalArgumentException(
          "SerialSteps needs a session and a step, got " + session + ", " + step);
    }
    this.session = session;
    this.step = step;
  }

  /** Runs one step with these feeds; a concurrent caller waits until it has finished. */
  public void run(Map<? extends Operand<?>, ? extends Tensor> feeds) {
    synchronized (lock) {
      Session.Runner runner = session.runner().addTarget(step);
      feeds.forEach(runner::feed);
      runner.run().close();
    }
  }

  /**
   * Runs one step with these feeds and fetches {@code fetches} in the same run (the loss of the
   * batch, say); the caller closes the result.
   */
  public Result run(
      Map<? extends Operand<?>, ? extends Tensor> feeds, List<? extends Operand<?>> fetches) {
    synchronized (lock) {
      Session.Runner runner = session.runner().addTarget(step);
      feeds.forEach(runner::feed);
      fetches.forEach(runner::fetch);
      return runner.run();
    }
  }
}
