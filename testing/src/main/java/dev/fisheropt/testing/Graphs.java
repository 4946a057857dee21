package dev.fisheropt.testing;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Session;

/** What a graph holds: operations of a type, its variables and their values. */
public final class Graphs {
  private Graphs() {}

  /** How many operations of type {@code type} the graph has. */
  public static int countOps(Graph graph, String type) {
    int n = 0;
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      if (it.next().type().equals(type)) {
        n++;
      }
    }
    return n;
  }

  /** The names of the graph's {@code VariableV2} operations, in graph order. */
  public static List<String> variableNames(Graph graph) {
    List<String> names = new ArrayList<>();
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if ("VariableV2".equals(op.type())) {
        names.add(op.name());
      }
    }
    return names;
  }

  /**
   * The value of every {@code VariableV2} of the graph as doubles, by name in name order, to
   * compare whole training states.
   */
  public static Map<String, double[]> variableValues(Graph graph, Session session) {
    Map<String, double[]> out = new TreeMap<>();
    for (String name : variableNames(graph)) {
      out.put(name, Tensors.fetch(session, graph.operation(name).output(0)));
    }
    return out;
  }
}
