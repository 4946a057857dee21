package dev.fisheropt.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

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
   * ids.
   */
  public record Split(byte[] images, byte[] labels, int count) {
    /** The first {@code n} examples (all when n ≥ count). */
    public Split head(int n) {
      if (n >= count) {
        return this;
      }
      return new Split(Arrays.copyOf(images, n * PIXELS), Arrays.copyOf(labels, n), n);
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
