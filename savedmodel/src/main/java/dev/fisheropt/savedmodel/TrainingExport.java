package dev.fisheropt.savedmodel;

import dev.fisheropt.ops.CustomOps;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;

/**
 * Exports a training graph, with all its optimizer state, as a SavedModel that can be served and
 * trained further without the Java optimizer object.
 *
 * <p>The export holds one meta graph tagged {@value #TAG} with two signatures:
 *
 * <ul>
 *   <li>{@value #SERVE}: the model inputs → the predictions, for inference (TF Serving, Python,
 *       {@link TrainingBundle#serve});
 *   <li>{@value #TRAIN}: the model inputs and the labels → {@value #LOSS}, the loss of that batch,
 *       computed by an op that has the optimizer step as a control dependency: running the
 *       signature runs one training step.
 * </ul>
 *
 * The export's checkpoint ({@code variables/}) holds every {@code VariableV2} of the graph:
 * parameters, optimizer slots ({@code <variable>-<slot>}), counters ({@code <optimizer>/step},
 * {@code <optimizer>/skipped_steps}) and hyperparameters ({@code <optimizer>/<key>}), bit for bit.
 * Reloading it with {@link TrainingBundle#load} and running {@value #TRAIN} continues training
 * exactly where the export was made.
 *
 * <p>Where the graph runs an op of the fisheropt op library ({@link CustomOps#OP_TYPES}: {@code
 * polar(Polar.FUSED)}), which a TensorFlow without that library cannot even load, the export holds
 * two meta graphs instead: {@value #TAG}, with only {@value #SERVE} and the nodes it and the
 * variable restore need (no optimizer op), loadable by any TensorFlow; and {@value #TRAIN_TAG}, the
 * whole graph with both signatures, which {@link TrainingBundle#load} picks and for which it loads
 * the library first.
 *
 * <pre>{@code
 * Op step = Fismo.builder().build(graph).minimize(loss);
 * TrainingExport export = TrainingExport.builder(session)
 *     .input("x", x).label("labels", labels).prediction("logits", logits)
 *     .loss(loss).step(step).build();
 * for (...) {
 *   session.runner().feed(x, batch).feed(labels, batchLabels)
 *       .fetch(export.trainOutput()).run().close();
 * }
 * export.export(dir, false);          // refuses a non-empty dir; true replaces it
 * }</pre>
 *
 * <p>Build the step before the exporter saves for the first time: the graph's saver is created
 * once, on the first save, and covers the variables that exist then.
 */
public final class TrainingExport {
  /**
   * The tag of the exported meta graph, TF-Java's and TF Serving's default; of the serving meta
   * graph where the export has two (see {@link #TRAIN_TAG}).
   */
  public static final String TAG = SavedModelBundle.DEFAULT_TAG;

  /**
   * The tag of the training meta graph of an export whose graph runs ops of the fisheropt op
   * library ({@link CustomOps#OP_TYPES}, e.g. {@code polar(Polar.FUSED)}): it holds the whole graph
   * with both signatures, and loads only where the library is loaded, while the meta graph tagged
   * {@value #TAG} holds just {@value #SERVE}, without the library's ops.
   */
  public static final String TRAIN_TAG = "train";

  /** Key of the inference signature. */
  public static final String SERVE = "serve";

  /** Key of the training signature. */
  public static final String TRAIN = "train";

  /** Name of the training signature's output. */
  public static final String LOSS = "loss";

  private final Session session;
  private final Signature serve;
  private final Signature train;
  private final Operand<?> trainOutput;

  private TrainingExport(Builder b) {
    this.session = b.session;
    Ops tf = Ops.create(b.graph);
    this.trainOutput =
        tf.withControlDependencies(List.of(b.step)).withName(b.trainOpName).identity(b.loss);
    Signature.Builder serveSig = Signature.builder(SERVE);
    Signature.Builder trainSig = Signature.builder(TRAIN);
    b.inputs.forEach(
        (name, operand) -> {
          serveSig.input(name, operand);
          trainSig.input(name, operand);
        });
    b.labels.forEach(trainSig::input);
    b.predictions.forEach(serveSig::output);
    trainSig.output(LOSS, trainOutput);
    this.serve = serveSig.build();
    this.train = trainSig.build();
  }

