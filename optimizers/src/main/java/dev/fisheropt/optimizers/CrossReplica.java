package dev.fisheropt.optimizers;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;
import org.tensorflow.types.family.TNumber;

/** The cross-replica reductions a data-parallel step builds through {@link Replicas}. */
final class CrossReplica {
  private CrossReplica() {}

  /**
   * The mean over the replicas of every tensor, in order: the tensors of one dtype are flattened
   * into one vector and reduced at once, since one collective per tensor would pay its latency once
   * per parameter.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static List<Output<?>> meanAll(Ops tf, Replicas replicas, List<Output<?>> tensors) {
    Map<Class<?>, List<Integer>> byType = new LinkedHashMap<>();
    for (int i = 0; i < tensors.size(); i++) {
      Shape shape = tensors.get(i).shape();
      if (shape.isUnknown() || shape.hasUnknownDimension()) {
        throw new IllegalArgumentException(
            "a data-parallel step needs static gradient shapes; '"
                + tensors.get(i).op().name()
                + "' has "
                + shape);
      }
      byType.computeIfAbsent(tensors.get(i).type(), k -> new ArrayList<>()).add(i);
    }
    Output<?>[] result = new Output<?>[tensors.size()];
    for (List<Integer> indices : byType.values()) {
      List<Operand<?>> flat = new ArrayList<>();
      long[] sizes = new long[indices.size()];
      for (int j = 0; j < indices.size(); j++) {
        Output<?> t = tensors.get(indices.get(j));
        flat.add(tf.reshape(t, tf.constant(new long[] {-1})));
        sizes[j] = t.shape().size();
      }
      Operand packed = flat.size() == 1 ? flat.get(0) : tf.concat((List) flat, tf.constant(0));
      Operand mean = replicas.mean(tf, packed);
      List<Output<?>> parts =
          indices.size() == 1
              ? List.of(mean.asOutput())
              : (List)
                  tf.splitV(mean, tf.constant(sizes), tf.constant(0), (long) sizes.length).output();
      for (int j = 0; j < indices.size(); j++) {
        Output<?> t = tensors.get(indices.get(j));
        result[indices.get(j)] =
            tf.reshape((Operand) parts.get(j), tf.constant(t.shape().asArray())).asOutput();
      }
    }
    return List.of(result);
  }

  /**
   * dLoss/dZ of the global mean loss for this graph's tensors: each of the N·S shards' losses (S
   * shards on each of N replicas) is the mean over its 1/(N·S) of the batch, so its gradients are
   * N·S times those of the mean over the whole batch.
   */
  static Map<Output<?>, Output<?>> globalLossGradients(
      Ops tf, Replicas replicas, int shards, Map<Output<?>, Output<?>> auxiliary) {
    Map<Output<?>, Output<?>> scaled = new HashMap<>();
    auxiliary.forEach(
        (target, g) -> scaled.put(target, dividedBy(tf, g, replicas.count() * shards)));
    return scaled;
  }

  /** {@code value} / {@code divisor}, the divisor cast to the value's dtype. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static Output<?> dividedBy(Ops tf, Output<?> value, int divisor) {
    Operand d = tf.dtypes.cast(tf.constant((double) divisor), (Class) value.type());
    return tf.math.div((Operand) value, d).asOutput();
  }

  /**
   * The mean over every shard of the global batch of a value each shard computed from its rows:
   * this graph's S shards summed in order, that sum averaged across the replicas ({@code key} is
   * only read then), divided by S. Two shards in one process and two replicas of one shard each
   * both compute (v₀ + v₁)/2, bit for bit.
   */
  static <T extends TNumber> Operand<T> meanOverShards(
      Ops tf, Replicas replicas, List<Operand<T>> perShard, Operand<TInt32> key) {
    Operand<T> value = sumInOrder(tf, perShard);
    if (replicas.distributed()) {
      value = replicas.mean(tf, value, key);
    }
    return perShard.size() == 1
        ? value
        : tf.math.div(value, tf.dtypes.cast(tf.constant((double) perShard.size()), value.type()));
  }

  /** v₀ + v₁ + … added left to right. */
  static <T extends TNumber> Operand<T> sumInOrder(Ops tf, List<Operand<T>> values) {
    Operand<T> sum = values.get(0);
    for (Operand<T> v : values.subList(1, values.size())) {
      sum = tf.math.add(sum, v);
    }
    return sum;
  }

  /**
   * The rows {@code globalRows} of the batch the replicas hold together, on every replica: replica
   * k holds rows [k·n, (k+1)·n) of it ({@code x} its n rows); each replica contributes the rows it
   * holds, zeros elsewhere, and the sum over the replicas (x + 0 = x, exact) assembles them.
   */
  static <T extends TFloating> Operand<T> gatherRows(
      Ops tf, Replicas replicas, Operand<T> x, Operand<TInt32> globalRows) {
    Operand<TInt32> n = tf.gather(tf.shape(x), tf.constant(0), tf.constant(0));
    Operand<TInt32> local = tf.math.sub(globalRows, tf.math.mul(n, tf.constant(replicas.index())));
    Operand<TBool> held =
        tf.math.logicalAnd(tf.math.greaterEqual(local, tf.constant(0)), tf.math.less(local, n));
    Operand<TInt32> clamped =
        tf.math.minimum(tf.math.maximum(local, tf.constant(0)), tf.math.sub(n, tf.constant(1)));
    Operand<T> rows = tf.gather(x, clamped, tf.constant(0));
    // [r] → [r, 1, …, 1] so that it broadcasts over each row.
    Operand<TInt32> ones =
        tf.fill(
            tf.expandDims(tf.math.sub(tf.rank(x), tf.constant(1)), tf.constant(0)), tf.constant(1));
    Operand<TBool> mask =
        tf.broadcastTo(
            tf.reshape(held, tf.concat(List.of(tf.shape(held), ones), tf.constant(0))),
            tf.shape(rows));
    Operand<T> mine = tf.select(mask, rows, tf.zerosLike(rows));
    return replicas.sum(tf, mine, replicas.newKey(tf));
  }
}
