package dev.fisheropt.savedmodel;

import dev.fisheropt.ops.CustomOps;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
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
import org.tensorflow.TensorFlow;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;

/**
 * A SavedModel written by {@link TrainingExport}, reloaded: serve it, keep training it, read its
 * variables and export it again, all without the Java optimizer that built it.
 *
 * <pre>{@code
 * try (TrainingBundle model = TrainingBundle.load(dir)) {
 *   try (Result r = model.train(Map.of("x", batch, "labels", batchLabels))) {
 *     ... r.get(TrainingExport.LOSS) ...
 *   }
 *   try (Result r = model.serve(Map.of("x", batch))) { ... }
 *   model.export(nextDir, false);
 * }
 * }</pre>
 *
 * The signatures are plain SavedModel signatures, so the same works with {@code
 * SavedModelBundle.load(dir, "serve").function("train").call(feeds)} (tag {@value
 * TrainingExport#TRAIN_TAG} instead of {@code "serve"} for an export that has it, after {@link
 * CustomOps#shared()}), or by op name through {@code bundle.session().runner()}; this class picks
 * the meta graph, loads the op library where the graph needs it, and adds checks with clear
 * messages.
 */
public final class TrainingBundle implements AutoCloseable {
  private static final Pattern DATA_SHARD =
      Pattern.compile("variables\\.data-(\\d{5})-of-(\\d{5})");

  private final Path dir;
  private final String tag;
  private final SavedModelBundle bundle;

  private TrainingBundle(Path dir, String tag, SavedModelBundle bundle) {
    this.dir = dir;
    this.tag = tag;
    this.bundle = bundle;
  }

  /**
   * Loads the SavedModel at {@code dir} with every variable restored: its meta graph tagged {@value
   * TrainingExport#TRAIN_TAG} where it has one (an export that runs ops of the fisheropt op
   * library), else the one tagged {@value TrainingExport#TAG}. Where the graph runs ops of the
   * fisheropt op library, the library is loaded first ({@link CustomOps#shared()}).
   *
   * @throws NoSuchFileException if the directory, {@code saved_model.pb}, the checkpoint index or a
   *     data shard is missing
   * @throws IOException if the graph needs ops this TensorFlow does not register (naming them, and
   *     why the fisheropt op library could not be loaded where they are its ops), or if TensorFlow
   *     cannot read the model or restore its variables (a truncated or corrupt {@code
   *     variables.data-*} file), naming the directory and TensorFlow's reason
   */
  public static TrainingBundle load(Path dir) throws IOException {
    Path root = dir.toAbsolutePath().normalize();
    checkFiles(root);
    SavedModel model;
    try {
      model = MetaGraphs.read(root);
    } catch (IOException e) {
      throw new IOException(
          "cannot read "
              + root.resolve("saved_model.pb")
              + " (truncated or corrupt?): "
              + e.getMessage(),
          e);
    }
    String tag = TrainingExport.TRAIN_TAG;
    MetaGraphDef meta = MetaGraphs.tagged(model, Set.of(tag));
    if (meta == null) {
      tag = TrainingExport.TAG;
      meta = MetaGraphs.tagged(model, Set.of(tag));
    }
    if (meta == null) {
      throw new IOException(
          "the SavedModel at "
              + root
              + " has no meta graph tagged '"
              + TrainingExport.TRAIN_TAG
              + "' or '"
              + TrainingExport.TAG
              + "'; its tag sets are "
              + model.getMetaGraphsList().stream()
                  .map(m -> m.getMetaInfoDef().getTagsList())
                  .toList());
    }
    requireOps(root, model, meta, tag);
    try {
      return new TrainingBundle(root, tag, SavedModelBundle.load(root.toString(), tag));
    } catch (TensorFlowException e) {
      if (e.getMessage() != null && e.getMessage().contains("Op type not registered")) {
        throw new IOException(
            "cannot load the SavedModel at "
                + root
                + ": its graph needs an op this TensorFlow does not register: "
                + e.getMessage(),
            e);
      }
      throw new IOException(
          "cannot restore the variables of the SavedModel at "
              + root
              + ": its checkpoint "
              + dataFiles(root)
              + " may be truncated or corrupt (saved_model.pb was read): "
              + e.getMessage(),
          e);
    }
  }

