package dev.fisheropt.ops;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.OpList;

/**
 * The native op library {@code libfisheropt_ops.so} (built from {@code custom-ops-cc/}), loaded
 * into TensorFlow once per JVM.
 *
 * <p>The library ships inside this jar for linux-x86_64. {@link #shared()} copies it to a private
 * temporary directory and registers its ops with {@link TensorFlow#loadLibrary}; on any other
 * platform, or when the resource is missing or TensorFlow rejects it, the library is reported
 * unavailable, one log line (logger {@code dev.fisheropt.ops}) says why, and callers such as {@link
 * FusedPolar} build the equivalent graph ops instead. The jar holds two builds of the library, for
 * AVX-512 and for AVX2+FMA, and the one the CPU supports is loaded (/proc/cpuinfo); a CPU without
 * AVX2 and FMA gets neither. Setting the system property {@value #LIBRARY_PROPERTY} to a file path
 * loads that library instead of the bundled one.
 */
public final class CustomOps {
  /**
   * Where the build puts the library inside the jar: the AVX2+FMA build, which runs on any x86-64
   * CPU with AVX2 and FMA (the one to hand to Python's {@code tf.load_op_library}) ...
   */
  public static final String BUNDLED_RESOURCE =
      "dev/fisheropt/ops/native/linux-x86_64/libfisheropt_ops.so";

  /** ... and the AVX-512 build, chosen where the CPU has AVX-512 F, DQ, VL and BW. */
  public static final String BUNDLED_AVX512_RESOURCE =
      "dev/fisheropt/ops/native/linux-x86_64/libfisheropt_ops_avx512.so";

  /** System property naming a library file to load instead of the bundled one. */
  public static final String LIBRARY_PROPERTY = "fisheropt.ops.library";

  /**
   * The op types the library registers. A graph holding one of them loads only in a TensorFlow
   * runtime that has loaded the library (TF-Java: {@link #shared()}; Python: {@code
   * tf.load_op_library}).
   */
  public static final Set<String> OP_TYPES = Set.of(FusedPolar.OP_TYPE, NativeEigh.OP_TYPE);

  /**
   * OpenBLAS (LAPACK for {@link NativeEigh}), which both builds of the library load from their own
   * directory; it is extracted beside them.
   */
  static final String OPENBLAS_RESOURCE =
      "dev/fisheropt/ops/native/linux-x86_64/libscipy_openblas.so";

  private static final Logger LOG = Logger.getLogger("dev.fisheropt.ops");
  private static CustomOps shared;

  private final String unavailableReason;
  private final Path file;
  private final Set<String> registered;

  private CustomOps(String unavailableReason, Path file, Set<String> registered) {
    this.unavailableReason = unavailableReason;
    this.file = file;
    this.registered = registered;
  }

  /** The library of this JVM, loaded (or found unavailable) on first use. */
  public static synchronized CustomOps shared() {
    if (shared == null) {
      String override = System.getProperty(LIBRARY_PROPERTY);
      if (override != null) {
        shared = loadFile(Path.of(override));
      } else {
        Set<String> flags = cpuFlags();
        boolean avx512 = flags.containsAll(List.of("avx512f", "avx512dq", "avx512vl", "avx512bw"));
        shared = loadResource(avx512 ? BUNDLED_AVX512_RESOURCE : BUNDLED_RESOURCE);
      }
    }
    return shared;
  }

  /**
   * True when the loaded library is the AVX-512 build (its file name says so: the bundled {@code
   * libfisheropt_ops_avx512.so} or a file named like it); false for the AVX2+FMA build or when
   * nothing is loaded.
   */
  public boolean isAvx512Build() {
    return file != null && file.getFileName().toString().contains("avx512");
  }

  /** True when the ops of the library are registered with TensorFlow and can be built. */
  public boolean isLoaded() {
    return unavailableReason == null;
  }

  /**
   * The library file TensorFlow loaded (the copy extracted from the jar, or the file named by
   * {@value #LIBRARY_PROPERTY}), or empty when the library is unavailable. Another TensorFlow 2.18
   * runtime of this machine, such as Python's {@code tf.load_op_library}, can load the same file.
   */
  public Optional<Path> libraryFile() {
    return Optional.ofNullable(file);
  }

