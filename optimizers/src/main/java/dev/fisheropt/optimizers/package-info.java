/**
 * Fisher-geometry optimizers for TensorFlow Java as subclasses of the framework
 * {@link org.tensorflow.framework.optimizers.Optimizer}: {@link dev.fisheropt.optimizers.Fismo},
 * {@link dev.fisheropt.optimizers.AdaFisher}, {@link dev.fisheropt.optimizers.AdaFisherW},
 * {@link dev.fisheropt.optimizers.Frog} and the {@link dev.fisheropt.optimizers.Muon} baseline.
 *
 * <p>AdaFisher and FROG need each layer's inputs and pre-activations, which TF-Java cannot hook: the
 * model registers them in a {@link dev.fisheropt.optimizers.LayerCollection} (as K-FAC's does), and the
 * optimizer differentiates the pre-activations in the same {@code addGradients} call as the parameters.
 *
 * <p>Every optimizer here builds one training step as graph ops in two phases: first every new value
 * (parameters, slots, counters) is computed from reads of the current state, then, behind one barrier,
 * all of them are written. A step whose gradients hold NaN or Inf writes the old values back and bumps
 * {@code <name>/skipped_steps}. State lives in ordinary {@code VariableV2} variables, slots named
 * {@code <variable>-<slot>} and hyperparameters {@code <name>/<hyperparameter>}, so a checkpoint or
 * SavedModel carries all of it: {@link dev.fisheropt.optimizers.TrainingExport} exports a training
 * graph with {@code serve} and {@code train} signatures, and {@link dev.fisheropt.optimizers.TrainingBundle}
 * reloads it to serve or to keep training, bit-identically on CPU.
 */
package dev.fisheropt.optimizers;
