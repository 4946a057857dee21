package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.xla.Xla;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** {@code compare --xla} compiles the compare model's training step with XLA. */
class CompareXlaTest {
  @Test
  void theCompareCnnStepRunsInXlaClustersWithXlaAndNotWithout() {
    for (boolean xla : new boolean[] {true, false}) {
      try (Graph graph = new Graph()) {
        Model model = new Model(graph, Model.Architecture.CNN, 8, 0, 1);
        Op step =
            OptimizerChoice.ADAM
                .build(
                    graph,
                    model.layers(),
                    dev.fisheropt.ops.Schedule.constant(1e-3),
                    OptimizerChoice.Tuning.defaults())
                .minimize(model.loss());
        try (Session session = new Session(graph, Compare.sessionConfig(xla));
            TFloat32 x = TFloat32.tensorOf(Shape.of(8, 28, 28, 1));
            TInt32 y = TInt32.tensorOf(Shape.of(8))) {
          session.initialize();
          try (Result r =
              session
                  .runner()
                  .feed(model.trainImages(), x)
                  .feed(model.trainLabels(), y)
                  .addTarget(step)
                  .setOptions(Xla.partitionGraphs())
                  .runAndFetchMetadata()) {
            Xla.Placement placement = Xla.placement(r.getMetadata().orElseThrow());
            if (xla) {
              assertTrue(
                  placement.count("_XlaRun") > 0,
                  "the step ran no XLA cluster: " + placement.opCountsByDevice());
              assertEquals(
                  List.of(),
                  placement.computeOpsOutsideClusters("Adam"),
                  "every update op of Adam is compiled");
            } else {
              assertEquals(0, placement.count("_XlaRun"));
            }
          }
        }
      }
    }
  }
}
