package dev.fisheropt.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.types.TInt64;

/** What a user sees when an export is damaged, misnamed, or would overwrite another. */
class ExportFailuresTest {
  private static final String DATA = "variables/variables.data-00000-of-00001";

  @TempDir Path tmp;
  private TrainingProblem problem;
  private Path export;

  @BeforeEach
  void trainAndExport() throws IOException {
    problem = new TrainingProblem(OptimizerCase.named("Muon"));
    problem.train(0, 2);
    export = tmp.resolve("export");
    problem.export.export(export, false);
  }

  @AfterEach
  void close() {
    problem.close();
  }

  @Test
  void aTruncatedDataFileFailsTheLoadWithTheDirectoryAndTensorFlowsReason() throws IOException {
    Path data = export.resolve(DATA);
    try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    IOException e = assertThrows(IOException.class, () -> TrainingBundle.load(export));
    assertTrue(e.getMessage().contains(export.toString()), e.getMessage());
    assertTrue(e.getMessage().contains(DATA + "] may be truncated or corrupt"), e.getMessage());
  }

  @Test
  void aTruncatedGraphIsNamedAsTheDamagedFile() throws IOException {
    Path graph = export.resolve("saved_model.pb");
    try (RandomAccessFile f = new RandomAccessFile(graph.toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    IOException e = assertThrows(IOException.class, () -> TrainingBundle.load(export));
    assertTrue(e.getMessage().contains("cannot read " + graph), e.getMessage());
    assertFalse(e.getMessage().contains("variables"), e.getMessage());
  }

  @Test
  void exportingOntoARegularFileSaysAFileIsInTheWay() throws IOException {
    Path file = tmp.resolve("model.bin");
    Files.writeString(file, "not an export");
    for (boolean overwrite : new boolean[] {false, true}) {
      FileAlreadyExistsException e =
          assertThrows(
              FileAlreadyExistsException.class, () -> problem.export.export(file, overwrite));
      assertEquals(file.toString(), e.getFile());
      assertTrue(e.getMessage().contains("a regular file is in the way"), e.getMessage());
      assertFalse(
          e.getMessage().contains("refusing to overwrite an existing export"), e.getMessage());
    }
    assertEquals("not an export", Files.readString(file));
  }

  @Test
  void aMissingDataFileIsNamed() throws IOException {
    Files.delete(export.resolve(DATA));
    NoSuchFileException e =
        assertThrows(NoSuchFileException.class, () -> TrainingBundle.load(export));
    assertEquals(export.resolve(DATA).toString(), e.getFile());
    assertTrue(e.getMessage().contains("no checkpoint data file"), e.getMessage());
  }

  @Test
  void aMissingIndexOrGraphIsNamed() throws IOException {
    Files.delete(export.resolve("variables/variables.index"));
    NoSuchFileException index =
        assertThrows(NoSuchFileException.class, () -> TrainingBundle.load(export));
    assertEquals(export.resolve("variables/variables.index").toString(), index.getFile());
    Files.delete(export.resolve("saved_model.pb"));
    NoSuchFileException graph =
        assertThrows(NoSuchFileException.class, () -> TrainingBundle.load(export));
    assertEquals(export.resolve("saved_model.pb").toString(), graph.getFile());
    assertThrows(
        NoSuchFileException.class, () -> TrainingBundle.load(tmp.resolve("never-exported")));
  }

  @Test
  void aWrongSignatureNameListsTheSignaturesThereAre() throws IOException {
    try (TrainingBundle model = TrainingBundle.load(export)) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> model.function("serving_default"));
      assertEquals(
          "no signature 'serving_default' in the SavedModel at "
              + export
              + "; it has [serve, train]",
          e.getMessage());
      IllegalArgumentException v =
          assertThrows(IllegalArgumentException.class, () -> model.variable("Muon/no_such_thing"));
      assertTrue(v.getMessage().contains("Muon/no_such_thing"), v.getMessage());
    }
  }

  @Test
  void anExistingExportIsReplacedOnlyWhenAskedTo() throws IOException {
    Path stray = export.resolve("notes.txt");
    Files.writeString(stray, "keep me");
    problem.train(2, 3);
    DirectoryNotEmptyException refused =
        assertThrows(DirectoryNotEmptyException.class, () -> problem.export.export(export, false));
    assertTrue(refused.getMessage().contains("overwrite"), refused.getMessage());
    assertTrue(Files.exists(stray), "a refused export touches nothing");
    assertEquals(2, stepOf(export));

    problem.export.export(export, true);
    assertEquals(5, stepOf(export));
    assertFalse(Files.exists(stray), "an overwrite replaces the whole directory");
    try (Stream<Path> siblings = Files.list(tmp)) {
      assertEquals(List.of(export), siblings.toList(), "no staging directory is left behind");
    }
  }

  @Test
  void anEmptyDirectoryIsExportedInto() throws IOException {
    Path empty = Files.createDirectory(tmp.resolve("empty"));
    problem.export.export(empty, false);
    assertEquals(2, stepOf(empty));
  }

  private static long stepOf(Path dir) throws IOException {
    try (TrainingBundle model = TrainingBundle.load(dir);
        TInt64 step = (TInt64) model.variable("Muon/step")) {
      return step.getLong();
    }
  }
}
