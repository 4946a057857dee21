package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code compare --task lm} end to end on a tiny corpus the test writes: every optimizer lowers the
 * validation loss at least 0.3 nats below the uniform model's (where the small initial weights
 * start) in 40 steps, and every output is written.
 */
class LanguageModelCompareTest {
  @TempDir static Path dir;

  static List<LanguageModelCompare.Result> results;
  static String printed;
  static Fortunes.Corpus corpus;

  /** Short sentences from a few words: a byte-level model learns their spelling quickly. */
  static void writeCorpus(Path data, int files) throws IOException {
    Files.createDirectories(data);
    String[] words = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"};
    Random random = new Random(5);
    for (int f = 0; f < files; f++) {
      StringBuilder text = new StringBuilder();
      while (text.length() < 6000) {
        int n = 3 + random.nextInt(5);
        for (int w = 0; w < n; w++) {
          text.append(w == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
        }
        text.append(".\n%\n");
      }
      Files.writeString(data.resolve("file" + f), text, StandardCharsets.US_ASCII);
    }
  }

  @BeforeAll
  static void run() throws IOException {
    Path data = dir.resolve("data");
    writeCorpus(data, 2);
    corpus = Fortunes.load(data);
    ByteArrayOutputStream text = new ByteArrayOutputStream();
    CompareOptions options =
        CompareOptions.parse(
            "--task",
            "lm",
            "--optimizers",
            "adam,muon,fismo,adafisher,adafisherw,frog",
            "--data",
            data.toString(),
            "--out",
            dir.resolve("out").toString(),
            "--steps",
            "40",
            "--d-model",
            "16",
            "--layers",
            "1",
            "--heads",
            "2",
            "--context",
            "16",
            "--batch",
            "8",
            "--validation",
            "16",
            "--eval-every",
            "20",
            "--sample",
            "30",
            "--lr",
            "adam=1e-2,adafisher=3e-3,adafisherw=3e-3,frog=0.1,muon=0.05,fismo=0.05");
    LanguageModelCompare compare =
        new LanguageModelCompare(options, new PrintStream(text, true, StandardCharsets.UTF_8));
    results = compare.run(corpus);
    printed = text.toString(StandardCharsets.UTF_8);
  }

  @Test
  void everyOptimizerLowersTheValidationLoss() {
    assertEquals(6, results.size());
    double uniform = Math.log(corpus.vocabularySize());
    for (LanguageModelCompare.Result r : results) {
      assertEquals(40, r.steps());
      assertTrue(
          r.validationLoss() < uniform - 0.3,
          r.choice() + ": validation loss " + r.validationLoss() + ", uniform " + uniform);
      // two evaluations, at steps 20 and 40
      assertEquals(
          2, r.curve().points().stream().filter(p -> !Double.isNaN(p.validation())).count());
      assertTrue(r.stateBytes() > 0);
      assertEquals(30, r.sample().getBytes(StandardCharsets.UTF_8).length, r.sample());
    }
  }

  @Test
  void writesEveryOutput() throws IOException {
    Path out = dir.resolve("out");
    for (String f : List.of("curves.csv", "compare.png", "summary.md", "samples.md")) {
      assertTrue(Files.size(out.resolve(f)) > 0, f);
    }
    List<String> csv = Files.readAllLines(out.resolve("curves.csv"));
    assertEquals(
        "optimizer,seed,step,seconds,train_loss,validation_loss,validation_bpc", csv.get(0));
    assertEquals(1 + 6 * 4, csv.size());
    for (String name : List.of("adam", "muon", "fismo", "adafisher", "adafisherw", "frog")) {
      try (var events = Files.list(out.resolve("tensorboard").resolve(name))) {
        assertEquals(1, events.count(), name);
      }
    }
    assertTrue(printed.contains("ktok/s"), printed);
    assertTrue(printed.contains("| AdaFisherW"), printed);
    assertTrue(Files.readString(out.resolve("samples.md")).contains("### FROG (seed 1"));
  }

  @Test
  void batchesDependOnSeedAndStepOnly() {
    Gpt.Size size = new Gpt.Size(16, 1, 2, 16, 8);
    int[][] a = LanguageModelCompare.batch(corpus.train(), 3, 17, size);
    int[][] b = LanguageModelCompare.batch(corpus.train(), 3, 17, size);
    assertArrayEquals(a[0], b[0]);
    assertArrayEquals(a[1], b[1]);
    for (int i = 0; i < 8; i++) {
      // targets are the inputs shifted by one byte
      for (int t = 0; t + 1 < 16; t++) {
        assertEquals(a[0][i * 16 + t + 1], a[1][i * 16 + t]);
      }
    }
    assertFalse(
        java.util.Arrays.equals(a[0], LanguageModelCompare.batch(corpus.train(), 3, 18, size)[0]));
  }
}
