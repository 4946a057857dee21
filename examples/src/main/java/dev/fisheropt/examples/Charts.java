package dev.fisheropt.examples;

import java.awt.Color;
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
 * The comparison plot: training loss and the validation metric (accuracy, or loss for the language
 * model) against steps and against seconds, one line per optimizer.
 */
public final class Charts {
  private static final int WIDTH = 640;
  private static final int HEIGHT = 420;
  private static final Color[] PALETTE = {
    new Color(0x1f77b4),
    new Color(0xff7f0e),
    new Color(0x2ca02c),
    new Color(0xd62728),
    new Color(0x9467bd),
    new Color(0x8c564b),
    new Color(0xe377c2),
  };

  private Charts() {}

  /**
   * Writes a 2×2 grid of charts to {@code png}; with {@code stds} (same order as {@code curves})
   * each line gets a band of ± one standard deviation.
   */
  public static void write(List<Curve> curves, List<Curve> stds, String title, Path png)
      throws IOException {
    write(curves, stds, title, "validation accuracy", "accuracy", false, png);
  }

  /**
   * As {@link #write(List, List, String, Path)}, the lower charts showing the validation metric
   * {@code metric} (axis {@code unit}); {@code metricIsLoss}: drawn as the training loss is (lines
   * without markers, a logarithmic axis where the values span a decade).
   */
  public static void write(
      List<Curve> curves,
      List<Curve> stds,
      String title,
      String metric,
      String unit,
      boolean metricIsLoss,
      Path png)
      throws IOException {
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
            true,
            stds));
    charts.add(
        chart(
            curves,
            title + ": training loss",
            "seconds",
            "loss",
            Curve.Point::seconds,
            Curve.Point::trainLoss,
            true,
            stds));
    charts.add(
        chart(
            curves,
            title + ": " + metric,
            "step",
            unit,
            Curve.Point::step,
            Curve.Point::validation,
            metricIsLoss,
            stds));
    charts.add(
        chart(
            curves,
            title + ": " + metric,
            "seconds",
            unit,
            Curve.Point::seconds,
            Curve.Point::validation,
            metricIsLoss,
            stds));
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
      boolean loss,
      List<Curve> stds) {
    // a logarithmic axis only where the losses span a decade: within one, it shows no labels
    double smallest = Double.POSITIVE_INFINITY;
    double largest = 0;
    for (Curve c : curves) {
      for (Curve.Point p : c.points()) {
        double v = fy.applyAsDouble(p);
        if (Double.isFinite(v) && v > 0) {
          smallest = Math.min(smallest, v);
          largest = Math.max(largest, v);
        }
      }
    }
    boolean logLoss = loss && largest >= 10 * smallest;
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
    for (int k = 0; k < curves.size(); k++) {
      Curve c = curves.get(k);
      // one colour per optimizer for its line and its band (xchart would give the band its own)
      Color color = PALETTE[k % PALETTE.length];
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      List<Double> band = new ArrayList<>();
      List<Curve.Point> sd = stds == null ? null : stds.get(k).points();
      for (int i = 0; i < c.points().size(); i++) {
        Curve.Point p = c.points().get(i);
        double v = fy.applyAsDouble(p);
        if (Double.isFinite(v) && (!logLoss || v > 0)) {
          xs.add(fx.applyAsDouble(p));
          ys.add(v);
          band.add(sd == null ? 0 : fy.applyAsDouble(sd.get(i)));
        }
      }
      if (sd != null && !xs.isEmpty()) {
        // The band: the polygon mean + std forward, mean − std back; on a log axis the lower edge
        // stops at half the mean, since a band reaching zero cannot be drawn there.
        List<Double> px = new ArrayList<>(xs);
        List<Double> py = new ArrayList<>();
        for (int i = 0; i < xs.size(); i++) {
          py.add(ys.get(i) + band.get(i));
        }
        for (int i = xs.size() - 1; i >= 0; i--) {
          px.add(xs.get(i));
          double low = ys.get(i) - band.get(i);
          py.add(logLoss ? Math.max(low, ys.get(i) * 0.5) : low);
        }
        XYSeries area = chart.addSeries(c.optimizer() + " ± std", px, py);
        area.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.PolygonArea);
        area.setMarker(SeriesMarkers.NONE);
        area.setShowInLegend(false);
        Color translucent = new Color(color.getRed(), color.getGreen(), color.getBlue(), 60);
        area.setFillColor(translucent);
        area.setLineColor(translucent);
      }
      if (!xs.isEmpty()) {
        XYSeries s = chart.addSeries(c.optimizer(), xs, ys);
        s.setMarker(loss ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        s.setLineColor(color);
        s.setMarkerColor(color);
      }
    }
    if (!loss) {
      chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
    }
    return chart;
  }
}
