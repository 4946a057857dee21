package dev.fisheropt.xla;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OptimizerOptions;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;

/**
 * Running a training step under XLA, and proving where its ops ran.
 *
 * <p>{@link #sessionConfig()} turns on XLA auto-clustering for one {@code Session} ({@code
 * global_jit_level = ON_2} and {@code cpu_global_jit = true} in the session's {@code
 * OptimizerOptions}): TensorFlow groups every op it can compile into clusters, each run as one
 * compiled XLA computation ({@code _XlaCompile} + {@code _XlaRun} in the partition graphs). It
 * works in the running JVM, on CPU and GPU, with no environment variable; sessions created without
 * it are unaffected. {@code global_jit_level} alone clusters nothing on CPU: XLA:CPU only
 * auto-clusters where {@code cpu_global_jit} (or the environment variable {@code
 * TF_XLA_FLAGS="--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"}, read once when the native library
 * loads) allows it.
 *
 * <pre>{@code
 * Op step = Fismo.builder().inverseRoot(InverseRoot.NEWTON).build(graph).minimize(loss);
 * try (Session session = new Session(graph, Xla.sessionConfig())) { ... }
 * }</pre>
 *
 * <p>What stays outside the clusters: variable reads and writes ({@code VariableV2}, {@code
 * Assign}: XLA never compiles ref-variable ops), constants, no-ops, and ops XLA refuses to
 * auto-cluster, such as {@code SelfAdjointEigV2} (FISMO's {@code inverseRoot(EIGH)}; use {@code
 * NEWTON}). The first run or two of a cluster may execute its uncompiled fallback while XLA
 * compiles it (lazy compilation).
 *
 * <p>{@link #partitionGraphs()} and {@link #placement} read back what actually ran: pass the run
 * options to {@code session.runner().setOptions(...).runAndFetchMetadata()}.
 */
public final class Xla {
  /** Op types that move or hold state, or do nothing: never compute. */
  private static final Set<String> NOT_COMPUTE =
      Set.of("VariableV2", "Assign", "Const", "NoOp", "_Send", "_Recv", "_HostSend", "_HostRecv");

  /**
   * Op types TensorFlow adds to run a cluster; with them come nodes named {@code cluster_<k>/…} (a
   * switch between the compiled computation and its uncompiled fallback call, used while lazy
   * compilation has not compiled the cluster yet).
   */
  private static final Set<String> CLUSTER_PLUMBING = Set.of("_XlaCompile", "_XlaRun", "_XlaMerge");

  private static final Pattern CLUSTER_NODE = Pattern.compile("cluster_\\d+(_\\d+)?/.*");

  private Xla() {}

  /** A session config with XLA auto-clustering on, for CPU and GPU. */
  public static ConfigProto sessionConfig() {
    return enable(ConfigProto.newBuilder()).build();
  }

  /** Turns XLA auto-clustering on in an existing config (other settings are kept). */
  public static ConfigProto.Builder enable(ConfigProto.Builder config) {
    GraphOptions.Builder graph = config.getGraphOptionsBuilder();
    OptimizerOptions.Builder optimizer = graph.getOptimizerOptionsBuilder();
    optimizer.setGlobalJitLevel(OptimizerOptions.GlobalJitLevel.ON_2).setCpuGlobalJit(true);
    return config;
  }

  /**
   * Run options that return the partition graphs (what each device executed) in the run metadata.
   */
  public static RunOptions partitionGraphs() {
    return RunOptions.newBuilder().setOutputPartitionGraphs(true).build();
  }

  /** The nodes of every partition graph of one run. */
  public static Placement placement(RunMetadata metadata) {
    List<NodeDef> nodes = new ArrayList<>();
    for (GraphDef partition : metadata.getPartitionGraphsList()) {
      nodes.addAll(partition.getNodeList());
    }
    return new Placement(Collections.unmodifiableList(nodes));
  }

  /** The nodes the devices ran in one step, after clustering and placement. */
  public record Placement(List<NodeDef> nodes) {
    /** Device (e.g. {@code /job:localhost/replica:0/task:0/device:GPU:0}) → op type → count. */
    public Map<String, Map<String, Integer>> opCountsByDevice() {
      Map<String, Map<String, Integer>> counts = new TreeMap<>();
      for (NodeDef n : nodes) {
        counts
            .computeIfAbsent(n.getDevice(), d -> new TreeMap<>())
            .merge(n.getOp(), 1, Integer::sum);
      }
      return counts;
    }

    /** How many nodes of this op type ran. */
    public int count(String opType) {
      return (int) nodes.stream().filter(n -> n.getOp().equals(opType)).count();
    }

    /** Whether any XLA cluster ran ({@code _XlaRun} present). */
    public boolean compiled() {
      return count("_XlaRun") > 0;
    }

    /**
     * Compute ops under the name scope {@code scope} (an optimizer's name) that ran outside every
     * XLA cluster, as {@code name (OpType)}: everything but variable reads and writes, constants,
     * no-ops, transfers and the cluster machinery itself (including the uncompiled fallback call
     * lazy compilation keeps for each cluster, which is part of the cluster). A read of a ref
     * variable shows as an {@code Identity} of a {@code VariableV2} and is not counted.
     */
    public List<String> computeOpsOutsideClusters(String scope) {
      return computeOpsOutside(scope + "/");
    }

    /**
     * Like {@link #computeOpsOutsideClusters(String)} for every op of the step (model and gradients
     * too).
     */
    public List<String> computeOpsOutsideClusters() {
      return computeOpsOutside("");
    }

    private List<String> computeOpsOutside(String prefix) {
      Map<String, String> opByName = new TreeMap<>();
      nodes.forEach(n -> opByName.put(n.getName(), n.getOp()));
      List<String> outside = new ArrayList<>();
      for (NodeDef n : nodes) {
        if (!n.getName().startsWith(prefix)
            || NOT_COMPUTE.contains(n.getOp())
            || CLUSTER_PLUMBING.contains(n.getOp())
            || CLUSTER_NODE.matcher(n.getName()).matches()) {
          continue;
        }
        if (n.getOp().equals("Identity")
            && n.getInputCount() == 1
            && "VariableV2".equals(opByName.get(n.getInput(0).split(":")[0]))) {
          continue;
        }
        outside.add(n.getName() + " (" + n.getOp() + ")");
      }
      return outside;
    }
  }
}
