package dev.fisheropt.savedmodel;

import dev.fisheropt.testing.Graphs;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;

/**
 * The exact bytes of every {@code VariableV2} of a session, by name, so that two states, possibly
 * from different JVMs, can be compared bit for bit.
 */
record VariableDump(Map<String, Value> values) {

  record Value(String dtype, long[] shape, byte[] bytes) {
    boolean sameBits(Value o) {
      return dtype.equals(o.dtype)
          && Arrays.equals(shape, o.shape)
          && Arrays.equals(bytes, o.bytes);
    }

    /** The values as doubles, for float32, float64 and int64 variables. */
    double[] asDoubles() {
      ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
      return switch (dtype) {
        case "DT_FLOAT" -> {
          double[] d = new double[bytes.length / 4];
          for (int i = 0; i < d.length; i++) {
            d[i] = b.getFloat();
          }
          yield d;
        }
        case "DT_DOUBLE" -> {
          double[] d = new double[bytes.length / 8];
          b.asDoubleBuffer().get(d);
          yield d;
        }
        case "DT_INT64" -> {
          double[] d = new double[bytes.length / 8];
          for (int i = 0; i < d.length; i++) {
            d[i] = b.getLong();
          }
          yield d;
        }
        default -> throw new IllegalStateException("cannot read " + dtype);
      };
    }
  }

  static VariableDump of(Session session) {
    Map<String, Value> values = new TreeMap<>();
    for (String name : Graphs.variableNames(session.graph())) {
      try (Result r = session.runner().fetch(name).run()) {
        Tensor t = r.get(0);
        byte[] bytes = new byte[(int) t.numBytes()];
        t.asRawTensor().data().read(bytes);
        values.put(name, new Value(t.dataType().name(), t.shape().asArray(), bytes));
      }
    }
    return new VariableDump(values);
  }

  void write(Path file) throws IOException {
    try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
      out.writeInt(values.size());
      for (Map.Entry<String, Value> e : values.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeUTF(e.getValue().dtype());
        out.writeInt(e.getValue().shape().length);
        for (long d : e.getValue().shape()) {
          out.writeLong(d);
        }
        out.writeInt(e.getValue().bytes().length);
        out.write(e.getValue().bytes());
      }
    }
  }

  static VariableDump read(Path file) throws IOException {
    Map<String, Value> values = new TreeMap<>();
    try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
      int n = in.readInt();
      for (int i = 0; i < n; i++) {
        String name = in.readUTF();
        String dtype = in.readUTF();
        long[] shape = new long[in.readInt()];
        for (int d = 0; d < shape.length; d++) {
          shape[d] = in.readLong();
        }
        byte[] bytes = new byte[in.readInt()];
        in.readFully(bytes);
        values.put(name, new Value(dtype, shape, bytes));
      }
    }
    return new VariableDump(values);
  }

  /**
   * Names whose values differ from {@code other} in any bit, with the largest absolute difference.
   */
  List<String> differencesFrom(VariableDump other) {
    List<String> diffs = new ArrayList<>();
    for (Map.Entry<String, Value> e : values.entrySet()) {
      Value o = other.values.get(e.getKey());
      if (o == null) {
        diffs.add(e.getKey() + " (missing)");
      } else if (!e.getValue().sameBits(o)) {
        double[] a = e.getValue().asDoubles();
        double[] b = o.asDoubles();
        double max = 0;
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
          max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        diffs.add(e.getKey() + " (max |diff| " + max + ")");
      }
    }
    other.values.keySet().stream()
        .filter(k -> !values.containsKey(k))
        .forEach(k -> diffs.add(k + " (unexpected)"));
    return diffs;
  }
}
