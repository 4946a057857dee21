package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.Event;
import org.tensorflow.proto.Summary;

/**
 * Runs {@code compare} end to end on a small synthetic Fashion-MNIST-shaped set (two optimizers,
 * the CNN, 32 steps) and checks that every output is well-formed.
 */
class CompareSmokeTest {
  @TempDir static Path dir;

  static List<Compare.Result> results;
  static String printed;

  @BeforeAll
  static void run() throws IOException {
    Path data = Files.createDirectories(dir.resolve("data"));
    IdxFiles.syntheticFashionMnist(data, 512, 200);
    ByteArrayOutputStream text = new ByteArrayOutputStream();
    CompareOptions options =
        CompareOptions.parse(
            "--optimizers",
            "adam,fismo",
            "--data",
            data.toString(),
            "--out",
            dir.resolve("out").toString(),
            "--batch",
            "32",
            "--epochs",
            "2",
            "--eval-every",
            "8",
            "--fismo-interval",
            "3",
            "--validation",
            "64");
    results = new Compare(options, new PrintStream(text, true, StandardCharsets.UTF_8)).run();
    printed = text.toString(StandardCharsets.UTF_8);
  }

  @Test
  void trainsEachOptimizerOnTheSameStepsAndPrintsTheTable() {
    assertEquals(2, results.size());
    for (Compare.Result r : results) {
      // 512 − 64 held out = 448 training images: 14 batches of 32 per epoch
      assertEquals(28, r.steps());
      assertTrue(
          r.testAccuracy() > 0.5,
          r.choice() + " should learn the synthetic bands, got " + r.testAccuracy());
      assertTrue(r.stateBytes() > 0);
    }
    assertTrue(printed.contains("| Adam "), printed);
    assertTrue(printed.contains("| FISMO "), printed);
    assertTrue(printed.contains("epoch 2/2 100% ["), printed);
    assertTrue(printed.contains("] 14/14 steps"), printed);
    assertTrue(printed.contains("448 training, 64 validation, 200 test images"), printed);
  }

  @Test
  void stateMemoryCountsSlotsAndHyperparameters() {
    Compare.Result adam = results.get(0);
    // Adam keeps m and v (float32) for every parameter, plus 3 float64 hyperparameters (β₁, β₂, ε:
    // under the default warmup-cosine schedule the rate is computed from the step, not stored).
    assertEquals(2 * 4 * adam.parameters() + 3 * 8, adam.stateBytes());
  }

  @Test
  void csvHasOneRowPerLoggedPointWithAccuracyAtEvaluations() throws IOException {
    List<String> lines = Files.readAllLines(dir.resolve("out/curves.csv"));
    assertEquals("optimizer,seed,step,seconds,train_loss,validation_accuracy", lines.get(0));
    Map<String, List<String[]>> byOptimizer = new HashMap<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",", -1);
      assertEquals(6, cells.length, line);
      byOptimizer.computeIfAbsent(cells[0], k -> new ArrayList<>()).add(cells);
    }
    assertEquals(List.of("adam", "fismo"), byOptimizer.keySet().stream().sorted().toList());
    for (List<String[]> rows : byOptimizer.values()) {
      // logged every 10 steps and at every evaluation (8, 16, 24, 28): 8, 10, 16, 20, 24, 28
      assertEquals(
          List.of(8L, 10L, 16L, 20L, 24L, 28L),
          rows.stream().map(r -> Long.parseLong(r[2])).toList());
      double previousSeconds = 0;
      for (String[] r : rows) {
        double seconds = Double.parseDouble(r[3]);
        assertTrue(seconds > previousSeconds);
        previousSeconds = seconds;
        assertTrue(Double.parseDouble(r[4]) > 0);
        boolean evaluated = Long.parseLong(r[2]) % 8 == 0 || Long.parseLong(r[2]) == 28;
        assertEquals(evaluated, !r[5].isEmpty(), String.join(",", r));
        if (evaluated) {
          double accuracy = Double.parseDouble(r[5]);
          assertTrue(accuracy >= 0 && accuracy <= 1);
        }
      }
    }
  }

  @Test
  void pngIsAReadableTwoByTwoGridOfCharts() throws IOException {
    BufferedImage image = ImageIO.read(dir.resolve("out/compare.png").toFile());
    assertNotNull(image, "compare.png must decode as an image");
    assertEquals(2 * 640, image.getWidth());
    assertEquals(2 * 420, image.getHeight());
    long distinct =
        new HashSet<Integer>() {
          {
            for (int y = 0; y < image.getHeight(); y += 7) {
              for (int x = 0; x < image.getWidth(); x += 7) {
                add(image.getRGB(x, y));
              }
            }
          }
        }.size();
    assertTrue(distinct > 10, "the plot should have lines and text, not a blank canvas");
  }

  @Test
  void tensorBoardEventFilesAreValidRecordsWithTheScalars() throws IOException {
    for (String optimizer : List.of("adam", "fismo")) {
      Path logDir = dir.resolve("out/tensorboard").resolve(optimizer);
      List<Path> files;
      try (var list = Files.list(logDir)) {
        files =
            list.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents")).toList();
      }
      assertEquals(1, files.size(), "one event file per optimizer");
      List<Event> events = readRecords(files.get(0));
      assertFalse(events.isEmpty());
      assertTrue(
          events.get(0).getFileVersion().startsWith("brain.Event:"), events.get(0).toString());
      Map<String, List<Long>> stepsByTag = new HashMap<>();
      for (Event e : events.subList(1, events.size())) {
        for (Summary.Value v : e.getSummary().getValueList()) {
          float value = v.hasTensor() ? v.getTensor().getFloatVal(0) : v.getSimpleValue();
          assertTrue(Float.isFinite(value), v.toString());
          stepsByTag.computeIfAbsent(v.getTag(), k -> new ArrayList<>()).add(e.getStep());
        }
      }
      assertEquals(List.of(8L, 16L, 24L, 28L), stepsByTag.get("validation/accuracy"));
      assertEquals(List.of(8L, 16L, 24L, 28L), stepsByTag.get("validation/loss"));
      assertEquals(List.of(8L, 10L, 16L, 20L, 24L, 28L), stepsByTag.get("train/loss"));
    }
  }

  /** TFRecord framing: length (u64), masked CRC32C of it, payload, masked CRC32C of the payload. */
  private static List<Event> readRecords(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    List<Event> events = new ArrayList<>();
    while (b.hasRemaining()) {
      byte[] header = new byte[8];
      b.get(header);
      int headerCrc = b.getInt();
      assertEquals(maskedCrc(header), headerCrc, "length CRC of record " + events.size());
      long length = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getLong();
      byte[] payload = new byte[(int) length];
      b.get(payload);
      assertEquals(maskedCrc(payload), b.getInt(), "payload CRC of record " + events.size());
      events.add(Event.parseFrom(payload));
    }
    return events;
  }

  private static int maskedCrc(byte[] bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes);
    int c = (int) crc.getValue();
    return ((c >>> 15) | (c << 17)) + 0xa282ead8;
  }
}