  /**
   * The op types TensorFlow reported the loaded library registers; empty when it is unavailable.
   */
  public Set<String> registeredOpTypes() {
    return registered;
  }

  /** Why the library could not be used, or empty when it is loaded. */
  public Optional<String> unavailableReason() {
    return Optional.ofNullable(unavailableReason);
  }

  /**
   * Loads the library stored as class-path resource {@code resource}. Package-private so that tests
   * can point it at a missing resource; everything else goes through {@link #shared()}.
   */
  static CustomOps loadResource(String resource) {
    String platform =
        System.getProperty("os.name", "").toLowerCase(Locale.ROOT)
            + "-"
            + System.getProperty("os.arch", "");
    if (!platform.equals("linux-amd64") && !platform.equals("linux-x86_64")) {
      return unavailable(
          "the fisheropt op library is built for linux-x86_64 only, this JVM runs on " + platform);
    }
    String missingFeatures = missingCpuFeatures();
    if (!missingFeatures.isEmpty()) {
      return unavailable(
          "the fisheropt op library needs a CPU with AVX2 and FMA, this one lacks "
              + missingFeatures);
    }
    try (InputStream in = CustomOps.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        return unavailable(
            "resource " + resource + " is not on the class path (was the native build skipped?)");
      }
      Path dir =
          Files.createTempDirectory(
              "fisheropt-ops-",
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      dir.toFile().deleteOnExit();
      Path file = extract(in, dir, resource);
      try (InputStream blas =
          CustomOps.class.getClassLoader().getResourceAsStream(OPENBLAS_RESOURCE)) {
        if (blas == null) {
          return unavailable(
              "resource " + OPENBLAS_RESOURCE + " is not on the class path beside " + resource);
        }
        extract(blas, dir, OPENBLAS_RESOURCE);
      }
      return loadFile(file);
    } catch (IOException | RuntimeException e) {
      return unavailable("could not extract " + resource + ": " + e);
    }
  }

  private static Path extract(InputStream in, Path dir, String resource) throws IOException {
    Path file = dir.resolve(resource.substring(resource.lastIndexOf('/') + 1));
    Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
    file.toFile().deleteOnExit();
    return file;
  }

  /** Registers the ops of the library file {@code file} with TensorFlow. */
  static CustomOps loadFile(Path file) {
    if (!Files.isRegularFile(file)) {
      return unavailable("library file " + file + " does not exist");
    }
    try {
      Path absolute = file.toAbsolutePath();
      OpList ops = TensorFlow.loadLibrary(absolute.toString());
      Set<String> types = new TreeSet<>();
      ops.getOpList().forEach(op -> types.add(op.getName()));
      return new CustomOps(null, absolute, Collections.unmodifiableSet(types));
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      return unavailable("TensorFlow could not load " + file + ": " + e.getMessage());
    }
  }

  /**
   * The instruction-set extensions both builds of the library need ({@code -mavx2 -mfma}) that
   * /proc/cpuinfo does not list, space-separated; empty when all are there.
   */
  static String missingCpuFeatures() {
    Set<String> flags = cpuFlags();
    if (flags.isEmpty()) {
      return "(unknown: no flags line in /proc/cpuinfo)";
    }
    StringBuilder missing = new StringBuilder();
    for (String feature : new String[] {"avx", "avx2", "fma"}) {
      if (!flags.contains(feature)) {
        missing.append(missing.length() == 0 ? "" : " ").append(feature);
      }
    }
    return missing.toString();
  }

  /**
   * The CPU feature flags of the first processor in /proc/cpuinfo; empty where it is unreadable.
   */
  private static Set<String> cpuFlags() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("flags")) {
          return new HashSet<>(
              Arrays.asList(line.substring(line.indexOf(':') + 1).trim().split("\\s+")));
        }
      }
    } catch (IOException e) {
      LOG.log(Level.FINE, "cannot read /proc/cpuinfo", e);
    }
    return Set.of();
  }

  private static CustomOps unavailable(String reason) {
    LOG.log(
        Level.WARNING, "fisheropt custom ops unavailable, using graph ops instead: {0}", reason);
    return new CustomOps(reason, null, Set.of());
  }
}
