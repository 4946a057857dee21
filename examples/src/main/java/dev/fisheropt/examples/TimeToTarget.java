package dev.fisheropt.examples;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * When the seeds of one optimizer first reached the target: how many of the runs did, and the mean
 * ± std of the step and of the training seconds at that first evaluation, over those that did.
 */
public record TimeToTarget(int runs, int reached, Stats steps, Stats seconds) {
  /** From each run's first point at the target, null for a run that never got there. */
  static TimeToTarget of(List<Curve.Point> firstPoints) {
    List<Curve.Point> hits = firstPoints.stream().filter(Objects::nonNull).toList();
    return new TimeToTarget(
        firstPoints.size(),
        hits.size(),
        Stats.of(hits.stream().mapToDouble(Curve.Point::step).toArray()),
        Stats.of(hits.stream().mapToDouble(Curve.Point::seconds).toArray()));
  }

  /** "steps / seconds", with "(reached/runs)" over several seeds, or "not reached". */
  String cell() {
    if (reached == 0) {
      return "not reached";
    }
    String at = steps.format("%.0f") + " / " + seconds.format("%.1f");
    return runs > 1 ? at + String.format(Locale.ROOT, " (%d/%d)", reached, runs) : at;
  }
}
