package dev.fisheropt.savedmodel;

import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.Tensor;

/**
 * What a fresh JVM does to resume training from an export, with no optimizer object and no code of
 * the model: load the SavedModel, run the {@code train} signature on batches {@code first …
 * first+steps−1}, dump every variable, and export again.
 *
 * <p>Arguments: {@code exportDir first steps dumpFile reExportDir}.
 */
public final class ResumeMain {
  private ResumeMain() {}

  public static void main(String[] args) throws Exception {
    Path exportDir = Path.of(args[0]);
    int first = Integer.parseInt(args[1]);
    int steps = Integer.parseInt(args[2]);
    try (TrainingBundle model = TrainingBundle.load(exportDir)) {
      for (int i = first; i < first + steps; i++) {
        Map<String, Tensor> feeds = TrainingProblem.trainFeeds(i);
        try (Result r = model.train(feeds)) {
          System.out.println(
              "step " + i + " loss " + r.get(0).asRawTensor().data().asFloats().getFloat(0));
        } finally {
          feeds.values().forEach(Tensor::close);
        }
      }
      VariableDump.of(model.session()).write(Path.of(args[3]));
      model.export(Path.of(args[4]), false);
    }
  }
}
