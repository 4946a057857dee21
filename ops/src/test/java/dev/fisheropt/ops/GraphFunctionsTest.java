package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

class GraphFunctionsTest {
  @Test
  void ifThenElseRunsOnlyTheChosenBranchOverMixedDtypes() {
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      Placeholder<TBool> condition = tf.placeholder(TBool.class, Placeholder.shape(Shape.scalar()));
      GraphFunctions.Values out =
          GraphFunctions.ifThenElse(
              tf,
              condition,
              "test_branch",
              List.of(tf.constant(new double[] {1, 2}), tf.constant(3)),
              (fn, in) ->
                  List.of(
                      fn.math.mul(in.<TFloat64>get(0), fn.constant(10.0)),
                      fn.math.add(in.<TInt32>get(1), fn.constant(1))),
              (fn, in) -> List.of(in.get(0), in.get(1)));
      assertEquals(Shape.of(2), out.get(0).shape());
      assertEquals(Shape.scalar(), out.get(1).shape());
      try (TBool yes = TBool.scalarOf(true);
          TBool no = TBool.scalarOf(false)) {
        try (Result r =
            session.runner().feed(condition, yes).fetch(out.get(0)).fetch(out.get(1)).run()) {
          assertEquals(20.0, ((TFloat64) r.get(0)).getDouble(1));
          assertEquals(4, ((TInt32) r.get(1)).getInt());
        }
        try (Result r =
            session.runner().feed(condition, no).fetch(out.get(0)).fetch(out.get(1)).run()) {
          assertEquals(2.0, ((TFloat64) r.get(0)).getDouble(1));
          assertEquals(3, ((TInt32) r.get(1)).getInt());
        }
      }
    }
  }

  @Test
  void whileLoopCarriesEveryVariableAndKeepsStaticShapes() {
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      // x doubles five times; the matrix passes through unchanged.
      GraphFunctions.Values out =
          GraphFunctions.whileLoop(
              tf,
              "test_loop",
              List.of(
                  tf.constant(0), tf.constant(1.5), tf.constant(new double[][] {{1, 2}, {3, 4}})),
              (fn, in) -> fn.math.less(in.<TInt32>get(0), fn.constant(5)),
              (fn, in) ->
                  List.of(
                      fn.math.add(in.<TInt32>get(0), fn.constant(1)),
                      fn.math.mul(in.<TFloat64>get(1), fn.constant(2.0)),
                      in.get(2)));
      assertEquals(Shape.of(2, 2), out.get(2).shape());
      try (Result r =
          session.runner().fetch(out.get(0)).fetch(out.get(1)).fetch(out.get(2)).run()) {
        assertEquals(5, ((TInt32) r.get(0)).getInt());
        assertEquals(48.0, ((TFloat64) r.get(1)).getDouble());
        assertEquals(4.0, ((TFloat64) r.get(2)).getDouble(1, 1));
      }
    }
  }

  @Test
  void everyComputesOnMultiplesOfTheIntervalAndInlineForOne() {
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      Placeholder<TInt64> steps = tf.placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
      GraphFunctions.Body compute =
          (fn, in) -> List.of(fn.math.add(in.<TFloat64>get(0), fn.constant(1.0)));
      GraphFunctions.Body keep = (fn, in) -> List.of(in.get(0));
      Operand<TFloat64> everyThird =
          GraphFunctions.every(tf, 3, steps, "test_every", List.of(tf.constant(0.0)), compute, keep)
              .get(0);
      long ifOps = count(graph, "StatelessIf");
      Operand<TFloat64> always =
          GraphFunctions.every(tf, 1, steps, "test_every", List.of(tf.constant(0.0)), compute, keep)
              .get(0);
      assertEquals(ifOps, count(graph, "StatelessIf"), "interval 1 builds no branch");
      for (long s = 0; s < 7; s++) {
        try (TInt64 t = TInt64.scalarOf(s);
            Result r = session.runner().feed(steps, t).fetch(everyThird).fetch(always).run()) {
          assertEquals(s % 3 == 0 ? 1.0 : 0.0, ((TFloat64) r.get(0)).getDouble(), "step " + s);
          assertEquals(1.0, ((TFloat64) r.get(1)).getDouble());
        }
      }
      assertThrows(
          IllegalArgumentException.class,
          () -> GraphFunctions.every(tf, 0, steps, "x", List.of(), compute, keep));
    }
  }

  @Test
  void namesEncodeConstantsSoThatDifferentBodiesNeverShareOneFunction() {
    assertTrue(!GraphFunctions.name("body", 1.0).equals(GraphFunctions.name("body", 2.0)));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> GraphFunctions.name("bad name"));
    assertTrue(e.getMessage().contains("bad name"), e.getMessage());
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      // Same name, different constants: each loop keeps its own body.
      Operand<TFloat64> twice = scaledLoop(tf, 2.0);
      Operand<TFloat64> thrice = scaledLoop(tf, 3.0);
      try (Result r = session.runner().fetch(twice).fetch(thrice).run()) {
        assertEquals(2.0, ((TFloat64) r.get(0)).getDouble());
        assertEquals(3.0, ((TFloat64) r.get(1)).getDouble());
      }
    }
  }

  private static Operand<TFloat64> scaledLoop(Ops tf, double factor) {
    return GraphFunctions.whileLoop(
            tf,
            GraphFunctions.name("scale", factor),
            List.of(tf.constant(0), tf.constant(1.0)),
            (fn, in) -> fn.math.less(in.<TInt32>get(0), fn.constant(1)),
            (fn, in) ->
                List.of(
                    fn.math.add(in.<TInt32>get(0), fn.constant(1)),
                    fn.math.mul(in.<TFloat64>get(1), fn.constant(factor))))
        .get(1);
  }

  private static long count(Graph graph, String type) {
    long n = 0;
    for (var it = graph.operations(); it.hasNext(); ) {
      if (it.next().type().equals(type)) {
        n++;
      }
    }
    return n;
  }
}
