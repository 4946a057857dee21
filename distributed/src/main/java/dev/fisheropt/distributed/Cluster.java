package dev.fisheropt.distributed;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The workers of one data-parallel job and which of them this process is: the addresses {@code
 * host:port} of tasks 0…N−1 of job {@code worker}, and this task's index. Task 0 is the chief: it
 * leads the collective group, broadcasts the initial variables and writes checkpoints.
 *
 * <p>Sources, in the order {@link #fromEnvironment()} tries them:
 *
 * <ul>
 *   <li>{@code FISHEROPT_CLUSTER}: a JSON object in the {@code TF_CONFIG} convention, {@code
 *       {"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker",
 *       "index": 1}}};
 *   <li>{@code TF_CONFIG}: the same JSON, as TensorFlow's Python runtime reads it.
 * </ul>
 *
 * {@link #of(List, int)} and {@link #parse(String)} build one from arguments.
 */
public record Cluster(List<String> workers, int taskIndex) {
  /** The environment variable read first by {@link #fromEnvironment()}. */
  public static final String ENVIRONMENT_VARIABLE = "FISHEROPT_CLUSTER";

  /** The environment variable of TensorFlow's own convention, read when the first is unset. */
  public static final String TF_CONFIG = "TF_CONFIG";

  /** The job name every task runs under. */
  public static final String JOB = "worker";

  /**
   * Validates the description: at least one worker, each {@code host:port} with a port in 1…65535,
   * no address twice, and a task index among them.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  public Cluster {
    if (workers == null || workers.isEmpty()) {
      throw new IllegalArgumentException("a cluster needs at least one worker address");
    }
    workers = List.copyOf(workers);
    Set<String> seen = new HashSet<>();
    for (String w : workers) {
      port(w);
      if (!seen.add(w)) {
        throw new IllegalArgumentException("worker address " + w + " is listed twice: " + workers);
      }
    }
    if (taskIndex < 0 || taskIndex >= workers.size()) {
      throw new IllegalArgumentException(
          "task index "
              + taskIndex
              + " is not among the "
              + workers.size()
              + " workers "
              + workers);
    }
  }

  /** A cluster of the given addresses, this process being task {@code taskIndex}. */
  public static Cluster of(List<String> workers, int taskIndex) {
    return new Cluster(workers, taskIndex);
  }

  /** N workers on 127.0.0.1 at the given ports, this process being task {@code taskIndex}. */
  public static Cluster loopback(List<Integer> ports, int taskIndex) {
    List<String> addresses = new ArrayList<>();
    ports.forEach(p -> addresses.add("127.0.0.1:" + p));
    return new Cluster(addresses, taskIndex);
  }

  /**
   * Reads {@value #ENVIRONMENT_VARIABLE}, or else {@value #TF_CONFIG}.
   *
   * @throws IllegalStateException if neither is set
   * @throws IllegalArgumentException if the one that is set does not describe a worker cluster
   */
  public static Cluster fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  /** {@link #fromEnvironment()} on a given environment (for tests and launchers). */
  public static Cluster fromEnvironment(Map<String, String> environment) {
    for (String key : List.of(ENVIRONMENT_VARIABLE, TF_CONFIG)) {
      String value = environment.get(key);
      if (value != null && !value.isBlank()) {
        try {
          return parse(value);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
      }
    }
    throw new IllegalStateException(
        "no cluster description: set "
            + ENVIRONMENT_VARIABLE
            + " (or "
            + TF_CONFIG
            + ") to {\"cluster\": {\"worker\": [\"host:port\", ...]}, \"task\": {\"type\":"
            + " \"worker\", \"index\": i}}");
  }

  /** Parses the {@code TF_CONFIG}-style JSON described on the class. */
  public static Cluster parse(String json) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not JSON: " + e.getOriginalMessage() + " in " + json, e);
    }
    JsonNode list = root == null ? null : root.path("cluster").path(JOB);
    if (list == null || !list.isArray() || list.isEmpty()) {
      throw new IllegalArgumentException("no non-empty list cluster." + JOB + " in " + json);
    }
    List<String> workers = new ArrayList<>();
    list.forEach(n -> workers.add(n.asText()));
    JsonNode task = root.path("task");
    String type = task.path("type").asText(JOB);
    if (!JOB.equals(type)) {
      throw new IllegalArgumentException(
          "task.type is '" + type + "'; only job '" + JOB + "' is supported");
    }
    if (!task.path("index").canConvertToInt()) {
      throw new IllegalArgumentException("no integer task.index in " + json);
    }
    return new Cluster(workers, task.path("index").asInt());
  }

  /** This description as {@value #ENVIRONMENT_VARIABLE} JSON, for launching a worker. */
  public String toJson() {
    ObjectMapper m = new ObjectMapper();
    var root = m.createObjectNode();
    var list = root.putObject("cluster").putArray(JOB);
    workers.forEach(list::add);
    root.putObject("task").put("type", JOB).put("index", taskIndex);
    return root.toString();
  }

  /** The same cluster seen from task {@code index}. */
  public Cluster withTaskIndex(int index) {
    return new Cluster(workers, index);
  }

  /** The number of workers. */
  public int size() {
    return workers.size();
  }

  /** Whether this process is task 0, the chief. */
  public boolean isChief() {
    return taskIndex == 0;
  }

  /** This task's address {@code host:port}. */
  public String address() {
    return workers.get(taskIndex);
  }

  /** This task's port. */
  public int port() {
    return port(address());
  }

  /** The session target of this task's server, {@code grpc://host:port}. */
  public String target() {
    return "grpc://" + address();
  }

  /** The device name of task {@code index}, e.g. {@code /job:worker/replica:0/task:1}. */
  public static String task(int index) {
    return "/job:" + JOB + "/replica:0/task:" + index;
  }

  private static int port(String address) {
    int colon = address == null ? -1 : address.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("worker address '" + address + "' is not host:port");
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("worker address '" + address + "' has no numeric port");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("worker address '" + address + "': port out of range");
    }
    return port;
  }
}
