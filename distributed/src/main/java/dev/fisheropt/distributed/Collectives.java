package dev.fisheropt.distributed;

import dev.fisheropt.optimizers.Replicas;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.internal.types.registry.TensorTypeRegistry;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TNumber;
import org.tensorflow.types.family.TType;

/**
 * TensorFlow's collective ops across the workers of a {@link Cluster}, as the {@link Replicas} the
 * optimizers reduce through: {@code CollectiveReduceV2} (merge {@code Add}, final {@code Div} for a
 * mean or {@code Id} for a sum) and {@code CollectiveBcastSendV2}/{@code RecvV2}.
 *
 * <p>Every collective carries a group key (one group: all workers), an instance key unique within
 * the job, and a finite timeout, so a worker that died or never joined turns into an error on the
 * others rather than a hang. Instance keys are handed out in the order the collectives are built:
 * every worker must build the same collectives in the same order (the same program on the same
 * model does), and run them in the same steps.
 *
 * <p>With two workers a reduction computes a + b on both, so the mean is bit-identical across them;
 * with more, the ring algorithm reduces each chunk once and sends the result to all, which is
 * identical too.
 */
public final class Collectives implements Replicas {
  /** The default timeout of every collective, in seconds. */
  public static final float TIMEOUT_SECONDS_DEFAULT = 30f;

  private static final int GROUP_KEY = 1;

  /** Group keys {@code PAIR_GROUP_KEY + k}: task 0 with task k alone ({@link #pairSum}). */
  private static final int PAIR_GROUP_KEY = 1_000;

  /** Far above the keys handed out in build order, which count from 1. */
  private static final int PAIR_INSTANCE_KEY = 1 << 30;

  private final Cluster cluster;
  private final float timeoutSeconds;
  private int nextInstanceKey = 1;

  private Collectives(Cluster cluster, float timeoutSeconds) {
    this.cluster = cluster;
    this.timeoutSeconds = timeoutSeconds;
  }

  /** The collectives of {@code cluster} with the default timeout. */
  public static Collectives of(Cluster cluster) {
    return of(cluster, TIMEOUT_SECONDS_DEFAULT);
  }

  /**
   * The collectives of {@code cluster}; a collective whose peers have not all arrived within {@code
   * timeoutSeconds} fails with {@code DeadlineExceeded} on the workers that did.
   */
  public static Collectives of(Cluster cluster, float timeoutSeconds) {
    if (!(timeoutSeconds > 0) || Float.isInfinite(timeoutSeconds)) {
      throw new IllegalArgumentException(
          "timeoutSeconds must be positive and finite (a collective without a timeout waits for"
              + " a dead peer forever), got "
              + timeoutSeconds);
    }
    return new Collectives(cluster, timeoutSeconds);
  }

  /** The cluster. */
  public Cluster cluster() {
    return cluster;
  }

  /** The timeout of every collective, in seconds. */
  public float timeoutSeconds() {
    return timeoutSeconds;
  }

  @Override
  public int count() {
    return cluster.size();
  }

  @Override
  public int index() {
    return cluster.taskIndex();
  }

  @Override
  public Operand<TInt32> newKey(Ops tf) {
    return tf.constant(nextInstanceKey++);
  }

  @Override
  public <T extends TNumber> Operand<T> mean(Ops tf, Operand<T> value, Operand<TInt32> key) {
    return reduce(tf, value, key, "Div");
  }

  @Override
  public <T extends TNumber> Operand<T> sum(Ops tf, Operand<T> value, Operand<TInt32> key) {
    return reduce(tf, value, key, "Id");
  }

  private <T extends TNumber> Operand<T> reduce(
      Ops tf, Operand<T> value, Operand<TInt32> key, String finalOp) {
    if (cluster.size() == 1) {
      return value;
    }
    return reduce(tf, value, cluster.size(), GROUP_KEY, key, finalOp);
  }

  /**
   * The sum of {@code value} over task 0 and task {@code peer} alone, in a group of two of their
   * own (the same on both, whatever else they believe), under instance key {@code round}·2¹⁶ + peer
   * above the build-order keys. TensorFlow refuses a device that joins a group under another size
   * than the group's, and the refusal reaches only some workers (the others wait out the timeout),
   * so workers whose descriptions disagree on the number of workers meet this way to find out.
   */
  <T extends TNumber> Operand<T> pairSum(Ops tf, Operand<T> value, int peer, int round) {
    if (peer < 1 || round < 0 || round > 255) {
      throw new IllegalArgumentException("peer " + peer + ", round " + round);
    }
    return reduce(
        tf,
        value,
        2,
        PAIR_GROUP_KEY + peer,
        tf.constant(PAIR_INSTANCE_KEY + (round << 16) + peer),
        "Id");
  }

  @SuppressWarnings("unchecked")
  private <T extends TNumber> Operand<T> reduce(
      Ops tf, Operand<T> value, int groupSize, int groupKey, Operand<TInt32> key, String finalOp) {
    Output<?> reduced =
        tf.scope()
            .opBuilder("CollectiveReduceV2", "CollectiveReduce")
            .addInput(value.asOutput())
            .addInput(tf.constant(groupSize).asOutput())
            .addInput(tf.constant(groupKey).asOutput())
            .addInput(key.asOutput())
            .addInputList(new Output<?>[0])
            .setAttr("merge_op", "Add")
            .setAttr("final_op", finalOp)
            .setAttr("timeout_seconds", timeoutSeconds)
            .build()
            .output(0);
    return (Operand<T>) reduced;
  }

  /**
   * Ops that give every variable the chief's value: on task 0 each variable is sent, on the others
   * received and assigned. Run them once, on every worker, after {@code session.initialize()}.
   */
  public Op broadcastVariables(Ops tf, List<Variable<?>> variables) {
    List<Op> assigns = new ArrayList<>();
    for (Variable<?> v : variables) {
      assigns.add(broadcast(tf, v));
    }
    return tf.withControlDependencies(assigns).withName("broadcast_variables").noOp();
  }

  private <T extends TType> Op broadcast(Ops tf, Variable<T> variable) {
    Operand<TInt32> key = newKey(tf);
    if (cluster.size() == 1) {
      return tf.noOp();
    }
    if (cluster.isChief()) {
      Operation send =
          tf.scope()
              .opBuilder("CollectiveBcastSendV2", "BroadcastSend")
              .addInput(variable.asOutput())
              .addInput(tf.constant(cluster.size()).asOutput())
              .addInput(tf.constant(GROUP_KEY).asOutput())
              .addInput(key.asOutput())
              .setAttr("timeout_seconds", timeoutSeconds)
              .build();
      return tf.withControlDependencyOps(List.of(send)).noOp();
    }
    @SuppressWarnings("unchecked")
    Output<T> received =
        (Output<T>)
            tf.scope()
                .opBuilder("CollectiveBcastRecvV2", "BroadcastRecv")
                .addInput(tf.constant(cluster.size()).asOutput())
                .addInput(tf.constant(GROUP_KEY).asOutput())
                .addInput(key.asOutput())
                .addInput(tf.constant(variable.shape().asArray()).asOutput())
                .setAttr("T", TensorTypeRegistry.find(variable.type()).dataType())
                .setAttr("timeout_seconds", timeoutSeconds)
                .build()
                .output(0);
    return tf.assign(variable, received);
  }

  /**
   * A scalar all-reduce every worker must reach: run it last, so that no worker exits (ending its
   * server) while another still waits on it.
   */
  public Operand<TInt32> barrier(Ops tf) {
    return sum(tf, tf.constant(1), newKey(tf));
  }
}
