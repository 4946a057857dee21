package dev.fisheropt.optimizers;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TNumber;

/**
 * The replicas of a data-parallel job, as the optimizers see them: how many there are, which one
 * this graph is, and cross-replica reductions built as graph ops. {@link
 * GuardedOptimizer#minimize(Operand, Replicas)} builds a step that averages the gradients (and the
 * auxiliary gradients) through it, and each optimizer averages the curvature statistics it computes
 * from per-example data the same way, so every replica's parameters and state stay identical (see
 * {@code docs/distributed.md}). Every replica must build the same reductions in the same order, and
 * run them in the same steps.
 *
 * <p>{@link #single()} is the one-process job (every reduction is the identity); {@code
 * dev.fisheropt.distributed.Collectives} implements it with TensorFlow's collective ops.
 */
public interface Replicas {
  /** The number of replicas N. */
  int count();

  /** This replica's index in 0…N−1. */
  int index();

  /**
   * A key that no other reduction of this job uses, as a scalar constant of {@code tf}'s graph.
   * Reductions inside a function body (a branch of {@code GraphFunctions.every}) cannot make their
   * own: a function is shared by every caller with inputs of the same shapes, so the caller makes
   * the key outside and passes it in.
   */
  Operand<TInt32> newKey(Ops tf);

  /** The element-wise mean over the replicas of {@code value}, under {@code key}. */
  <T extends TNumber> Operand<T> mean(Ops tf, Operand<T> value, Operand<TInt32> key);

  /** The element-wise sum over the replicas of {@code value}, under {@code key}. */
  <T extends TNumber> Operand<T> sum(Ops tf, Operand<T> value, Operand<TInt32> key);

  /** {@link #mean(Ops, Operand, Operand)} under a new key, outside any function body. */
  default <T extends TNumber> Operand<T> mean(Ops tf, Operand<T> value) {
    return mean(tf, value, newKey(tf));
  }

  /** Whether there is more than one replica. */
  default boolean distributed() {
    return count() > 1;
  }

  /** The one-process job: one replica, every reduction the identity. */
  static Replicas single() {
    return Single.INSTANCE;
  }

  /** The replicas of a one-process job. */
  enum Single implements Replicas {
    INSTANCE;

    @Override
    public int count() {
      return 1;
    }

    @Override
    public int index() {
      return 0;
    }

    @Override
    public Operand<TInt32> newKey(Ops tf) {
      return tf.constant(0);
    }

    @Override
    public <T extends TNumber> Operand<T> mean(Ops tf, Operand<T> value, Operand<TInt32> key) {
      return value;
    }

    @Override
    public <T extends TNumber> Operand<T> sum(Ops tf, Operand<T> value, Operand<TInt32> key) {
      return value;
    }
  }
}
