package dev.fisheropt.savedmodel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.exceptions.TensorFlowException;

/**
 * A SavedModel written by {@link TrainingExport}, reloaded: serve it, keep training it, read its
 * variables and export it again, all without the Java optimizer that built it.
 *
 * <pre>{@code
 * try (TrainingBundle model = TrainingBundle.load(dir)) {
 *   try (Result r = model.train(Map.of("x", batch, "labels", batchLabels))) { ... r.get(TrainingExport.LOSS) ... }
 *   try (Result r = model.serve(Map.of("x", batch))) { ... }
 *   model.export(nextDir, false);
 * }
 * }</pre>
 * The signatures are plain SavedModel signatures, so the same works with
 * {@code SavedModelBundle.load(dir, "serve").function("train").call(feeds)}, or by op name through
 * {@code bundle.session().runner()}; this class adds checks with clear messages.
 */
public final class TrainingBundle implements AutoCloseable {
  private static final Pattern DATA_SHARD = Pattern.compile("variables\\.data-(\\d{5})-of-(\\d{5})");

  private final Path dir;
  private final SavedModelBundle bundle;

  private TrainingBundle(Path dir, SavedModelBundle bundle) {
    this.dir = dir;
    this.bundle = bundle;
  }

  /**
   * Loads the SavedModel at {@code dir} (tag {@value TrainingExport#TAG}) with every variable
   * restored.
   *
   * @throws NoSuchFileException if the directory, {@code saved_model.pb}, the checkpoint index or a
   *     data shard is missing
   * @throws IOException if TensorFlow cannot read the model or restore its variables (a truncated
   *     or corrupt {@code variables.data-*} file), naming the directory and TensorFlow's reason
   */
  public static TrainingBundle load(Path dir) throws IOException {
    Path root = dir.toAbsolutePath().normalize();
    checkFiles(root);
    try {
      return new TrainingBundle(root, SavedModelBundle.load(root.toString(), TrainingExport.TAG));
    } catch (TensorFlowException e) {
      throw new IOException("cannot load the SavedModel at " + root + " (its variables may be truncated or corrupt): "
          + e.getMessage(), e);
    }
  }

  private static void checkFiles(Path root) throws IOException {
    if (!Files.isDirectory(root)) {
      throw new NoSuchFileException(root.toString(), null, "no SavedModel directory");
    }
    requireFile(root.resolve("saved_model.pb"), "the SavedModel graph");
    Path variables = root.resolve("variables");
    requireFile(variables.resolve("variables.index"), "the checkpoint index");
    int shards = -1;
    List<Integer> present = new ArrayList<>();
    if (Files.isDirectory(variables)) {
      try (Stream<Path> files = Files.list(variables)) {
        for (Iterator<Path> it = files.iterator(); it.hasNext();) {
          Matcher m = DATA_SHARD.matcher(it.next().getFileName().toString());
          if (m.matches()) {
            present.add(Integer.parseInt(m.group(1)));
            shards = Integer.parseInt(m.group(2));
          }
        }
      }
    }
    if (shards < 0) {
      throw new NoSuchFileException(variables.resolve("variables.data-00000-of-00001").toString(), null,
          "no checkpoint data file: the export holds no variable values");
    }
    for (int i = 0; i < shards; i++) {
      if (!present.contains(i)) {
        throw new NoSuchFileException(variables.resolve(String.format("variables.data-%05d-of-%05d", i, shards)).toString(),
            null, "missing checkpoint data shard");
      }
    }
  }

  private static void requireFile(Path file, String what) throws NoSuchFileException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "missing " + what);
    }
  }

  /** Runs {@value TrainingExport#SERVE}: feeds by input name, returns the predictions by name. */
  public Result serve(Map<String, Tensor> inputs) {
    return function(TrainingExport.SERVE).call(inputs);
  }

  /**
   * Runs {@value TrainingExport#TRAIN}: one training step on the batch, returning
   * {@value TrainingExport#LOSS}.
   */
  public Result train(Map<String, Tensor> inputsAndLabels) {
    return function(TrainingExport.TRAIN).call(inputsAndLabels);
  }

  /**
   * The signature {@code key} as a function of the bundle's session.
   *
   * @throws IllegalArgumentException if the export has no such signature, listing those it has
   */
  public SessionFunction function(String key) {
    List<String> keys = signatureKeys();
    if (!keys.contains(key)) {
      throw new IllegalArgumentException("no signature '" + key + "' in the SavedModel at " + dir + "; it has " + keys);
    }
    return bundle.function(key);
  }

  /** The keys of the signatures in the export. */
  public List<String> signatureKeys() {
    return bundle.signatures().stream().map(Signature::key).sorted().toList();
  }

  /** Names of every variable the export restored, sorted: parameters, slots, counters, hyperparameters. */
  public List<String> variableNames() {
    List<String> names = new ArrayList<>();
    for (Iterator<GraphOperation> it = bundle.graph().operations(); it.hasNext();) {
      GraphOperation op = it.next();
      if ("VariableV2".equals(op.type())) {
        names.add(op.name());
      }
    }
    names.sort(null);
    return names;
  }

  /**
   * The current value of the variable {@code name}; the caller closes the tensor.
   *
   * @throws IllegalArgumentException if there is no such variable
   */
  public Tensor variable(String name) {
    if (!variableNames().contains(name)) {
      throw new IllegalArgumentException("no variable '" + name + "' in the SavedModel at " + dir);
    }
    // The result holds only this tensor, which the caller now owns.
    return bundle.session().runner().fetch(name).run().get(0);
  }

  /**
   * Exports the current state with the same signatures, e.g. to checkpoint training that resumed
   * from this bundle.
   *
   * @see TrainingExport#export
   */
  public void export(Path target, boolean overwrite) throws IOException {
    TrainingExport.write(bundle.session(), bundle.signatures(), target, overwrite);
  }

  /** The session holding the restored variables, for running ops by name. */
  public Session session() {
    return bundle.session();
  }

  /** The underlying TF-Java bundle. */
  public SavedModelBundle bundle() {
    return bundle;
  }

  @Override
  public void close() {
    bundle.close();
  }
}
