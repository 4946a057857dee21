package dev.fisheropt.examples;

import java.nio.file.Path;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.summary.SummaryWriter;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;

/**
 * Scalars written as TensorBoard event files by TensorFlow's own summary kernels ({@code
 * CreateSummaryFileWriter}, {@code WriteScalarSummary}, {@code FlushSummaryWriter}), in a small
 * graph of its own so the training graph stays as the optimizer built it.
 */
public final class TensorBoardLog implements AutoCloseable {
  private final Graph graph = new Graph();
  private final Session session;
  private final Placeholder<TInt64> step;
  private final Placeholder<TString> tag;
  private final Placeholder<TFloat32> value;
  private final Op write;
  private final Op flush;
  private final Op close;

  /** Creates the writer; its event file appears in {@code directory}. */
  public TensorBoardLog(Path directory) {
    Ops tf = Ops.create(graph);
    SummaryWriter writer = tf.summary.summaryWriter(SummaryWriter.sharedName("writer"));
    step = tf.placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
    tag = tf.placeholder(TString.class, Placeholder.shape(Shape.scalar()));
    value = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    Op create =
        tf.summary.createSummaryFileWriter(
            writer,
            tf.constant(directory.toAbsolutePath().toString()),
            tf.constant(100),
            tf.constant(10_000),
            tf.constant(".v2"));
    write = tf.summary.writeScalarSummary(writer, step, tag, value);
    flush = tf.summary.flushSummaryWriter(writer);
    close = tf.summary.closeSummaryWriter(writer);
    session = new Session(graph);
    session.runner().addTarget(create).run();
  }

  /** Adds the scalar {@code tag} = {@code v} at {@code globalStep}. */
  public void scalar(String name, long globalStep, float v) {
    try (TInt64 s = TInt64.scalarOf(globalStep);
        TString t = TString.scalarOf(name);
        TFloat32 x = TFloat32.scalarOf(v)) {
      session.runner().feed(step, s).feed(tag, t).feed(value, x).addTarget(write).run();
    }
  }

  @Override
  public void close() {
    session.runner().addTarget(flush).run();
    session.runner().addTarget(close).run();
    session.close();
    graph.close();
  }
}
