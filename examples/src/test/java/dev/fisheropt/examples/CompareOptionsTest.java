package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fisheropt.optimizers.Polar;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class CompareOptionsTest {
  private static String error(String... args) {
    return assertThrows(IllegalArgumentException.class, () -> CompareOptions.parse(args))
        .getMessage();
  }

  @Test
  void noArgumentsGiveTheDocumentedDefaults() {
    CompareOptions o = CompareOptions.parse();
    assertEquals(OptimizerChoice.defaults(), o.optimizers());
    assertEquals(Model.Architecture.CNN, o.model());
    assertEquals(CompareOptions.EPOCHS_DEFAULT, o.epochs());
    assertEquals(CompareOptions.BATCH_DEFAULT, o.batchSize());
    assertEquals(FashionMnist.DEBIAN_DIRECTORY, o.data());
    assertEquals(OptimizerChoice.ADAM.defaultLearningRate(), o.learningRate(OptimizerChoice.ADAM));
    assertEquals(OptimizerChoice.Tuning.FISMO_INTERVAL_DEFAULT, o.tuning().fismoInterval());
  }

  @Test
  void languageModelTaskHasItsOwnDefaultsAndFlags() {
    CompareOptions d = CompareOptions.parse("--task", "lm");
    assertEquals(CompareOptions.Task.LM, d.task());
    assertEquals(Fortunes.DEBIAN_DIRECTORY, d.data());
    assertEquals(CompareOptions.LM_VALIDATION_DEFAULT, d.validation());
    assertEquals(CompareOptions.LM_STEPS_DEFAULT, d.steps());
    assertEquals(
        new Gpt.Size(
            CompareOptions.LM_D_MODEL_DEFAULT,
            CompareOptions.LM_LAYERS_DEFAULT,
            CompareOptions.LM_HEADS_DEFAULT,
            CompareOptions.LM_CONTEXT_DEFAULT,
            CompareOptions.LM_BATCH_DEFAULT),
        d.lmSize());
    assertEquals(CompareOptions.Task.FASHION, CompareOptions.parse().task());

    CompareOptions o =
        CompareOptions.parse(
            "--task=lm",
            "--d-model",
            "128",
            "--layers",
            "4",
            "--heads",
            "8",
            "--context",
            "128",
            "--batch",
            "32",
            "--steps",
            "2000",
            "--sample",
            "0",
            "--target",
            "1.7");
    assertEquals(new Gpt.Size(128, 4, 8, 128, 32), o.lmSize());
    assertEquals(2000, o.steps());
    assertEquals(0, o.sampleLength());
    // a target above 1 is a loss, accepted only for the language model
    assertEquals(1.7, o.target());
    assertTrue(error("--target", "1.7").contains("--target must be an accuracy"));
    assertTrue(error("--task", "lm", "--target", "-1").contains("--target must be a positive"));
    assertTrue(error("--task", "lm", "--d-model", "30", "--heads", "4").contains("multiple"));
    assertTrue(error("--task", "lm", "--steps", "0").contains("--steps"));
    assertTrue(error("--task", "chess").contains("expected fashion or lm"));
  }

  @Test
  void flagsSetTheirSettings() {
    CompareOptions o =
        CompareOptions.parse(
            "--optimizers",
            "fismo,adam",
            "--model",
            "mlp",
            "--hidden",
            "64",
            "--epochs",
            "3",
            "--batch",
            "32",
            "--lr",
            "adam=2e-3,fismo=0.01",
            "--fismo-interval",
            "5",
            "--xla",
            "--data",
            "/tmp/fm",
            "--seed",
            "9");
    assertEquals(List.of(OptimizerChoice.FISMO, OptimizerChoice.ADAM), o.optimizers());
    assertEquals(Model.Architecture.MLP, o.model());
    assertEquals(64, o.hidden());
    assertEquals(2e-3, o.learningRate(OptimizerChoice.ADAM));
    assertEquals(0.01, o.learningRate(OptimizerChoice.FISMO));
    assertEquals(OptimizerChoice.MUON.defaultLearningRate(), o.learningRate(OptimizerChoice.MUON));
    assertEquals(5, o.tuning().fismoInterval());
    assertTrue(o.xla());
    assertEquals(Path.of("/tmp/fm"), o.data());
    assertEquals(9, o.seed());
  }

  @Test
  void polarFlagReachesMuonAndFismo() {
    assertEquals(Polar.NEWTON_SCHULZ, CompareOptions.parse().tuning().polar());
    assertEquals(
        Polar.POLAR_EXPRESS, CompareOptions.parse("--polar", "polar-express").tuning().polar());
    assertTrue(error("--polar", "svd").contains("expected newton-schulz or polar-express"));
  }

  @Test
  void adaFisherRefreshFlagsReachTheTuning() {
    OptimizerChoice.Tuning defaults = CompareOptions.parse().tuning();
    assertEquals(OptimizerChoice.Tuning.ADAFISHER_INTERVAL, defaults.adaFisherInterval());
    assertEquals(0.08, defaults.adaFisherEmaOld());
    assertEquals(0.008, defaults.adaFisherEmaNew());
    OptimizerChoice.Tuning t =
        CompareOptions.parse("--adafisher-interval", "100", "--adafisher-ema", "0.92,0.08")
            .tuning();
    assertEquals(100, t.adaFisherInterval());
    assertEquals(0.92, t.adaFisherEmaOld());
    assertEquals(0.08, t.adaFisherEmaNew());
    assertTrue(error("--adafisher-ema", "0.9").contains("--adafisher-ema takes two weights"));
    assertTrue(error("--adafisher-ema", "0.9,1.5").contains("--adafisher-ema takes two weights"));
    assertTrue(error("--adafisher-interval", "0").contains("--adafisher-interval"));
  }

  @Test
  void badArgumentsAreRejectedNamingTheFlag() {
    assertTrue(error("--epoch", "3").contains("Unknown options: '--epoch'"));
    assertTrue(error("--epochs").contains("Missing required parameter for option '--epochs'"));
    assertTrue(
        error("--epochs", "--xla").contains("Expected parameter for option '--epochs' but found"));
    assertTrue(error("--epochs", "two").contains("'two' is not an int"), error("--epochs", "two"));
    assertTrue(error("--batch", "0").contains("--batch must be a positive integer"));
    assertTrue(
        error("--model", "resnet").contains("option '--model': expected cnn or mlp, got 'resnet'"));
    assertTrue(
        error("--optimizers", "adam,sgd")
            .contains(
                "unknown optimizer 'sgd'; choose from adam, momentum, muon, fismo, adafisher,"
                    + " adafisherw, frog"));
    assertTrue(error("--optimizers", ",").contains("names no optimizer"));
    assertTrue(error("--lr", "adam").contains("KEY=VALUE"), error("--lr", "adam"));
    assertTrue(error("--lr", "sgd=0.1").contains("unknown optimizer 'sgd'"));
    assertTrue(error("--lr", "adam=-1").contains("must be positive"));
    assertTrue(
        error("--lr", "adam=fast").contains("'fast' is not a double"), error("--lr", "adam=fast"));
    assertTrue(error("--batch", "256", "--train-limit", "100").contains("smaller than one batch"));
    assertTrue(error("--epochs", "two").endsWith("(try --help)"));
  }

  @Test
  void workersSplitEveryBatchEquallyAndRefuseWhatTheyCannotRun() {
    assertEquals(1, CompareOptions.parse().workers());
    assertEquals(4, CompareOptions.parse("--workers", "4").workers());
    assertTrue(error("--workers", "0").contains("--workers must be a positive integer"));
    String odd = error("--workers", "3");
    assertTrue(
        odd.contains(
            "--batch 128 does not split equally between --workers 3 (42 images each would leave"
                + " 2)"),
        odd);
    assertTrue(error("--workers", "2", "--tune").contains("--tune with --workers"));
    assertTrue(error("--workers", "2", "--xla").contains("--xla with --workers"));
    assertTrue(error("--workers", "2", "--task", "lm").contains("--task lm"));
  }

  @Test
  void shardsDefaultToTheWorkersAndSplitTheBatchAmongThem() {
    assertEquals(1, CompareOptions.parse().shards());
    assertEquals(4, CompareOptions.parse("--workers", "4").shards());
    assertEquals(2, CompareOptions.parse("--shards", "2").shards());
    assertEquals(8, CompareOptions.parse("--workers", "2", "--shards", "8").shards());
    assertTrue(
        error("--workers", "2", "--shards", "3")
            .contains("--shards 3 is not a multiple of --workers 2"));
    assertTrue(
        error("--shards", "3")
            .contains(
                "--batch 128 does not split into --shards 3 equal parts: use a batch that is a"
                    + " multiple of 3"));
    assertTrue(error("--shards", "-1").contains("--shards must be a positive integer"));
    assertTrue(error("--shards", "2", "--task", "lm").contains("--shards: the language-model"));
  }

  @Test
  void protocolFlags() {
    CompareOptions d = CompareOptions.parse();
    assertEquals(CompareOptions.LearningRates.WARMUP_COSINE, d.schedule());
    assertEquals(1, d.seeds());
    assertEquals(CompareOptions.VALIDATION_DEFAULT, d.validation());
    assertTrue(Double.isNaN(d.target()));
    CompareOptions o =
        CompareOptions.parse(
            "--tune",
            "--tune-steps",
            "20",
            "--tune-factors",
            "0.5,2",
            "--seeds",
            "3",
            "--target",
            "0.85",
            "--schedule",
            "constant",
            "--validation",
            "1000");
    assertTrue(o.tune());
    assertEquals(20, o.tuneSteps());
    assertEquals(List.of(0.5, 2.0), o.tuneFactors());
    assertEquals(3, o.seeds());
    assertEquals(0.85, o.target());
    assertEquals(CompareOptions.LearningRates.CONSTANT, o.schedule());
    assertEquals(1000, o.validation());
    assertTrue(error("--seeds", "0").contains("--seeds must be a positive integer"));
    assertTrue(error("--target", "1.5").contains("--target must be an accuracy"));
    assertTrue(error("--tune-factors", "0.5,-1").contains("must be positive"));
    assertTrue(error("--schedule", "step").contains("expected warmup-cosine or constant"));
    assertEquals(
        0.1 * 2e-3, CompareOptions.LearningRates.WARMUP_COSINE.of(2e-3, 100).valueAt(100), 1e-12);
    assertEquals(2e-3, CompareOptions.LearningRates.WARMUP_COSINE.of(2e-3, 100).valueAt(4), 1e-12);
  }

  @Test
  void helpIsAFlagAndTheUsageListsEveryFlagWithItsDefault() {
    assertTrue(CompareOptions.parse("--help").help());
    assertTrue(CompareOptions.parse("-h").help());
    String usage = CompareOptions.usage();
    for (String flag :
        List.of(
            "--optimizers",
            "--model",
            "--hidden",
            "--epochs",
            "--batch",
            "--train-limit",
            "--test-limit",
            "--seed",
            "--lr",
            "--fismo-interval",
            "--eval-every",
            "--xla",
            "--data",
            "--out",
            "--help",
            "--task",
            "--steps",
            "--d-model",
            "--layers",
            "--heads",
            "--context",
            "--sample")) {
      assertTrue(usage.contains(flag), flag + " missing from\n" + usage);
    }
    assertTrue(usage.contains("from: adam,momentum,muon,fismo,adafisher,adafisherw,"), usage);
    assertTrue(usage.contains("adam=" + OptimizerChoice.ADAM.defaultLearningRate()), usage);
    assertTrue(usage.contains("(default: 128; lm: 16)"), usage);
    assertTrue(
        usage.contains("lm: adam=" + LanguageModelCompare.DEFAULT_RATES.get(OptimizerChoice.ADAM)),
        usage);
  }
}
