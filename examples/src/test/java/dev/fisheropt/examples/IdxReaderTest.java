package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {
  @TempDir Path dir;

  private final byte[] elements = {0, 1, 2, (byte) 200, (byte) 255, 7};

  @Test
  void readsDimensionsAndUnsignedBytesOfAPlainFile() throws IOException {
    Path file =
        IdxFiles.write(
            dir.resolve("a-idx3-ubyte"), IdxFiles.idx(new int[] {1, 2, 3}, elements), false);
    IdxReader.IdxArray array = IdxReader.read(file);
    assertArrayEquals(new int[] {1, 2, 3}, array.dimensions());
    assertArrayEquals(elements, array.data());
    assertEquals(255, array.data()[4] & 0xff);
  }

  @Test
  void readsGzippedFilesByTheirContentNotTheirName() throws IOException {
    Path file =
        IdxFiles.write(
            dir.resolve("labels-without-extension"), IdxFiles.idx(new int[] {6}, elements), true);
    IdxReader.IdxArray array = IdxReader.read(file);
    assertArrayEquals(new int[] {6}, array.dimensions());
    assertArrayEquals(elements, array.data());
  }

  @Test
  void rejectsABadMagicNumberNamingTheFile() throws IOException {
    byte[] content = IdxFiles.idx(new int[] {6}, elements);
    content[0] = 0x12;
    Path file = IdxFiles.write(dir.resolve("bad-magic"), content, false);
    IdxReader.IdxFormatException e =
        assertThrows(IdxReader.IdxFormatException.class, () -> IdxReader.read(file));
    assertTrue(
        e.getMessage().contains("bad-magic") && e.getMessage().contains("magic"), e.getMessage());
  }

  @Test
  void rejectsElementTypesOtherThanUnsignedBytes() throws IOException {
    byte[] content = IdxFiles.idx(new int[] {6}, elements);
    content[2] = 0x0D;
    Path file = IdxFiles.write(dir.resolve("floats"), content, false);
    IdxReader.IdxFormatException e =
        assertThrows(IdxReader.IdxFormatException.class, () -> IdxReader.read(file));
    assertTrue(e.getMessage().contains("0x0d"), e.getMessage());
  }

  @Test
  void rejectsAFileShorterThanItsHeaderSays() throws IOException {
    byte[] content = IdxFiles.idx(new int[] {2, 3}, elements);
    Path file =
        IdxFiles.write(
            dir.resolve("truncated.gz"), Arrays.copyOf(content, content.length - 2), true);
    IdxReader.IdxFormatException e =
        assertThrows(IdxReader.IdxFormatException.class, () -> IdxReader.read(file));
    assertTrue(e.getMessage().contains("promises 6 elements but the file holds 4"), e.getMessage());
  }

  @Test
  void rejectsTrailingBytes() throws IOException {
    byte[] content = IdxFiles.idx(new int[] {5}, elements);
    Path file = IdxFiles.write(dir.resolve("long"), content, false);
    IdxReader.IdxFormatException e =
        assertThrows(IdxReader.IdxFormatException.class, () -> IdxReader.read(file));
    assertTrue(e.getMessage().contains("bytes after the 5 elements"), e.getMessage());
  }

  @Test
  void rejectsATruncatedHeaderAndCorruptGzip() throws IOException {
    byte[] content = IdxFiles.idx(new int[] {2, 3}, elements);
    Path header = IdxFiles.write(dir.resolve("header"), Arrays.copyOf(content, 6), false);
    assertThrows(IdxReader.IdxFormatException.class, () -> IdxReader.read(header));
    byte[] gz = Files.readAllBytes(IdxFiles.write(dir.resolve("x.gz"), content, true));
    for (int i = 12; i < gz.length - 8; i++) {
      gz[i] ^= 0x5a;
    }
    Path corrupt = Files.write(dir.resolve("corrupt.gz"), gz);
    assertThrows(IdxReader.IdxFormatException.class, () -> IdxReader.read(corrupt));
  }
}
