package dev.fisheropt.ops;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.If;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * Functional control flow from Java lambdas: a {@code StatelessIf} between two branches, a {@code
 * StatelessWhile} loop, and "every k steps", each over a list of tensors.
 *
 * <p>A branch or loop body is a function graph of its own: it cannot read the tensors of the
 * enclosing graph, so everything it needs is passed in {@code inputs} and reaches the body as
 * stand-ins of the same dtypes and shapes. TF-Java names a function after its key and a graph keeps
 * one function per name, so the {@code name} given here must tell apart bodies that differ for
 * inputs of equal dtypes and shapes (build it with {@link #name} from the constants a body uses);
 * the dtypes and shapes are added to it here.
 */
public final class GraphFunctions {
  private GraphFunctions() {}

  /** Builds the outputs of a branch or a loop step from its inputs. */
  @FunctionalInterface
  public interface Body {
    List<Operand<?>> build(Ops fn, Values inputs);
  }

  /** Builds a loop's continuation test from its loop variables. */
  @FunctionalInterface
  public interface Condition {
    Operand<TBool> build(Ops fn, Values inputs);
  }

  /** The tensors a function receives or returns, read at the type the caller knows them to have. */
  public static final class Values {
    private final List<Operand<?>> values;

    private Values(List<? extends Operand<?>> values) {
      this.values = Collections.unmodifiableList(new ArrayList<>(values));
    }

    /** The {@code index}-th tensor. */
    @SuppressWarnings("unchecked")
    public <T extends TType> Operand<T> get(int index) {
      return (Operand<T>) values.get(index);
    }

    /** The tensors from {@code from} (inclusive) to {@code to} (exclusive). */
    public List<Operand<?>> subList(int from, int to) {
      return values.subList(from, to);
    }

    public int size() {
      return values.size();
    }
  }

  /**
   * A function name made of {@code base} and the constants a body depends on, in characters a
   * function name may hold.
   *
   * @throws IllegalArgumentException if {@code base} holds anything but letters, digits and '_'
   */
  public static String name(String base, double... constants) {
    return FunctionKeys.of(base, constants);
  }

  /**
   * {@code then(inputs)} where {@code condition} holds, {@code otherwise(inputs)} elsewhere, as one
   * {@code StatelessIf}: only the chosen branch runs. Both branches return tensors of the same
   * dtypes and shapes.
   */
  public static Values ifThenElse(
      Ops tf,
      Operand<TBool> condition,
      String name,
      List<? extends Operand<?>> inputs,
      Body then,
      Body otherwise) {
    String key = FunctionKeys.of(name, inputs);
    List<Class<? extends TType>> types = new ArrayList<>();
    List<Shape> outputShapes = new ArrayList<>();
    ConcreteFunction thenFunction = function(key + "_then", inputs, then, types, outputShapes);
    ConcreteFunction elseFunction = function(key + "_else", inputs, otherwise, null, null);
    Shape[] shapes = outputShapes.toArray(new Shape[0]);
    If chosen =
        tf.statelessIf(
            condition,
            new ArrayList<>(inputs),
            types,
            thenFunction,
            elseFunction,
            If.outputShapes(shapes));
    return new Values(withShapes(tf, chosen.output(), List.of(shapes)));
  }

  /**
   * Runs {@code body} on the loop variables while {@code condition} holds, as one {@code
   * StatelessWhile}, starting from {@code initial}; the body returns the next value of every loop
   * variable, in order, with unchanged dtypes and shapes.
   */
  public static Values whileLoop(
      Ops tf, String name, List<? extends Operand<?>> initial, Condition condition, Body body) {
    String key = FunctionKeys.of(name, initial);
    ConcreteFunction test =
        function(key + "_cond", initial, (fn, in) -> List.of(condition.build(fn, in)), null, null);
    ConcreteFunction step = function(key + "_body", initial, body, null, null);
    List<Shape> shapes = initial.stream().map(Operand::shape).toList();
    return new Values(
        withShapes(tf, tf.whileOp(new ArrayList<>(initial), test, step).output(), shapes));
  }

  /**
   * {@code compute(inputs)} on the steps whose count of completed steps is a multiple of {@code
   * interval}, {@code keep(inputs)} on the others (a {@link #ifThenElse}); with interval 1, {@code
   * compute} built inline, without a branch.
   *
   * @throws IllegalArgumentException if {@code interval < 1}
   */
  public static Values every(
      Ops tf,
      int interval,
      Operand<TInt64> completedSteps,
      String name,
      List<? extends Operand<?>> inputs,
      Body compute,
      Body keep) {
    if (interval < 1) {
      throw new IllegalArgumentException("interval must be at least 1, got " + interval);
    }
    if (interval == 1) {
      return new Values(compute.build(tf, new Values(inputs)));
    }
    return ifThenElse(tf, isMultiple(tf, completedSteps, interval), name, inputs, compute, keep);
  }

  /** Whether {@code steps} is a multiple of {@code interval}. */
  private static Operand<TBool> isMultiple(Ops tf, Operand<TInt64> steps, long interval) {
    return tf.math.equal(tf.math.mod(steps, tf.constant(interval)), tf.constant(0L));
  }

  /**
   * A function over stand-ins for {@code inputs}; {@code types} and {@code shapes}, when given,
   * receive its outputs' dtypes and shapes (read while the function's graph is open).
   */
  private static ConcreteFunction function(
      String key,
      List<? extends Operand<?>> inputs,
      Body body,
      List<Class<? extends TType>> types,
      List<Shape> shapes) {
    return ConcreteFunction.create(
        fn -> {
          Signature.Builder signature = Signature.builder(key);
          List<Operand<?>> standIns = new ArrayList<>();
          // Zero-padded names sort in input order, should the signature order them by name.
          for (int i = 0; i < inputs.size(); i++) {
            Operand<?> input = inputs.get(i);
            Placeholder<?> p = fn.placeholder(input.type(), Placeholder.shape(input.shape()));
            signature.input(String.format("in%03d", i), p);
            standIns.add(p);
          }
          List<Operand<?>> outputs = body.build(fn, new Values(standIns));
          for (int i = 0; i < outputs.size(); i++) {
            Operand<?> out = outputs.get(i);
            // An input returned as it is needs a node of its own to be a function output.
            if ("Placeholder".equals(out.op().type())) {
              out = fn.identity(out);
            }
            signature.output(String.format("out%03d", i), out);
            if (types != null) {
              types.add(out.type());
              shapes.add(out.shape());
            }
          }
          return signature.build();
        });
  }

  /** The outputs, each pinned to its expected static shape where that shape is fully known. */
  private static List<Operand<?>> withShapes(Ops tf, List<Output<?>> outputs, List<Shape> shapes) {
    List<Operand<?>> pinned = new ArrayList<>();
    for (int i = 0; i < outputs.size(); i++) {
      Output<?> out = outputs.get(i);
      Shape expected = shapes.get(i);
      boolean known = !expected.isUnknown() && !expected.hasUnknownDimension();
      pinned.add(known && !out.shape().equals(expected) ? ensureShape(tf, out, expected) : out);
    }
    return pinned;
  }

  private static <T extends TType> Operand<T> ensureShape(Ops tf, Output<T> out, Shape shape) {
    return tf.ensureShape(out, shape);
  }
}
