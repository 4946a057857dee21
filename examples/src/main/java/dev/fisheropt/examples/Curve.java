package dev.fisheropt.examples;

import java.util.ArrayList;
import java.util.List;

/**
 * What one optimizer's run produced: training loss (mean over the steps since the previous point)
 * and the validation metric where it was evaluated (accuracy for the classifiers, loss in nats for
 * the language model), each against step and training seconds (evaluation time excluded).
 */
public final class Curve {
  /** One logged point; {@code validation} (the metric) is NaN where it was not evaluated. */
  public record Point(long step, double seconds, double trainLoss, double validation) {}

  private final String optimizer;
  private final List<Point> points = new ArrayList<>();

  public Curve(String optimizer) {
    this.optimizer = optimizer;
  }

  public String optimizer() {
    return optimizer;
  }

  public void add(Point p) {
    points.add(p);
  }

  public List<Point> points() {
    return List.copyOf(points);
  }

  /** The first evaluated point whose validation metric reaches {@code target} (≥), or null. */
  public Point firstReaching(double target) {
    return points.stream().filter(p -> p.validation() >= target).findFirst().orElse(null);
  }

  /** The first evaluated point whose validation metric is at most {@code target}, or null. */
  public Point firstAtMost(double target) {
    return points.stream().filter(p -> p.validation() <= target).findFirst().orElse(null);
  }

  /**
   * The point-by-point mean (or, with {@code std}, the sample standard deviation) of runs logged at
   * the same steps; the step is the first curve's.
   */
  public static Curve combine(String optimizer, List<Curve> runs, boolean std) {
    Curve c = new Curve(optimizer);
    int n = runs.stream().mapToInt(r -> r.points.size()).min().orElse(0);
    for (int i = 0; i < n; i++) {
      int k = i;
      List<Point> at = runs.stream().map(r -> r.points.get(k)).toList();
      c.add(
          new Point(
              at.get(0).step(),
              Stats.of(at.stream().mapToDouble(Point::seconds).toArray()).pick(std),
              Stats.of(at.stream().mapToDouble(Point::trainLoss).toArray()).pick(std),
              Stats.of(at.stream().mapToDouble(Point::validation).toArray()).pick(std)));
    }
    return c;
  }
}
