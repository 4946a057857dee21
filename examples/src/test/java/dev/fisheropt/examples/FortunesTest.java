package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FortunesTest {
  @TempDir Path dir;

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  @Test
  void readsTextFilesInNameOrderSkippingIndexFilesAndLinks() throws IOException {
    Files.write(dir.resolve("b"), ascii("0123456789"));
    Files.write(dir.resolve("a"), ascii("abcdefghijklmnopqrst"));
    // strfile's index and the package's name.u8 links must not be read
    Files.write(dir.resolve("a.dat"), new byte[] {0, 1, 2, (byte) 200});
    Files.createSymbolicLink(dir.resolve("a.u8"), dir.resolve("a"));
    Files.createDirectories(dir.resolve("sub"));

    Fortunes.Corpus c = Fortunes.load(dir);

    assertEquals(List.of(dir.resolve("a"), dir.resolve("b")), c.files());
    // the last 10 % of each file is validation: 18 + 9 training bytes, 2 + 1 validation bytes
    assertEquals("abcdefghijklmnopqr012345678", new String(c.decode(c.train()), "US-ASCII"));
    assertEquals("st9", new String(c.decode(c.validation()), "US-ASCII"));
    assertEquals(30, c.vocabularySize());
    assertEquals('0', c.vocabulary()[0]);
    assertEquals('t', c.vocabulary()[29]);
  }

  @Test
  void vocabularyIsTheSortedDistinctBytesOfBothSplits() throws IOException {
    byte[] text = {'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', (byte) 0xc3};
    Files.write(dir.resolve("f"), text);

    Fortunes.Corpus c = Fortunes.load(dir);

    // 0xc3 only occurs in the validation tail, and is still a symbol (unsigned order: after 'b')
    assertArrayEquals(new byte[] {'a', 'b', (byte) 0xc3}, c.vocabulary());
    assertArrayEquals(new int[] {1, 0, 1, 0, 1, 0, 1, 0, 1}, c.train());
    assertArrayEquals(new int[] {2}, c.validation());
    assertArrayEquals(text, c.decode(c.encode(text)));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> c.encode(ascii("abz")));
    assertTrue(e.getMessage().contains("byte 122 at 2"), e.getMessage());
  }

  @Test
  void missingOrEmptyDirectoryNamesThePackage() throws IOException {
    NoSuchFileException missing =
        assertThrows(NoSuchFileException.class, () -> Fortunes.load(dir.resolve("none")));
    assertTrue(missing.getMessage().contains("apt-get install fortunes"), missing.getMessage());
    Files.write(dir.resolve("only.dat"), new byte[] {1, 2, 3});
    NoSuchFileException empty = assertThrows(NoSuchFileException.class, () -> Fortunes.load(dir));
    assertTrue(empty.getMessage().contains("no fortune text"), empty.getMessage());
  }
}
