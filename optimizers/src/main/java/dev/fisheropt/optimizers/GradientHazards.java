package dev.fisheropt.optimizers;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Output;

/**
 * Rejects, before {@code Graph.addGradients}, the loss graphs whose TensorFlow C++ gradient cannot
 * be built, so that the JVM is not killed.
 *
 * <p>A {@code VariableV2} output has a reference dtype ({@code float_ref}). Some C++ gradient
 * functions (TF 2.18, {@code tensorflow/cc/gradients/math_grad.cc}) build a {@code Cast} to {@code
 * op.input(0).type()} or give it to a dtype attribute; with a ref input that op is rejected
 * ("AttrValue must not have reference type value of float_ref") and its {@code Output} stays null.
 * When the gradient function then reads the type of that null output ({@code ConjugateHelper}),
 * {@code TF_AddGradientsWithPrefix} dereferences a null {@code Node}: SIGSEGV, no Java exception.
 * Other functions return the error instead, and {@code addGradients} throws it with that cryptic
 * message. Both are checked here; reading the variable through {@code Identity} avoids both, since
 * Identity's output is a plain {@code float}.
 *
 * <p>Found one op per JVM with TF-Java 1.1.0: applied directly to a {@code VariableV2} output,
 * Square, Log1p, Atanh and Asin crash; Sign, Acos, Atan, Pow (either input) and BatchMatMul,
 * BatchMatMulV2, BatchMatMulV3 (either input) fail with the error; MatMul, Mul, Add, Sub, Div,
 * RealDiv, SquaredDifference, Maximum, Atan2, Einsum, BiasAdd, Conv2D, L2Loss, Sum, Mean, Reshape,
 * Cast, Identity, Exp, Log, Sqrt, Rsqrt, Reciprocal, Abs, Neg, Tanh, Sigmoid, Relu, Softplus,
 * Softmax and the other unary math ops work.
 */
final class GradientHazards {
  /** Op type to the {@code Ops} call that builds it, for the ops whose gradient kills the JVM. */
  static final Map<String, String> CRASHING =
      Map.of(
          "Square", "tf.math.square",
          "Log1p", "tf.math.log1p",
          "Atanh", "tf.math.atanh",
          "Asin", "tf.math.asin");

  /** Op type to its {@code Ops} call, for the ops whose gradient fails with a TensorFlow error. */
  static final Map<String, String> FAILING =
      Map.of(
          "Sign", "tf.math.sign",
          "Acos", "tf.math.acos",
          "Atan", "tf.math.atan",
          "Pow", "tf.math.pow",
          "BatchMatMul", "tf.train.batchMatMul",
          "BatchMatMulV2", "tf.train.batchMatMul",
          "BatchMatMulV3", "tf.train.batchMatMul");

  private GradientHazards() {}

  /**
   * Throws if differentiating {@code loss} with respect to {@code targets} would run one of those
   * gradient functions on a ref-typed input.
   *
   * <p>TensorFlow calls the gradient function of an op only if the op lies on a path from a target
   * to the loss, so an op that reads a variable that is not trained (and nothing trained) is left
   * alone, as TensorFlow leaves it.
   *
   * @param ancestors every op the loss depends on through data edges, the loss included
   * @throws IllegalArgumentException naming the op, its type, the variable and the workaround
   */
  static void check(Operand<?> loss, List<GraphOperation> ancestors, List<Output<?>> targets) {
    Set<String> reached = null;
    for (GraphOperation op : ancestors) {
      if (!CRASHING.containsKey(op.type()) && !FAILING.containsKey(op.type())) {
        continue;
      }
      Output<?> ref = null;
      for (Operand<?> input : op.inputs()) {
        if (isRef(input.asOutput())) {
          ref = input.asOutput();
          break;
        }
      }
      if (ref == null) {
        continue;
      }
      if (reached == null) {
        reached = reachedFrom(ancestors, targets);
      }
      for (Operand<?> input : op.inputs()) {
        if (reached.contains(input.op().name())) {
          throw new IllegalArgumentException(message(loss, op, ref));
        }
      }
    }
  }

  /**
   * The ancestors of the loss that are targets or depend on one: those TensorFlow differentiates.
   */
  private static Set<String> reachedFrom(List<GraphOperation> ancestors, List<Output<?>> targets) {
    Map<String, List<String>> consumers = new HashMap<>();
    for (GraphOperation op : ancestors) {
      for (Operand<?> input : op.inputs()) {
        consumers.computeIfAbsent(input.op().name(), k -> new ArrayList<>()).add(op.name());
      }
    }
    Set<String> reached = new HashSet<>();
    Deque<String> queue = new ArrayDeque<>();
    targets.forEach(t -> queue.add(t.op().name()));
    while (!queue.isEmpty()) {
      String name = queue.poll();
      if (reached.add(name)) {
        queue.addAll(consumers.getOrDefault(name, List.of()));
      }
    }
    return reached;
  }

  private static boolean isRef(Output<?> output) {
    return output.dataType().name().endsWith("_REF");
  }

  private static String message(Operand<?> loss, GraphOperation op, Output<?> ref) {
    String type = op.type();
    String variable = ref.op().name();
    String dtype = ref.dataType().name().toLowerCase(Locale.ROOT).replaceFirst("^dt_", "");
    boolean crashes = CRASHING.containsKey(type);
    String call = crashes ? CRASHING.get(type) : FAILING.get(type);
    String consequence =
        crashes
            ? "would crash the JVM (SIGSEGV in TF_AddGradientsWithPrefix)"
            : "would fail with \"AttrValue must not have reference type value of " + dtype + "\"";
    String fix =
        "pass tf.identity("
            + variable
            + ") to "
            + call
            + " instead of "
            + variable
            + (type.equals("Square")
                ? " (tf.math.square(tf.identity("
                    + variable
                    + "))), or use tf.math.mul("
                    + variable
                    + ", "
                    + variable
                    + ")"
                : "");
    return "cannot differentiate the loss '"
        + loss.op().name()
        + "': op '"
        + op.name()
        + "' ("
        + type
        + ", "
        + call
        + ") reads the variable '"
        + variable
        + "' ("
        + ref.op().type()
        + ", dtype "
        + dtype
        + ") directly, and TensorFlow's C++ gradient for "
        + type
        + " does not accept a reference dtype;"
        + " addGradients "
        + consequence
        + ". Workaround: "
        + fix
        + ".";
  }
}
