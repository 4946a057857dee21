package dev.fisheropt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The worker's command line; the training itself is tested in the distributed module. */
class DistributedCompareTest {
  @Test
  void parsesEveryFlag() {
    DistributedCompare.Flags f =
        DistributedCompare.parse(
            "--optimizers",
            "adam,FISMO",
            "--model",
            "mlp",
            "--batch",
            "64",
            "--steps",
            "7",
            "--hidden",
            "32",
            "--seed",
            "3",
            "--data",
            "/tmp/fm",
            "--out",
            "/tmp/o",
            "--sharded-roots");
    assertEquals(List.of(OptimizerChoice.ADAM, OptimizerChoice.FISMO), f.optimizers);
    assertEquals(Model.Architecture.MLP, f.model);
    assertEquals(64, f.batch);
    assertEquals(7, f.steps);
    assertEquals(32, f.hidden);
    assertEquals(3, f.seed);
    assertEquals(Path.of("/tmp/fm"), f.data);
    assertEquals(Path.of("/tmp/o"), f.out);
    assertTrue(f.shardedRoots);
  }

  @Test
  void badFlagsAreNamed() {
    String unknown =
        assertThrows(
                IllegalArgumentException.class,
                () -> DistributedCompare.parse("--train-limit", "5"))
            .getMessage();
    assertTrue(unknown.contains("--train-limit"), unknown);
    String optimizer =
        assertThrows(
                IllegalArgumentException.class,
                () -> DistributedCompare.parse("--optimizers", "sgd"))
            .getMessage();
    assertTrue(optimizer.contains("unknown optimizer 'sgd'"), optimizer);
    assertThrows(IllegalArgumentException.class, () -> DistributedCompare.parse("--batch", "0"));
  }
}
