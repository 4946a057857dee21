package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
  @TempDir Path dir;

  @Test
  void missingFilesNameTheDebianPackageAndTheDirectory() {
    FashionMnist.DataException e =
        assertThrows(FashionMnist.DataException.class, () -> FashionMnist.load(dir));
    assertTrue(e.getMessage().contains("dataset-fashion-mnist"), e.getMessage());
    assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("train-images-idx3-ubyte"), e.getMessage());
  }

  @Test
  void readsASyntheticSetAndChecksImagesAgainstLabels() throws IOException {
    IdxFiles.syntheticFashionMnist(dir, 30, 20);
    FashionMnist.Data data = FashionMnist.load(dir);
    assertEquals(30, data.train().count());
    assertEquals(20, data.test().count());
    assertEquals(30 * 784, data.train().images().length);
    assertEquals(5, data.train().head(5).count());
  }

  @Test
  void aLabelFileOfTheWrongLengthIsCorruptData() throws IOException {
    IdxFiles.syntheticFashionMnist(dir, 30, 20);
    IdxFiles.write(
        dir.resolve("t10k-labels-idx1-ubyte.gz"), IdxFiles.idx(new int[] {19}, new byte[19]), true);
    FashionMnist.DataException e =
        assertThrows(FashionMnist.DataException.class, () -> FashionMnist.load(dir));
    assertTrue(e.getMessage().contains("expected 20 labels"), e.getMessage());
    assertTrue(e.getMessage().contains("dataset-fashion-mnist"), e.getMessage());
  }

  @Test
  void aLabelOutsideTheTenClassesIsCorruptData() throws IOException {
    IdxFiles.syntheticFashionMnist(dir, 30, 20);
    byte[] labels = new byte[20];
    labels[3] = 10;
    IdxFiles.write(
        dir.resolve("t10k-labels-idx1-ubyte.gz"), IdxFiles.idx(new int[] {20}, labels), true);
    FashionMnist.DataException e =
        assertThrows(FashionMnist.DataException.class, () -> FashionMnist.load(dir));
    assertTrue(e.getMessage().contains("label 10 at index 3"), e.getMessage());
  }

  /** The real files of Debian's package, where it is installed (run-compare.sh installs it). */
  @Test
  void readsTheDebianPackageHeaders() throws IOException {
    assumeTrue(
        Files.isDirectory(FashionMnist.DEBIAN_DIRECTORY), "dataset-fashion-mnist is not installed");
    FashionMnist.Data data = FashionMnist.load(FashionMnist.DEBIAN_DIRECTORY);
    assertEquals(60_000, data.train().count());
    assertEquals(10_000, data.test().count());
    int[] perClass = new int[10];
    for (byte b : data.test().labels()) {
      perClass[b]++;
    }
    for (int c : perClass) {
      assertEquals(1000, c, "the Fashion-MNIST test set has 1000 images of each class");
    }
  }
}
