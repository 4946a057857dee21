package dev.fisheropt.savedmodel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GradientDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.OpList;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SaverDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * What a meta graph needs from the runtime that loads it (its op types, in the graph and in every
 * function of its library), and the pruning of a training meta graph to what one signature and the
 * variable restore need.
 */
final class MetaGraphs {
  private MetaGraphs() {}

  /** Reads {@code saved_model.pb} of the SavedModel directory {@code dir}. */
  static SavedModel read(Path dir) throws IOException {
    try (InputStream in = Files.newInputStream(dir.resolve("saved_model.pb"))) {
      return SavedModel.parseFrom(in);
    }
  }

  /** The meta graph tagged exactly {@code tags}, or null. */
  static MetaGraphDef tagged(SavedModel model, Set<String> tags) {
    for (MetaGraphDef meta : model.getMetaGraphsList()) {
      if (new HashSet<>(meta.getMetaInfoDef().getTagsList()).equals(tags)) {
        return meta;
      }
    }
    return null;
  }

  /**
   * The op types the nodes of {@code meta} run, in the graph and inside its functions, sorted;
   * calls of the graph's own functions are not op types and are left out.
   */
  static Set<String> opTypes(MetaGraphDef meta) {
    GraphDef graph = meta.getGraphDef();
    Set<String> functions = new HashSet<>();
    graph.getLibrary().getFunctionList().forEach(f -> functions.add(f.getSignature().getName()));
    Set<String> types = new TreeSet<>();
    for (NodeDef node : graph.getNodeList()) {
      types.add(node.getOp());
    }
    for (FunctionDef f : graph.getLibrary().getFunctionList()) {
      for (NodeDef node : f.getNodeDefList()) {
        types.add(node.getOp());
      }
    }
    types.removeAll(functions);
    return types;
  }

  /**
   * {@code meta} reduced to the signature {@code key}: the nodes its inputs and outputs need, the
   * variables with the saver's save and restore ops, and the functions those nodes call, tagged
   * {@code tag}. Whatever only the other signatures run (an optimizer step and its ops) is dropped.
   */
  static MetaGraphDef prune(MetaGraphDef meta, String key, String tag) {
    SignatureDef signature = meta.getSignatureDefOrThrow(key);
    GraphDef graph = meta.getGraphDef();
    Map<String, NodeDef> byName = new HashMap<>();
    graph.getNodeList().forEach(n -> byName.put(n.getName(), n));

    Deque<String> todo = new ArrayDeque<>();
    for (TensorInfo info : signature.getInputsMap().values()) {
      todo.add(info.getName());
    }
    for (TensorInfo info : signature.getOutputsMap().values()) {
      todo.add(info.getName());
    }
    if (meta.hasSaverDef()) {
      SaverDef saver = meta.getSaverDef();
      todo.add(saver.getFilenameTensorName());
      todo.add(saver.getSaveTensorName());
      todo.add(saver.getRestoreOpName());
    }
    Set<String> kept = new HashSet<>();
    while (!todo.isEmpty()) {
      String name = nodeName(todo.pop());
      if (name.isEmpty() || !kept.add(name)) {
        continue;
      }
      NodeDef node = byName.get(name);
      if (node == null) {
        throw new IllegalArgumentException(
            "the meta graph has no node '"
                + name
                + "', which signature '"
                + key
                + "' or the saver needs");
      }
      todo.addAll(node.getInputList());
    }

    GraphDef.Builder pruned = graph.toBuilder().clearNode();
    graph.getNodeList().stream().filter(n -> kept.contains(n.getName())).forEach(pruned::addNode);
    pruned.setLibrary(functionsCalledBy(pruned.getNodeList(), graph.getLibrary()));

    MetaGraphDef.Builder out =
        meta.toBuilder()
            .setGraphDef(pruned)
            .clearSignatureDef()
            .putSignatureDef(key, signature)
            // Collections name nodes, and a name that is gone fails the load.
            .clearCollectionDef();
    out.getMetaInfoDefBuilder().clearTags().addTags(tag);
    if (meta.getMetaInfoDef().hasStrippedOpList()) {
      Set<String> used = opTypes(out.build());
      OpList.Builder ops = OpList.newBuilder();
      for (OpDef op : meta.getMetaInfoDef().getStrippedOpList().getOpList()) {
        if (used.contains(op.getName())) {
          ops.addOp(op);
        }
      }
      out.getMetaInfoDefBuilder().setStrippedOpList(ops);
    }
    return out.build();
  }

  /**
   * The functions of {@code library} that {@code nodes} call, directly or through other functions.
   */
  private static FunctionDefLibrary functionsCalledBy(
      List<NodeDef> nodes, FunctionDefLibrary library) {
    Map<String, FunctionDef> functions = new HashMap<>();
    library.getFunctionList().forEach(f -> functions.put(f.getSignature().getName(), f));
    Map<String, String> gradients = new HashMap<>();
    library.getGradientList().forEach(g -> gradients.put(g.getFunctionName(), g.getGradientFunc()));

    Set<String> called = new LinkedHashSet<>();
    Deque<String> todo = new ArrayDeque<>();
    nodes.forEach(n -> referencedNames(n, todo));
    while (!todo.isEmpty()) {
      String name = todo.pop();
      FunctionDef f = functions.get(name);
      if (f == null || !called.add(name)) {
        continue;
      }
      f.getNodeDefList().forEach(n -> referencedNames(n, todo));
      f.getAttrMap().values().forEach(v -> referencedNames(v, todo));
      if (gradients.containsKey(name)) {
        todo.add(gradients.get(name));
      }
    }

    FunctionDefLibrary.Builder out = library.toBuilder().clearFunction().clearGradient();
    library.getFunctionList().stream()
        .filter(f -> called.contains(f.getSignature().getName()))
        .forEach(out::addFunction);
    for (GradientDef g : library.getGradientList()) {
      if (called.contains(g.getFunctionName())) {
        out.addGradient(g);
      }
    }
    return out.build();
  }

  /** Names {@code node} may call as functions: its op and every function-valued attribute. */
  private static void referencedNames(NodeDef node, Deque<String> into) {
    into.add(node.getOp());
    node.getAttrMap().values().forEach(v -> referencedNames(v, into));
  }

  private static void referencedNames(AttrValue value, Deque<String> into) {
    if (value.hasFunc()) {
      referencedNames(value.getFunc(), into);
    }
    if (value.hasList()) {
      value.getList().getFuncList().forEach(f -> referencedNames(f, into));
    }
  }

  private static void referencedNames(NameAttrList function, Deque<String> into) {
    into.add(function.getName());
    function.getAttrMap().values().forEach(v -> referencedNames(v, into));
  }

  /** {@code name:0}, {@code ^name} or {@code name} → {@code name}. */
  private static String nodeName(String tensorOrInput) {
    String name = tensorOrInput.startsWith("^") ? tensorOrInput.substring(1) : tensorOrInput;
    int colon = name.indexOf(':');
    return colon < 0 ? name : name.substring(0, colon);
  }
}
