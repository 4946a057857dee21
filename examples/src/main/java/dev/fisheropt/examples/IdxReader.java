package dev.fisheropt.examples;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files, the format of MNIST and Fashion-MNIST (plain or gzip-compressed).
 *
 * <p>An IDX file is a big-endian header — two zero bytes, a type code, the number of dimensions d —
 * then d 32-bit sizes, then the elements in row-major order. Only unsigned bytes (type 0x08), the
 * type of the image and label files, are read; anything else is rejected with an {@link
 * IdxFormatException} that names the file, as is a file whose length does not match its header.
 */
public final class IdxReader {
  /** Type code of unsigned bytes. */
  public static final int UNSIGNED_BYTE = 0x08;

  private static final int MAX_DIMENSIONS = 4;

  private IdxReader() {}

  /** A decoded IDX array of unsigned bytes. */
  public record IdxArray(int[] dimensions, byte[] data) {
    /** The number of elements, the product of the dimensions. */
    public int size() {
      return data.length;
    }
  }

  /** The file is not a well-formed IDX file of unsigned bytes. */
  public static final class IdxFormatException extends IOException {
    public IdxFormatException(Path file, String problem) {
      super(file + ": " + problem);
    }
  }

  /** Reads {@code file}, gunzipping it when it starts with the gzip magic bytes. */
  public static IdxArray read(Path file) throws IOException {
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(file))) {
      raw.mark(2);
      int b0 = raw.read();
      int b1 = raw.read();
      raw.reset();
      boolean gzip = b0 == 0x1f && b1 == 0x8b;
      try (InputStream in =
          gzip ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16)) : raw) {
        return read(file, in);
      } catch (ZipException e) {
        throw new IdxFormatException(file, "corrupt gzip data (" + e.getMessage() + ")");
      }
    }
  }

  private static IdxArray read(Path file, InputStream stream) throws IOException {
    DataInputStream in = new DataInputStream(stream);
    int magic;
    try {
      magic = in.readInt();
    } catch (EOFException e) {
      throw new IdxFormatException(file, "shorter than the 4-byte IDX magic number");
    }
    if ((magic >>> 16) != 0) {
      throw new IdxFormatException(
          file,
          String.format("bad magic number 0x%08x: an IDX file starts with two zero bytes", magic));
    }
    int type = (magic >>> 8) & 0xff;
    int rank = magic & 0xff;
    if (type != UNSIGNED_BYTE) {
      throw new IdxFormatException(
          file,
          String.format("element type 0x%02x is not supported (only unsigned bytes, 0x08)", type));
    }
    if (rank < 1 || rank > MAX_DIMENSIONS) {
      throw new IdxFormatException(
          file, "has " + rank + " dimensions; expected 1 to " + MAX_DIMENSIONS);
    }
    int[] dims = new int[rank];
    long size = 1;
    for (int i = 0; i < rank; i++) {
      try {
        dims[i] = in.readInt();
      } catch (EOFException e) {
        throw new IdxFormatException(
            file, "header ends after " + i + " of " + rank + " dimension sizes");
      }
      if (dims[i] < 0) {
        throw new IdxFormatException(file, "dimension " + i + " has negative size " + dims[i]);
      }
      size *= dims[i];
    }
    if (size > Integer.MAX_VALUE - 8) {
      throw new IdxFormatException(file, "holds " + size + " elements, more than one array can");
    }
    byte[] data = new byte[(int) size];
    int read = in.readNBytes(data, 0, data.length);
    if (read < data.length) {
      throw new IdxFormatException(
          file, "header promises " + size + " elements but the file holds " + read);
    }
    if (in.read() != -1) {
      throw new IdxFormatException(
          file, "has bytes after the " + size + " elements its header declares");
    }
    return new IdxArray(dims, data);
  }
}
