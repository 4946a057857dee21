package dev.fisheropt.distributed;

import dev.fisheropt.optimizers.GuardedOptimizer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TInt64;

/**
 * Data-parallel training of any fisheropt optimizer, one process per worker of a {@link Cluster}:
 *
 * <pre>{@code
 * DataParallel job = DataParallel.start(Cluster.fromEnvironment());
 * // build the model on this worker's share of the batch (global batch / job.cluster().size())
 * Op step = job.minimize(Fismo.builder().build(graph), loss);
 * try (Session session = job.newSession(graph)) {
 *   job.initialize(session);                 // run initializers, then take task 0's values
 *   for (...) session.runner().feed(x, myShare).feed(y, myLabels).addTarget(step).run();
 *   job.finish(session);                     // last barrier, before the process exits
 * }
 * System.exit(0);                            // a TF-Java 1.1.0 server cannot be stopped
 * }</pre>
 *
 * The step averages the gradients and the optimizer's curvature statistics across the workers with
 * collectives ({@link GuardedOptimizer#minimize(Operand, dev.fisheropt.optimizers.Replicas)}), so
 * every worker's parameters and state stay bit-identical, and with equal shares the step is the
 * one-process step on the global batch ({@code docs/distributed.md}). Every worker must build the
 * same graph in the same order and run the same steps; a worker that dies or never joins makes the
 * others fail within the collective timeout.
 */
public final class DataParallel {
  private final Worker worker;
  private final Collectives collectives;
  private final Map<Graph, Op> broadcasts = new IdentityHashMap<>();

  private DataParallel(Worker worker, Collectives collectives) {
    this.worker = worker;
    this.collectives = collectives;
  }

  /** Starts this task's server, with collectives at the default timeout. */
  public static DataParallel start(Cluster cluster) {
    return start(cluster, Collectives.TIMEOUT_SECONDS_DEFAULT);
  }

  /** Starts this task's server; every collective times out after {@code timeoutSeconds}. */
  public static DataParallel start(Cluster cluster, float timeoutSeconds) {
    Collectives collectives = Collectives.of(cluster, timeoutSeconds);
    return new DataParallel(Worker.start(cluster), collectives);
  }

  /** The cluster. */
  public Cluster cluster() {
    return worker.cluster();
  }

  /** The collectives (and {@code Replicas}) of this job. */
  public Collectives collectives() {
    return collectives;
  }

  /** Whether this is task 0: the one that should write checkpoints and reports. */
  public boolean isChief() {
    return worker.cluster().isChief();
  }

  /** This worker's rows {@code [start, start + rows)} of a global batch. */
  public record Share(int start, int rows) {}

  /**
   * This worker's rows of a global batch of {@code globalRows}: task k holds rows [k·n, (k+1)·n), n
   * = globalRows / N.
   *
   * @throws IllegalArgumentException naming the rows and the workers when they do not split equally
   */
  public Share share(int globalRows) {
    return share(cluster(), globalRows);
  }

  /**
   * {@link #share(int)} for task {@code cluster.taskIndex()}. Unequal shares are refused rather
   * than trained: the step takes the plain mean of the workers' losses and gradients, which is the
   * global batch's mean only when every worker holds as many rows, and FROG assembles its row
   * sample assuming task k holds rows [k·n, (k+1)·n).
   */
  public static Share share(Cluster cluster, int globalRows) {
    int n = cluster.size();
    if (globalRows < n || globalRows % n != 0) {
      throw new IllegalArgumentException(
          "a global batch of "
              + globalRows
              + " rows does not split equally between "
              + n
              + " workers ("
              + globalRows / n
              + " rows each would leave "
              + globalRows % n
              + "); every worker must hold the same number of rows: drop the partial batch, or"
              + " use a batch that is a multiple of "
              + n);
    }
    int rows = globalRows / n;
    return new Share(cluster.taskIndex() * rows, rows);
  }

  /** The data-parallel training step of {@code optimizer} on {@code loss}. */
  public Op minimize(GuardedOptimizer optimizer, Operand<?> loss) {
    return optimizer.minimize(loss, collectives);
  }

  /**
   * The data-parallel training step of {@code optimizer} on this worker's share built as shards,
   * one loss each ({@link GuardedOptimizer#minimize(List, dev.fisheropt.optimizers.Replicas)}).
   */
  public Op minimize(GuardedOptimizer optimizer, List<? extends Operand<?>> shardLosses) {
    return optimizer.minimize(shardLosses, collectives);
  }

