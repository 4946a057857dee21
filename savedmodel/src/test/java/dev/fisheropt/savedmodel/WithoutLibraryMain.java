package dev.fisheropt.savedmodel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.types.TFloat32;

/**
 * A JVM whose TensorFlow never registers the fisheropt ops (started with {@code
 * -Dfisheropt.ops.library=} a missing file): serves an export through its {@code serve} meta graph
 * with plain TF-Java, then tries {@link TrainingBundle#load}.
 *
 * <p>Arguments: {@code exportDir resultFile}. The result file holds the float bits of the {@code
 * logits} for batch 99, one per line, then a line {@code load-failed: <message>} or {@code loaded}.
 */
public final class WithoutLibraryMain {
  private WithoutLibraryMain() {}

  public static void main(String[] args) throws Exception {
    Path exportDir = Path.of(args[0]);
    List<String> lines = new ArrayList<>();
    try (SavedModelBundle serving =
            SavedModelBundle.load(exportDir.toString(), TrainingExport.TAG);
        TFloat32 x = TrainingProblem.features(99);
        Result r = serving.function(TrainingExport.SERVE).call(Map.of(TrainingProblem.X, x))) {
      ((TFloat32) r.get(TrainingProblem.LOGITS).orElseThrow())
          .scalars()
          .forEach(s -> lines.add("" + Float.floatToIntBits(s.getFloat())));
    }
    try (TrainingBundle model = TrainingBundle.load(exportDir)) {
      lines.add("loaded");
    } catch (IOException e) {
      lines.add("load-failed: " + e.getMessage().replace('\n', ' '));
    }
    Files.write(Path.of(args[1]), lines);
  }
}