  /** The checkpoint's data shards, relative to the export, for error messages. */
  private static List<String> dataFiles(Path root) {
    try (Stream<Path> files = Files.list(root.resolve("variables"))) {
      return files
          .map(f -> root.relativize(f).toString())
          .filter(f -> f.contains(".data-"))
          .sorted()
          .toList();
    } catch (IOException e) {
      return List.of("variables/");
    }
  }

  /**
   * Makes sure that TensorFlow registers every op type the meta graph runs, loading the fisheropt
   * op library where it needs one of its ops, and says which are missing and why where it cannot.
   */
  private static void requireOps(Path root, SavedModel model, MetaGraphDef meta, String tag)
      throws IOException {
    Set<String> used = MetaGraphs.opTypes(meta);
    Set<String> fisheropt = new TreeSet<>(used);
    fisheropt.retainAll(CustomOps.OP_TYPES);
    CustomOps library = fisheropt.isEmpty() ? null : CustomOps.shared();
    Set<String> missing = new TreeSet<>(used);
    TensorFlow.registeredOpList().getOpList().forEach(op -> missing.remove(op.getName()));
    if (missing.isEmpty()) {
      return;
    }
    StringBuilder message =
        new StringBuilder(
            "cannot load the SavedModel at "
                + root
                + " (meta graph '"
                + tag
                + "'): its graph needs op types this TensorFlow does not register: "
                + missing);
    Set<String> ours = new TreeSet<>(missing);
    ours.retainAll(CustomOps.OP_TYPES);
    if (!ours.isEmpty()) {
      message
          .append("; ")
          .append(ours)
          .append(" come from the fisheropt op library (")
          .append(CustomOps.BUNDLED_RESOURCE)
          .append(" in the fisheropt-ops jar), which could not be loaded: ")
          .append(library.unavailableReason().orElse("it loaded but does not register them"));
    }
    if (missing.size() > ours.size()) {
      message.append(
          "; load the libraries that define the others with TensorFlow.loadLibrary first");
    }
    MetaGraphDef serving = MetaGraphs.tagged(model, Set.of(TrainingExport.TAG));
    if (serving != null
        && serving != meta
        && Collections.disjoint(MetaGraphs.opTypes(serving), missing)) {
      message
          .append(". Its '")
          .append(TrainingExport.TAG)
          .append("' meta graph does not need them: SavedModelBundle.load(dir, \"")
          .append(TrainingExport.TAG)
          .append("\") serves the model");
    }
    throw new IOException(message.toString());
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
        for (Iterator<Path> it = files.iterator(); it.hasNext(); ) {
          Matcher m = DATA_SHARD.matcher(it.next().getFileName().toString());
          if (m.matches()) {
            present.add(Integer.parseInt(m.group(1)));
            shards = Integer.parseInt(m.group(2));
          }
        }
      }
    }
    if (shards < 0) {
      throw new NoSuchFileException(
          variables.resolve("variables.data-00000-of-00001").toString(),
          null,
          "no checkpoint data file: the export holds no variable values");
    }
    for (int i = 0; i < shards; i++) {
      if (!present.contains(i)) {
        throw new NoSuchFileException(
            variables.resolve(String.format("variables.data-%05d-of-%05d", i, shards)).toString(),
            null,
            "missing checkpoint data shard");
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
   * Runs {@value TrainingExport#TRAIN}: one training step on the batch, returning {@value
   * TrainingExport#LOSS}.
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
      throw new IllegalArgumentException(
          "no signature '" + key + "' in the SavedModel at " + dir + "; it has " + keys);
    }
    return bundle.function(key);
  }

  /** The keys of the signatures in the export. */
  public List<String> signatureKeys() {
    return bundle.signatures().stream().map(Signature::key).sorted().toList();
  }

  /**
   * Names of every variable the export restored, sorted: parameters, slots, counters,
   * hyperparameters.
   */
  public List<String> variableNames() {
    List<String> names = new ArrayList<>();
    for (Iterator<GraphOperation> it = bundle.graph().operations(); it.hasNext(); ) {
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

  /**
   * The tag of the meta graph loaded: {@value TrainingExport#TRAIN_TAG} or {@value
   * TrainingExport#TAG}.
   */
  public String tag() {
    return tag;
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
