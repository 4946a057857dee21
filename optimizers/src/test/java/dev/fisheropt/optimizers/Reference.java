package dev.fisheropt.optimizers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A reference trajectory in the {@code optref/1} format (see test resources reference/SCHEMA.md).
 */
final class Reference {
  /** A tensor as a shape and its row-major values. */
  record Tensor(long[] shape, double[] data) {}

  /** One optimizer step: loss and gradients at W_{t-1}, parameters and state after the step. */
  record Step(
      double lossBefore,
      Map<String, Tensor> grads,
      Map<String, Tensor> params,
      Map<String, Tensor> extras) {}

  final String problem;
  final Tensor input;
  final int[] labels;
  final int numClasses;

  /** The layer norm's ε (tfm), NaN where the problem has none. */
  final double layerNormEpsilon;

  final Map<String, Tensor> initialParams = new LinkedHashMap<>();
  final List<String> paramOrder = new ArrayList<>();
  final List<Step> trajectory = new ArrayList<>();
  final JsonNode hyperparameters;

  private Reference(JsonNode root) {
    JsonNode p = root.get("problem");
    problem = p.get("name").asText();
    input = tensor(p.get("input"));
    labels = new int[p.get("labels").size()];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = p.get("labels").get(i).asInt();
    }
    numClasses = p.get("num_classes").asInt();
    layerNormEpsilon =
        p.has("layernorm_epsilon") ? p.get("layernorm_epsilon").asDouble() : Double.NaN;
    for (JsonNode param : p.get("initial_params")) {
      initialParams.put(param.get("name").asText(), tensor(param));
    }
    root.get("param_order").forEach(n -> paramOrder.add(n.asText()));
    for (JsonNode s : root.get("trajectory")) {
      trajectory.add(
          new Step(
              s.get("loss_before").asDouble(),
              tensors(s.get("grads")),
              tensors(s.get("params")),
              s.has("extras") ? tensors(s.get("extras")) : Map.of()));
    }
    hyperparameters = root.get("optimizer").get("hyperparameters_effective");
  }

  static Reference load(String file) {
    try (InputStream in = Reference.class.getResourceAsStream("/reference/" + file)) {
      if (in == null) {
        throw new IllegalStateException("missing test resource reference/" + file);
      }
      return new Reference(new ObjectMapper().readTree(in));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Map<String, Tensor> tensors(JsonNode node) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    node.fields().forEachRemaining(e -> out.put(e.getKey(), tensor(e.getValue())));
    return out;
  }

  private static Tensor tensor(JsonNode node) {
    JsonNode shape = node.get("shape");
    long[] s = new long[shape.size()];
    for (int i = 0; i < s.length; i++) {
      s[i] = shape.get(i).asLong();
    }
    JsonNode data = node.get("data");
    double[] d = new double[data.size()];
    for (int i = 0; i < d.length; i++) {
      d[i] = data.get(i).asDouble();
    }
    return new Tensor(s, d);
  }
}
