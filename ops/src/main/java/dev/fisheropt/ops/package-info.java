/**
 * Graph-op building blocks for Fisher-geometry optimizers, with no knowledge of any optimizer:
 * functional control flow from Java lambdas ({@link GraphFunctions}: branches, loops, every k
 * steps), polar factors ({@link NewtonSchulz}, {@link ExactPolar}, {@link FusedPolar}), inverse
 * roots of symmetric positive definite matrices ({@link InverseRoots}), FISMO's Kronecker factors
 * ({@link KroneckerFactors}, {@link FactorEma}), AdaFisher's Kronecker diagonals ({@link
 * KroneckerDiagonals}), batched conjugate gradient for matrix-free column-wise systems ({@link
 * ConjugateGradient}, {@link ColumnOperator}) with FROG's row-wise Fisher operators ({@link
 * RowFisher}) and row sample ({@link RowSample}), and a trainable softmax cross-entropy ({@link
 * SoftmaxCrossEntropy}).
 *
 * <p>Every block takes an {@code Ops} and operands of one floating dtype (float32 or float64) and
 * returns operands of the same dtype; none of them creates variables, so they can be composed
 * freely, inside branch and loop bodies too. None of them is meant to be differentiated through.
 */
package dev.fisheropt.ops;
