package dev.fisheropt.examples;

import java.util.ArrayList;
import java.util.List;

/**
 * What one optimizer's run produced: training loss (mean over the steps since the previous point)
 * and test accuracy where it was evaluated, each against step and training seconds (evaluation time
 * excluded).
 */
public final class Curve {
  /** One logged point; {@code testAccuracy} is NaN where the test set was not evaluated. */
  public record Point(long step, double seconds, double trainLoss, double testAccuracy) {}

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

  /** The first evaluated point whose test accuracy reaches {@code accuracy}, or null. */
  public Point firstReaching(double accuracy) {
    return points.stream().filter(p -> p.testAccuracy() >= accuracy).findFirst().orElse(null);
  }
}
