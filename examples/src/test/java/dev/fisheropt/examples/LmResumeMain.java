package dev.fisheropt.examples;

import dev.fisheropt.savedmodel.TrainingBundle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.Tensor;
import org.tensorflow.types.TInt32;

/**
 * What a fresh JVM does to resume the language model: load the export, rebuild the batches of steps
 * {@code first … first+steps−1} from the corpus (they depend on seed and step only), run the {@code
 * train} signature on each, and dump every variable.
 *
 * <p>Arguments: {@code exportDir corpusDir seed first steps dumpFile d layers heads context batch}.
 */
public final class LmResumeMain {
  private LmResumeMain() {}

  public static void main(String[] args) throws Exception {
    Fortunes.Corpus corpus = Fortunes.load(Path.of(args[1]));
    long seed = Long.parseLong(args[2]);
    int first = Integer.parseInt(args[3]);
    int steps = Integer.parseInt(args[4]);
    Gpt.Size size =
        new Gpt.Size(
            Integer.parseInt(args[6]),
            Integer.parseInt(args[7]),
            Integer.parseInt(args[8]),
            Integer.parseInt(args[9]),
            Integer.parseInt(args[10]));
    try (TrainingBundle model = TrainingBundle.load(Path.of(args[0]))) {
      for (int s = first; s < first + steps; s++) {
        int[][] b = LanguageModelCompare.batch(corpus.train(), seed, s, size);
        try (TInt32 x = LanguageModelCompare.tokens(b[0], size.batch(), size.context());
            TInt32 y = LanguageModelCompare.tokens(b[1], size.batch(), size.context());
            Result r = model.train(Map.<String, Tensor>of("inputs", x, "targets", y))) {
          System.out.println("step " + s + " done");
        }
      }
      StringBuilder dump = new StringBuilder();
      for (String name : model.variableNames()) {
        try (Tensor t = model.variable(name)) {
          dump.append(name).append(' ').append(LmCheckpointTest.hex(t)).append('\n');
        }
      }
      Files.writeString(Path.of(args[5]), dump);
    }
  }
}
