package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

class RowSampleTest {
  private static int[] sample(long seed, long counter, int rows, int size) {
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      Operand<TInt32> idx =
          RowSample.indices(tf, seed, tf.constant(counter), tf.constant(rows), size);
      try (TInt32 t = (TInt32) session.runner().fetch(idx).run().get(0)) {
        int[] out = new int[(int) t.shape().size(0)];
        for (int i = 0; i < out.length; i++) {
          out[i] = t.getInt(i);
        }
        return out;
      }
    }
  }

  @Test
  void drawsDistinctAscendingRowsReproducibly() {
    int[] a = sample(7, 3, 128, 24);
    assertEquals(24, a.length);
    for (int i = 1; i < a.length; i++) {
      assertTrue(a[i] > a[i - 1], "ascending and distinct");
    }
    assertTrue(a[0] >= 0 && a[a.length - 1] < 128);
    assertArrayEquals(a, sample(7, 3, 128, 24), "same seed and counter, same rows");
    assertNotEquals(
        Arrays.toString(a), Arrays.toString(sample(7, 4, 128, 24)), "the counter moves the sample");
    assertNotEquals(RowSample.stream(7, 0), RowSample.stream(7, 1));
  }

  @Test
  void takesEveryRowInOrderWhenTheSampleCoversTheBatch() {
    assertArrayEquals(new int[] {0, 1, 2, 3, 4}, sample(1, 0, 5, 24));
  }

  @Test
  void isRoughlyUniformOverManyDraws() {
    int[] hits = new int[16];
    try (Graph graph = new Graph();
        Session session = new Session(graph)) {
      Ops tf = Ops.create(graph);
      var counter = tf.placeholder(TInt64.class);
      Operand<TInt32> idx = RowSample.indices(tf, 11, counter, tf.constant(16), 4);
      for (long c = 0; c < 400; c++) {
        try (var value = TInt64.scalarOf(c);
            TInt32 t = (TInt32) session.runner().feed(counter, value).fetch(idx).run().get(0)) {
          for (int i = 0; i < 4; i++) {
            hits[t.getInt(i)]++;
          }
        }
      }
    }
    // Each row is expected 100 times; a 4-sigma band is about ±35.
    for (int h : hits) {
      assertTrue(h > 65 && h < 135, "hits per row " + Arrays.toString(hits));
    }
  }
}
