/**
 * Graph-op building blocks for Fisher-geometry optimizers: polar factors ({@link NewtonSchulz},
 * {@link ExactPolar}), inverse roots of symmetric positive definite matrices ({@link InverseRoots}),
 * the trace-normalised factor EMA ({@link FactorEma}), batched conjugate gradient for matrix-free
 * column-wise systems ({@link ConjugateGradient}, {@link ColumnOperator}) with FROG's row-wise Fisher
 * operators ({@link RowFisher}), and a trainable softmax cross-entropy
 * ({@link SoftmaxCrossEntropy}).
 *
 * <p>Every block takes an {@link org.tensorflow.op.Ops} and operands of one floating dtype (float32
 * or float64) and returns operands of the same dtype; none of them creates variables, so they can be
 * composed freely, inside {@link org.tensorflow.ConcreteFunction} bodies too. None of them is meant to
 * be differentiated through.
 */
package dev.fisheropt.ops;
