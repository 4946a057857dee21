/**
 * Fisher-geometry optimizers for TensorFlow Java as subclasses of the framework {@link
 * org.tensorflow.framework.optimizers.Optimizer}: {@link Fismo}, {@link AdaFisher}, {@link
 * AdaFisherW}, {@link Frog} and the {@link Muon} baseline.
 *
 * <p>AdaFisher and FROG need each layer's inputs and pre-activations, which TF-Java cannot hook:
 * the model registers them in a {@link LayerCollection} (as K-FAC's does), and the optimizer
 * differentiates the pre-activations in the same {@code addGradients} call as the parameters.
 *
 * <p>Every optimizer here builds one training step as graph ops in two phases: first every new
 * value (parameters, slots, counters) is computed from reads of the current state, then, behind one
 * barrier, all of them are written. A step whose gradients hold NaN or Inf writes the old values
 * back and bumps {@code <name>/skipped_steps}. State lives in ordinary {@code VariableV2}
 * variables, slots named {@code <variable>-<slot>} and hyperparameters {@code
 * <name>/<hyperparameter>}, so a checkpoint or SavedModel carries all of it: {@code
 * dev.fisheropt.savedmodel.TrainingExport} exports a training graph with {@code serve} and {@code
 * train} signatures, and {@code TrainingBundle} reloads it to serve or to keep training,
 * bit-identically on CPU.
 *
 * <p>The element-wise rules ({@link Fallback}: Adam, SGD with momentum, none) update what an
 * optimizer does not precondition, and serve as complete optimizers through {@link
 * ElementwiseOptimizer}.
 */
package dev.fisheropt.optimizers;