  /**
   * A session on this worker's server (see {@link Worker#newSession}), once every other worker's
   * server answers.
   *
   * @throws IllegalStateException naming a worker whose server did not answer within the collective
   *     timeout
   */
  public Session newSession(Graph graph) {
    worker.awaitPeers(collectives.timeoutSeconds());
    return worker.newSession(graph);
  }

  /** Gives every variable task 0's value, within the collective timeout. */
  private void broadcast(Session session) {
    Op all = broadcasts.computeIfAbsent(session.graph(), this::broadcastAll);
    withinTimeout(
        () -> {
          session.run(all);
          return null;
        });
  }

  /**
   * Runs the initializers, checks that every worker was started with the same cluster description,
   * and gives every variable of the graph task 0's value (a broadcast, in name order). Call it once
   * per session, on every worker, before the first step.
   *
   * @throws IllegalStateException if another worker's cluster description differs from this one's
   */
  public void initialize(Session session) {
    initializeAndCheck(session);
    broadcast(session);
  }

  /**
   * {@link #initialize(Session)}, but the chief first restores every variable from the checkpoint
   * at {@code prefix} (as {@code Session.save} writes it, or the {@code variables/variables} of a
   * {@code TrainingExport}); the broadcast then hands its values to the others. The graph may be
   * built for any number of workers: the state (parameters, slots, counters) does not depend on it,
   * only the step's collectives do.
   */
  public void initialize(Session session, String prefix) {
    initializeAndCheck(session);
    if (isChief()) {
      session.restore(prefix);
    }
    broadcast(session);
  }

  /**
   * Writes every variable to the checkpoint at {@code prefix} on the chief, and nothing on the
   * others (their state is the chief's, bit for bit). Returns whether this worker wrote.
   */
  public boolean save(Session session, String prefix) {
    if (!isChief()) {
      return false;
    }
    session.save(prefix);
    return true;
  }

  /**
   * The last collective of the job: returns when every worker reached it, so no worker's exit takes
   * its server away while another still needs it.
   */
  public void finish(Session session) {
    Ops tf = Ops.create(session.graph());
    session.runner().fetch(collectives.barrier(tf)).run().close();
  }

  private Op broadcastAll(Graph graph) {
    List<Variable<?>> variables = new ArrayList<>();
    Iterator<GraphOperation> ops = graph.operations();
    while (ops.hasNext()) {
      GraphOperation op = ops.next();
      if ("VariableV2".equals(op.type())) {
        variables.add(new Variable<>(op));
      }
    }
    variables.sort(Comparator.comparing(v -> v.op().name()));
    return collectives.broadcastVariables(Ops.create(graph), variables);
  }

  /**
   * Runs the initializers, then {@link #checkSameCluster}. The initializers' run is this worker's
   * first contact with the others (its master asks every listed worker for its devices), so a
   * worker whose peers have already found a mismatch and exited fails there, and says so as the
   * check would.
   */
  private void initializeAndCheck(Session session) {
    try {
      withinTimeout(
          () -> {
            session.initialize();
            return null;
          });
    } catch (TensorFlowException e) {
      throw clusterCheckFailed(e);
    }
    checkSameCluster(session);
  }

