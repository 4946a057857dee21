package dev.fisheropt.examples;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;

/** Writes IDX files for tests: well-formed ones, and a small synthetic Fashion-MNIST. */
final class IdxFiles {
  private IdxFiles() {}

  /** The bytes of an IDX file of unsigned bytes with these dimensions and elements. */
  static byte[] idx(int[] dims, byte[] data) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt((IdxReader.UNSIGNED_BYTE << 8) | dims.length);
      for (int d : dims) {
        out.writeInt(d);
      }
      out.write(data);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    return bytes.toByteArray();
  }

  static Path write(Path file, byte[] content, boolean gzip) throws IOException {
    try (OutputStream out =
        gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file)) {
      out.write(content);
    }
    return file;
  }

  /**
   * A Fashion-MNIST-shaped data set in {@code dir} (gzipped, as Debian ships it) whose classes are
   * learnable: each class lights up its own horizontal band of the image, plus noise.
   */
  static void syntheticFashionMnist(Path dir, int train, int test) throws IOException {
    SplittableRandom random = new SplittableRandom(7);
    writeSplit(dir, "train", train, random);
    writeSplit(dir, "t10k", test, random);
  }

  private static void writeSplit(Path dir, String prefix, int n, SplittableRandom random)
      throws IOException {
    byte[] images = new byte[n * 784];
    byte[] labels = new byte[n];
    for (int i = 0; i < n; i++) {
      int label = random.nextInt(10);
      labels[i] = (byte) label;
      for (int p = 0; p < 784; p++) {
        int row = p / 28;
        int band = row / 3 == label ? 200 : 0;
        images[i * 784 + p] = (byte) Math.min(255, band + random.nextInt(40));
      }
    }
    write(dir.resolve(prefix + "-images-idx3-ubyte.gz"), idx(new int[] {n, 28, 28}, images), true);
    write(dir.resolve(prefix + "-labels-idx1-ubyte.gz"), idx(new int[] {n}, labels), true);
  }
}
