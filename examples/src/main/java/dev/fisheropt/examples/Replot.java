package dev.fisheropt.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Draws the comparison plot again from a run's {@code curves.csv}: mean curves per optimizer, with
 * a ± std band when the file holds several seeds.
 *
 * <p>{@code Replot CURVES_CSV PNG [TITLE]}
 */
public final class Replot {
  private Replot() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: Replot CURVES_CSV PNG [TITLE]");
      System.exit(2);
    }
    String title = args.length > 2 ? args[2] : "Fashion-MNIST CNN";
    Map<String, Map<String, Curve>> runs = read(Path.of(args[0]));
    List<Curve> means = new ArrayList<>();
    List<Curve> stds = new ArrayList<>();
    boolean seeds = false;
    for (Map.Entry<String, Map<String, Curve>> e : runs.entrySet()) {
      String name = OptimizerChoice.parse(e.getKey()).displayName();
      List<Curve> curves = List.copyOf(e.getValue().values());
      seeds |= curves.size() > 1;
      means.add(Curve.combine(name, curves, false));
      stds.add(Curve.combine(name, curves, true));
    }
    Charts.write(means, seeds ? stds : null, title, Path.of(args[1]));
  }

  /** optimizer flag → seed → curve, in the order of the file. */
  static Map<String, Map<String, Curve>> read(Path csv) throws IOException {
    Map<String, Map<String, Curve>> runs = new LinkedHashMap<>();
    List<String> lines = Files.readAllLines(csv);
    for (String line : lines.subList(1, lines.size())) {
      String[] f = line.split(",", -1);
      Curve curve =
          runs.computeIfAbsent(f[0], k -> new LinkedHashMap<>())
              .computeIfAbsent(f[1], k -> new Curve(f[0]));
      curve.add(
          new Curve.Point(
              Long.parseLong(f[2]),
              Double.parseDouble(f[3]),
              Double.parseDouble(f[4]),
              f[5].isEmpty() ? Double.NaN : Double.parseDouble(f[5])));
    }
    return runs;
  }
}