  /**
   * {@code run} (one session run of the initialization) within the collective timeout and a second.
   * TensorFlow's master waits without a deadline for a listed worker when it creates the session
   * (on its first run) and when it first asks the group for step ids (on the first run with
   * collectives), so a worker that exits meanwhile, after {@link #newSession} saw its server, would
   * hang this one for good: the collective timeout only starts once the collective does. The run
   * goes on a daemon thread; past the deadline this worker gives up, naming the likely causes, and
   * the thread stays blocked in TensorFlow: the process must exit.
   *
   * @throws TensorFlowException as the run throws it
   */
  private <T> T withinTimeout(Callable<T> run) {
    FutureTask<T> task = new FutureTask<>(run);
    Thread thread = new Thread(task, "fisheropt-initialization");
    thread.setDaemon(true);
    thread.start();
    try {
      return task.get((long) (collectives.timeoutSeconds() * 1000) + 1000, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw clusterCheckFailed(
          "no answer: its master was still waiting for a listed worker (one that exited?)", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while the workers initialized", e);
    }
  }

  /**
   * Checks, before the first collective of the whole group, that every worker was started with the
   * same cluster description. A collective of the whole group cannot do it: TensorFlow refuses a
   * device that joins a group under another size than the group's, and only the workers that reach
   * the group's leader after the conflict hear of it (the others wait out the timeout). So each
   * task k &gt; 0 meets task 0 in a group of two of their own ({@link Collectives#pairSum}): in
   * round 0 it sends its fingerprint and size; in round 1 task 0 sends every task the first task
   * whose description differs from its own, that task's size and its own. Every worker then fails
   * naming the mismatch. A task whose description lists more workers than task 0's has no partner
   * in task 0 and fails on the collective timeout, saying so.
   */
  private void checkSameCluster(Session session) {
    Cluster c = cluster();
    if (c.size() == 1) {
      return;
    }
    Ops tf = Ops.create(session.graph());
    long fingerprint = fingerprint(c);
    int me = c.taskIndex();
    // {1 + the first task whose description differs from task 0's (0: none), its size, task 0's}
    long[] verdict = {0, c.size(), c.size()};
    try {
      if (c.isChief()) {
        Session.Runner round0 = session.runner();
        for (int k = 1; k < c.size(); k++) {
          round0.fetch(collectives.pairSum(tf, tf.constant(new long[] {0, 0}), k, 0));
        }
        try (Result heard = withinTimeout(round0::run)) {
          for (int k = c.size() - 1; k >= 1; k--) {
            TInt64 t = (TInt64) heard.get(k - 1);
            if (t.getLong(0) != fingerprint || t.getLong(1) != c.size()) {
              verdict = new long[] {k + 1, t.getLong(1), c.size()};
            }
          }
        }
        Placeholder<TInt64> told =
            tf.placeholder(TInt64.class, Placeholder.shape(Shape.of(verdict.length)));
        Session.Runner round1 = session.runner();
        for (int k = 1; k < c.size(); k++) {
          round1.fetch(collectives.pairSum(tf, told, k, 1));
        }
        try (TInt64 v = TInt64.vectorOf(verdict)) {
          withinTimeout(round1.feed(told, v)::run).close();
        }
      } else {
        Operand<TInt64> sent =
            collectives.pairSum(tf, tf.constant(new long[] {fingerprint, c.size()}), me, 0);
        withinTimeout(session.runner().fetch(sent)::run).close();
        Operand<TInt64> told = collectives.pairSum(tf, tf.constant(new long[3]), me, 1);
        try (TInt64 t = (TInt64) withinTimeout(session.runner().fetch(told)::run).get(0)) {
          verdict = new long[] {t.getLong(0), t.getLong(1), t.getLong(2)};
        }
      }
    } catch (TensorFlowException e) {
      throw clusterCheckFailed(e);
    }
    if (verdict[0] != 0) {
      int other = (int) verdict[0] - 1;
      throw new IllegalStateException(
          "task "
              + me
              + ": the workers were started with different cluster descriptions: task "
              + other
              + (verdict[1] == verdict[2]
                  ? " lists other addresses than task 0 (both " + verdict[2] + " workers)"
                  : " lists " + verdict[1] + " workers, task 0 lists " + verdict[2])
              + "; this one lists "
              + c.size()
              + ": "
              + c.workers()
              + " (every worker must list the same addresses in the same order)");
    }
  }

  /** The error of a cluster check that could not reach the other workers. */
  private IllegalStateException clusterCheckFailed(TensorFlowException e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    int line = message.indexOf('\n', message.indexOf('\n') + 1);
    return clusterCheckFailed(line < 0 ? message : message.substring(0, line), e);
  }

  private IllegalStateException clusterCheckFailed(String detail, Exception e) {
    Cluster c = cluster();
    return new IllegalStateException(
        "task "
            + c.taskIndex()
            + ": the cluster check "
            + (c.isChief() ? "with the other tasks" : "with task 0")
            + " failed within "
            + collectives.timeoutSeconds()
            + " s: were the workers started with different cluster descriptions (task 0's"
            + " listing fewer workers than this one's "
            + c.size()
            + ", "
            + c.workers()
            + "), or did a worker fail? TensorFlow: "
            + detail,
        e);
  }

  /** A fingerprint of the addresses in order (not of the task index, which differs). */
  static long fingerprint(Cluster cluster) {
    long h = 1125899906842597L;
    for (String w : cluster.workers()) {
      for (int i = 0; i < w.length(); i++) {
        h = 31 * h + w.charAt(i);
      }
      h = 31 * h + ';';
    }
    // Away from Long.MIN_VALUE, whose negation overflows.
    return h >>> 1;
  }
}
