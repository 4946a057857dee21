package dev.fisheropt.examples;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The comparison plot: training loss and test accuracy against steps and against seconds, one line
 * per optimizer.
 */
public final class Charts {
  private static final int WIDTH = 640;
  private static final int HEIGHT = 420;

  private Charts() {}

  /** Writes a 2×2 grid of charts to {@code png}. */
  public static void write(List<Curve> curves, String title, Path png) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<XYChart> charts = new ArrayList<>();
    charts.add(
        chart(
            curves,
            title + ": training loss",
            "step",
            "loss",
            Curve.Point::step,
            Curve.Point::trainLoss,
            true));
    charts.add(
        chart(
            curves,
            title + ": training loss",
            "seconds",
            "loss",
            Curve.Point::seconds,
            Curve.Point::trainLoss,
            true));
    charts.add(
        chart(
            curves,
            title + ": test accuracy",
            "step",
            "accuracy",
            Curve.Point::step,
            Curve.Point::testAccuracy,
            false));
    charts.add(
        chart(
            curves,
            title + ": test accuracy",
            "seconds",
            "accuracy",
            Curve.Point::seconds,
            Curve.Point::testAccuracy,
            false));
    String name = png.toString();
    BitmapEncoder.saveBitmap(
        charts,
        2,
        2,
        name.endsWith(".png") ? name.substring(0, name.length() - 4) : name,
        BitmapEncoder.BitmapFormat.PNG);
  }

  private static XYChart chart(
      List<Curve> curves,
      String title,
      String x,
      String y,
      ToDoubleFunction<Curve.Point> fx,
      ToDoubleFunction<Curve.Point> fy,
      boolean logLoss) {
    XYChart chart =
        new XYChartBuilder()
            .width(WIDTH)
            .height(HEIGHT)
            .title(title)
            .xAxisTitle(x)
            .yAxisTitle(y)
            .build();
    chart.getStyler().setYAxisLogarithmic(logLoss);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
    chart.getStyler().setMarkerSize(4);
    for (Curve c : curves) {
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      for (Curve.Point p : c.points()) {
        double v = fy.applyAsDouble(p);
        if (Double.isFinite(v) && (!logLoss || v > 0)) {
          xs.add(fx.applyAsDouble(p));
          ys.add(v);
        }
      }
      if (!xs.isEmpty()) {
        XYSeries s = chart.addSeries(c.optimizer(), xs, ys);
        s.setMarker(logLoss ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
      }
    }
    if (!logLoss) {
      chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
    }
    return chart;
  }
}
