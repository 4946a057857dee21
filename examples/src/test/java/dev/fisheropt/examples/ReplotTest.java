package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplotTest {
  @Test
  void readsEveryRunOfTheCsvAndDrawsThePlot(@TempDir Path dir) throws Exception {
    Path csv = dir.resolve("curves.csv");
    Files.write(
        csv,
        List.of(
            "optimizer,seed,step,seconds,train_loss,validation_accuracy",
            "adam,1,10,0.5,2.0,",
            "adam,1,20,1.0,1.0,0.8000",
            "adam,2,10,0.6,2.2,",
            "adam,2,20,1.1,1.2,0.8200",
            "fismo,1,10,0.7,1.9,",
            "fismo,1,20,1.4,0.9,0.8500"));
    Map<String, Map<String, Curve>> runs = Replot.read(csv);
    assertEquals(List.of("adam", "fismo"), List.copyOf(runs.keySet()));
    assertEquals(2, runs.get("adam").size());
    Curve second = runs.get("adam").get("2");
    assertEquals(1.2, second.points().get(1).trainLoss());
    assertTrue(Double.isNaN(second.points().get(0).validation()));
    assertEquals(0.82, second.points().get(1).validation());

    Path png = dir.resolve("plot.png");
    Replot.main(new String[] {csv.toString(), png.toString()});
    assertTrue(Files.size(png) > 1000, "plot written");
  }
}
