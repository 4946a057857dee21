package dev.fisheropt.optimizers;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Session;

/** Values of every variable in a graph, by name, to compare whole training states. */
final class Snapshots {
  private Snapshots() {}

  static Map<String, double[]> allVariables(Graph graph, Session session) {
    List<GraphOperation> variables = new ArrayList<>();
    for (Iterator<GraphOperation> it = graph.operations(); it.hasNext(); ) {
      GraphOperation op = it.next();
      if (op.type().equals("VariableV2")) {
        variables.add(op);
      }
    }
    variables.sort((a, b) -> a.name().compareTo(b.name()));
    Map<String, double[]> out = new LinkedHashMap<>();
    for (GraphOperation v : variables) {
      out.put(v.name(), Values.fetch(session, v.output(0)));
    }
    return out;
  }
}
