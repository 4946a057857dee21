package dev.fisheropt.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;

/** What the tests of the native ops need from the build. */
final class NativeLibrary {
  private NativeLibrary() {}

  /**
   * The default build packs the library, so it must load; only a build run with
   * -Dfisheropt.native.skip=true (which surefire passes on) may lack it, and then a comparison with
   * the graph ops would compare them with themselves, so the tests are reported as aborted rather
   * than passed.
   */
  static void requireUnlessSkipped() {
    if (Boolean.getBoolean("fisheropt.native.skip")) {
      Assumptions.abort("native build skipped (-Dfisheropt.native.skip=true)");
    }
    assertTrue(
        CustomOps.shared().isLoaded(),
        () ->
            "libfisheropt_ops.so did not load: "
                + CustomOps.shared().unavailableReason().orElse(""));
  }
}
