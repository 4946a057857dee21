/**
 * A training graph as a SavedModel: {@link dev.fisheropt.savedmodel.TrainingExport} writes the
 * graph with every variable (parameters and the optimizer's state) and two signatures, {@code
 * serve} and {@code train}; {@link dev.fisheropt.savedmodel.TrainingBundle} reloads it, in any JVM
 * and without the optimizer object, to serve or to continue training exactly where the export was
 * made. A graph that runs ops of the fisheropt op library is exported with a {@code serve} meta
 * graph free of them, for runtimes without the library, and a {@code train} meta graph, which
 * {@code TrainingBundle} loads after loading the library.
 */
package dev.fisheropt.savedmodel;
