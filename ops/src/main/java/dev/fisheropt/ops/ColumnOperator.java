package dev.fisheropt.ops;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.family.TFloating;

/**
 * A matrix-free linear map V ↦ A(V) on [n, m] matrices that acts on every column separately, V_j ↦
 * A_j V_j, as {@link ConjugateGradient} needs it.
 *
 * <p>A loop body cannot read tensors of the enclosing graph, so an operator declares the tensors it
 * depends on ({@link #operands}) and builds A(V) from stand-ins for them: {@link ConjugateGradient}
 * carries the operands through its loop unchanged and passes the loop's placeholders to {@link
 * #apply}. Outside a loop, {@code apply(tf, operands(), v)} builds the same map on the operands
 * themselves.
 */
public interface ColumnOperator<T extends TFloating> {
  /** The tensors A depends on, in the order {@link #apply} expects them. */
  List<Operand<?>> operands();

  /**
   * Builds A(V) with {@code tf}.
   *
   * @param operands tensors with the dtypes and shapes of {@link #operands()}, in that order
   * @param v the [n, m] matrix to map
   */
  Operand<T> apply(Ops tf, List<Operand<?>> operands, Operand<T> v);

  /**
   * A name for the map {@link #apply} builds, made of letters, digits and '_', that tells apart
   * operators whose bodies differ for operands of equal dtypes and shapes (strides, padding, a
   * kernel layout). It becomes part of the loop functions' names.
   */
  String key();
}