  /** Starts an export of the graph of {@code session}, whose variables must be initialized. */
  public static Builder builder(Session session) {
    return new Builder(session);
  }

  /**
   * The loss with the step as a control dependency, the output of {@value #TRAIN}: fetch it (or add
   * it as a target) to train in the live session through the very op the export replays.
   */
  public Operand<?> trainOutput() {
    return trainOutput;
  }

  /** The {@value #SERVE} signature. */
  public Signature serveSignature() {
    return serve;
  }

  /** The {@value #TRAIN} signature. */
  public Signature trainSignature() {
    return train;
  }

  /**
   * Writes the SavedModel with the current values of every variable.
   *
   * @param dir the export directory; it must be missing or empty unless {@code overwrite}
   * @param overwrite whether to replace what {@code dir} holds
   * @throws DirectoryNotEmptyException if {@code dir} holds anything and {@code overwrite} is false
   */
  public void export(Path dir, boolean overwrite) throws IOException {
    write(session, List.of(serve, train), dir, overwrite);
  }

  /**
   * Writes the graph of {@code session} with {@code signatures} into a fresh sibling directory,
   * then moves it to {@code dir}, so that an interrupted export never leaves a half-written model
   * at {@code dir} (nor destroys the one there).
   */
  static void write(Session session, List<Signature> signatures, Path dir, boolean overwrite)
      throws IOException {
    Path target = dir.toAbsolutePath().normalize();
    if (Files.exists(target) && !Files.isDirectory(target)) {
      throw new FileAlreadyExistsException(
          target.toString(),
          null,
          "a regular file is in the way: an export is a directory; remove the file or export"
              + " elsewhere");
    }
    if (!overwrite && Files.exists(target) && !isEmptyDirectory(target)) {
      throw new DirectoryNotEmptyException(
          target
              + " (refusing to overwrite an existing export; pass overwrite=true to replace it)");
    }
    Path parent = target.getParent();
    Files.createDirectories(parent);
    Path staging = Files.createTempDirectory(parent, "." + target.getFileName() + ".partial-");
    try {
      SavedModelBundle.Exporter exporter =
          SavedModelBundle.exporter(staging.toString()).withTags(TAG).withSession(session);
      signatures.forEach(exporter::withSignature);
      exporter.export();
      separateTrainingGraph(staging);
      if (Files.exists(target)) {
        Path old = Files.createTempDirectory(parent, "." + target.getFileName() + ".old-");
        Files.delete(old);
        Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        deleteRecursively(old);
      } else {
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
      }
    } finally {
      if (Files.exists(staging)) {
        deleteRecursively(staging);
      }
    }
  }

  /**
   * Where the graph runs ops of the fisheropt library ({@link CustomOps#OP_TYPES}), rewrites the
   * exported {@code saved_model.pb} of {@code dir} as two meta graphs: {@value #TAG} with only the
   * {@value #SERVE} signature and the nodes it and the variable restore need, which any TensorFlow
   * loads, and {@value #TRAIN_TAG}, the whole graph with every signature, which needs the library.
   */
  private static void separateTrainingGraph(Path dir) throws IOException {
    SavedModel model = MetaGraphs.read(dir);
    MetaGraphDef full = model.getMetaGraphs(0);
    Set<String> custom = new TreeSet<>(MetaGraphs.opTypes(full));
    custom.retainAll(CustomOps.OP_TYPES);
    if (custom.isEmpty() || !full.containsSignatureDef(SERVE)) {
      return;
    }
    MetaGraphDef serving = MetaGraphs.prune(full, SERVE, TAG);
    MetaGraphDef.Builder training = full.toBuilder();
    training.getMetaInfoDefBuilder().clearTags().addTags(TRAIN_TAG);
    SavedModel split =
        model.toBuilder().clearMetaGraphs().addMetaGraphs(serving).addMetaGraphs(training).build();
    try (OutputStream out = Files.newOutputStream(dir.resolve("saved_model.pb"))) {
      split.writeTo(out);
    }
  }

