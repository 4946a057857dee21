package dev.fisheropt.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fashion-MNIST (Xiao, Rasul, Vollgraf, 2017): 60,000 training and 10,000 test images of 28×28
 * grey-scale clothing in 10 classes, read from the four IDX files Debian's {@code
 * dataset-fashion-mnist} package installs in {@link #DEBIAN_DIRECTORY} (gzipped there; plain files
 * are read too).
 */
public final class FashionMnist {
  /** Where {@code apt-get install dataset-fashion-mnist} puts the files. */
  public static final Path DEBIAN_DIRECTORY = Path.of("/usr/share/datasets/fashion-mnist");

  public static final String PACKAGE = "dataset-fashion-mnist";
  public static final int HEIGHT = 28;
  public static final int WIDTH = 28;
  public static final int PIXELS = HEIGHT * WIDTH;
  public static final int CLASSES = 10;

  /** Class names in label order. */
  public static final String[] CLASS_NAMES = {
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot"
  };

  /**
   * One split: {@code images} holds count×784 unsigned bytes row-major, {@code labels} count class
   * ids. Every read of a label through {@link #label} or {@link #labels} is counted ({@link
   * #labelReads}), and a {@link #sealed} copy throws on any label read: {@code compare} uses both
   * to show that the test labels play no part in choosing anything.
   */
  public static final class Split {
    private final byte[] images;
    private final byte[] labels;
    private final int count;
    private final boolean sealed;
    private final AtomicLong labelReads = new AtomicLong();

    public Split(byte[] images, byte[] labels, int count) {
      this(images, labels, count, false);
    }

    private Split(byte[] images, byte[] labels, int count, boolean sealed) {
      this.images = images;
      this.labels = labels;
      this.count = count;
      this.sealed = sealed;
    }

    public byte[] images() {
      return images;
    }

    public int count() {
      return count;
    }

    /** The class id of example {@code i} (one counted label read). */
    public int label(int i) {
      check(1);
      return labels[i] & 0xff;
    }

    /** A copy of all labels (count label reads). */
    public byte[] labels() {
      check(count);
      return labels.clone();
    }

    /** How many labels have been read so far. */
    public long labelReads() {
      return labelReads.get();
    }

    /** The same images and labels, but any label read throws {@link IllegalStateException}. */
    public Split sealed() {
      return new Split(images, labels, count, true);
    }

    private void check(int reads) {
      if (sealed) {
        throw new IllegalStateException("the labels of this split are sealed");
      }
      labelReads.addAndGet(reads);
    }

    /** The first {@code n} examples (all when n ≥ count). */
    public Split head(int n) {
      if (n >= count) {
        return this;
      }
      return new Split(Arrays.copyOf(images, n * PIXELS), Arrays.copyOf(labels, n), n, sealed);
    }

    /** The examples at {@code indices}, in that order. */
    public Split select(int[] indices) {
      byte[] x = new byte[indices.length * PIXELS];
      byte[] y = new byte[indices.length];
      for (int i = 0; i < indices.length; i++) {
        System.arraycopy(images, indices[i] * PIXELS, x, i * PIXELS, PIXELS);
        y[i] = labels[indices[i]];
      }
      return new Split(x, y, indices.length, sealed);
    }
  }

  public record Data(Split train, Split test) {}

  /** The data set cannot be read; the message says how to get it. */
  public static final class DataException extends IOException {
    public DataException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private FashionMnist() {}

  /** Reads the four files from {@code directory}. */
  public static Data load(Path directory) throws DataException {
    return new Data(split(directory, "train"), split(directory, "t10k"));
  }

  private static Split split(Path directory, String prefix) throws DataException {
    Path imageFile = locate(directory, prefix + "-images-idx3-ubyte");
    Path labelFile = locate(directory, prefix + "-labels-idx1-ubyte");
    IdxReader.IdxArray images;
    IdxReader.IdxArray labels;
    try {
      images = IdxReader.read(imageFile);
      labels = IdxReader.read(labelFile);
    } catch (IOException e) {
      throw new DataException("cannot read Fashion-MNIST: " + e.getMessage() + hint(directory), e);
    }
    int[] d = images.dimensions();
    if (d.length != 3 || d[1] != HEIGHT || d[2] != WIDTH) {
      throw new DataException(
          imageFile
              + ": expected images of shape [n, 28, 28], got "
              + Arrays.toString(d)
              + hint(directory),
          null);
    }
    if (labels.dimensions().length != 1 || labels.dimensions()[0] != d[0]) {
      throw new DataException(
          labelFile
              + ": expected "
              + d[0]
              + " labels (one per image), got shape "
              + Arrays.toString(labels.dimensions())
              + hint(directory),
          null);
    }
    byte[] y = labels.data();
    for (int i = 0; i < y.length; i++) {
      if ((y[i] & 0xff) >= CLASSES) {
        throw new DataException(
            labelFile
                + ": label "
                + (y[i] & 0xff)
                + " at index "
                + i
                + " is not a class id 0–9"
                + hint(directory),
            null);
      }
    }
    return new Split(images.data(), y, d[0]);
  }

  private static Path locate(Path directory, String stem) throws DataException {
    for (String name : new String[] {stem + ".gz", stem}) {
      Path p = directory.resolve(name);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    throw new DataException(
        "Fashion-MNIST file " + stem + "(.gz) not found in " + directory + hint(directory), null);
  }

  private static String hint(Path directory) {
    return directory.toAbsolutePath().normalize().equals(DEBIAN_DIRECTORY)
        ? ". Install Debian's "
            + PACKAGE
            + " package (apt-get update && apt-get install -y "
            + PACKAGE
            + "), or pass --data DIR"
        : ". Pass --data DIR with the four Fashion-MNIST IDX files, or install Debian's "
            + PACKAGE
            + " package (apt-get install -y "
            + PACKAGE
            + ") and omit --data";
  }
}
