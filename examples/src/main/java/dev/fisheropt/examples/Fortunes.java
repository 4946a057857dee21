package dev.fisheropt.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * The byte-level corpus of the language-model comparison: the text files of Debian's {@code
 * fortunes} package ({@value #DEBIAN_DIRECTORY}, about 2.6 MB of English).
 *
 * <p>Every regular file of the directory is read, in name order, except the {@code .dat} index
 * files that {@code strfile} writes and symbolic links (the package links {@code name.u8} to {@code
 * name}, so reading links would count those files twice). Each file is split at a fixed place: its
 * first {@link #TRAIN_FRACTION} of bytes go to the training stream, the rest to the validation
 * stream, so validation text is never seen in training and every file is represented in both.
 *
 * <p>Tokens are bytes, numbered by the sorted list of distinct bytes of the whole corpus (both
 * splits: a byte seen only in validation still has an embedding, as character-level models built
 * from the whole text have); about a hundred symbols for the Debian files.
 */
public final class Fortunes {
  /** Where Debian's {@code fortunes} package puts its files. */
  public static final Path DEBIAN_DIRECTORY = Path.of("/usr/share/games/fortunes");

  /** The share of each file's bytes (from its start) that goes to training. */
  public static final double TRAIN_FRACTION = 0.9;

  /**
   * The two streams and their vocabulary.
   *
   * @param vocabulary the distinct bytes of the corpus, ascending (unsigned); token i is byte
   *     vocabulary[i]
   * @param train the training stream, as tokens
   * @param validation the validation stream, as tokens
   * @param files the files read, in order
   */
  public record Corpus(byte[] vocabulary, int[] train, int[] validation, List<Path> files) {
    public int vocabularySize() {
      return vocabulary.length;
    }

    /** The tokens of {@code text} (its bytes); a byte outside the vocabulary throws. */
    public int[] encode(byte[] text) {
      int[] index = new int[256];
      Arrays.fill(index, -1);
      for (int i = 0; i < vocabulary.length; i++) {
        index[vocabulary[i] & 0xff] = i;
      }
      int[] tokens = new int[text.length];
      for (int i = 0; i < text.length; i++) {
        int t = index[text[i] & 0xff];
        if (t < 0) {
          throw new IllegalArgumentException(
              "byte " + (text[i] & 0xff) + " at " + i + " is not in the vocabulary");
        }
        tokens[i] = t;
      }
      return tokens;
    }

    /** The bytes of {@code tokens}. */
    public byte[] decode(int[] tokens) {
      byte[] text = new byte[tokens.length];
      for (int i = 0; i < tokens.length; i++) {
        text[i] = vocabulary[tokens[i]];
      }
      return text;
    }
  }

  private Fortunes() {}

  /**
   * Reads the corpus in {@code dir}.
   *
   * @throws NoSuchFileException if {@code dir} is missing or holds no text file, saying how to
   *     install the package
   */
  public static Corpus load(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new NoSuchFileException(
          dir + " (no fortunes directory; install Debian's package: apt-get install fortunes)");
    }
    List<Path> files;
    try (Stream<Path> list = Files.list(dir)) {
      files =
          list.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
              .filter(p -> !p.getFileName().toString().endsWith(".dat"))
              .sorted()
              .toList();
    }
    List<byte[]> trainParts = new ArrayList<>();
    List<byte[]> validationParts = new ArrayList<>();
    boolean[] present = new boolean[256];
    for (Path f : files) {
      byte[] bytes = Files.readAllBytes(f);
      for (byte b : bytes) {
        present[b & 0xff] = true;
      }
      int cut = (int) Math.floor(TRAIN_FRACTION * bytes.length);
      trainParts.add(Arrays.copyOf(bytes, cut));
      validationParts.add(Arrays.copyOfRange(bytes, cut, bytes.length));
    }
    int distinct = 0;
    for (boolean p : present) {
      distinct += p ? 1 : 0;
    }
    if (distinct == 0) {
      throw new NoSuchFileException(
          dir + " holds no fortune text (install Debian's package: apt-get install fortunes)");
    }
    byte[] vocabulary = new byte[distinct];
    for (int b = 0, i = 0; b < 256; b++) {
      if (present[b]) {
        vocabulary[i++] = (byte) b;
      }
    }
    Corpus shell = new Corpus(vocabulary, new int[0], new int[0], files);
    return new Corpus(
        vocabulary,
        shell.encode(concat(trainParts)),
        shell.encode(concat(validationParts)),
        List.copyOf(files));
  }

  private static byte[] concat(List<byte[]> parts) {
    int n = parts.stream().mapToInt(p -> p.length).sum();
    byte[] all = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, all, at, p.length);
      at += p.length;
    }
    return all;
  }
}