  private static boolean isEmptyDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return false;
    }
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.findAny().isEmpty();
    }
  }

  private static void deleteRecursively(Path root) throws IOException {
    try (Stream<Path> all = Files.walk(root)) {
      all.sorted(Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.delete(p);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** What to export: named inputs, labels and predictions, the loss and the training step. */
  public static final class Builder {
    private final Session session;
    private final Graph graph;
    private final Map<String, Operand<?>> inputs = new LinkedHashMap<>();
    private final Map<String, Operand<?>> labels = new LinkedHashMap<>();
    private final Map<String, Operand<?>> predictions = new LinkedHashMap<>();
    private Operand<?> loss;
    private Op step;
    private String trainOpName = "train_loss";

    private Builder(Session session) {
      if (session == null) {
        throw new IllegalArgumentException("session must not be null");
      }
      this.session = session;
      this.graph = session.graph();
    }

    /** A model input (a placeholder), fed to both signatures under {@code name}. */
    public Builder input(String name, Operand<?> operand) {
      put(inputs, "input", name, operand);
      return this;
    }

    /** A training-only input such as the labels, fed to {@value #TRAIN} under {@code name}. */
    public Builder label(String name, Operand<?> operand) {
      put(labels, "label", name, operand);
      return this;
    }

    /** An output of {@value #SERVE}. */
    public Builder prediction(String name, Operand<?> operand) {
      put(predictions, "prediction", name, operand);
      return this;
    }

    /** The loss the step minimizes; {@value #TRAIN} returns it as {@value #LOSS}. */
    public Builder loss(Operand<?> loss) {
      this.loss = checkGraph("loss", loss);
      return this;
    }

    /** The training step, e.g. {@code optimizer.minimize(loss)}. */
    public Builder step(Op step) {
      if (step == null || step.env() != graph) {
        throw new IllegalArgumentException("step must be an op of the session's graph");
      }
      this.step = step;
      return this;
    }

    /** Name of the op {@link #trainOutput} creates (default {@code train_loss}). */
    public Builder trainOpName(String name) {
      if (name == null || !name.matches("[A-Za-z][A-Za-z0-9_.\\-]*")) {
        throw new IllegalArgumentException(
            "trainOpName must start with a letter and hold only letters, digits, '_', '.', '-', got"
                + " '"
                + name
                + "'");
      }
      this.trainOpName = name;
      return this;
    }

    /**
     * Adds the training output to the graph and returns the exporter.
     *
     * @throws IllegalArgumentException if no input, prediction, loss or step was given, or a name
     *     is used twice
     */
    public TrainingExport build() {
      if (inputs.isEmpty() || predictions.isEmpty() || loss == null || step == null) {
        throw new IllegalArgumentException(
            "an export needs at least one input, one prediction, the loss and the step; got inputs "
                + inputs.keySet()
                + ", predictions "
                + predictions.keySet()
                + ", loss "
                + (loss != null)
                + ", step "
                + (step != null));
      }
      return new TrainingExport(this);
    }

    private void put(Map<String, Operand<?>> into, String what, String name, Operand<?> operand) {
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException(what + " name must not be empty");
      }
      if (inputs.containsKey(name)
          || labels.containsKey(name)
          || predictions.containsKey(name)
          || LOSS.equals(name)) {
        throw new IllegalArgumentException(what + " name '" + name + "' is already used");
      }
      into.put(name, checkGraph(what + " '" + name + "'", operand));
    }

    private Operand<?> checkGraph(String what, Operand<?> operand) {
      if (operand == null || operand.env() != graph) {
        throw new IllegalArgumentException(what + " must be an operand of the session's graph");
      }
      return operand;
    }
  }
}
