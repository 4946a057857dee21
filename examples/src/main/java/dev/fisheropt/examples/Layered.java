package dev.fisheropt.examples;

import dev.fisheropt.optimizers.LayerCollection;
import java.util.List;
import org.tensorflow.op.core.Variable;

/**
 * A model of the comparison as the optimizers see it: its registered layers (AdaFisher gets all of
 * them, FROG all but the output head) and the matrices that FISMO and Muon leave to their fallback.
 */
public interface Layered {
  /** Every registered layer, the output head included. */
  LayerCollection layers();

  /** Every registered layer but the output head. */
  LayerCollection hiddenLayers();

  /**
   * Matrix parameters that FISMO and Muon must not orthogonalize (embeddings, the output head);
   * empty for the classifiers, where every matrix is a hidden layer or the small head.
   */
  default List<Variable<?>> fallbackMatrices() {
    return List.of();
  }
}
