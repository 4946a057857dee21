package dev.fisheropt.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ServerDef;

/** The cluster description, its sources and errors, and the checks made before a server starts. */
class ClusterTest {
  private static final String TWO =
      "{\"cluster\": {\"worker\": [\"127.0.0.1:2222\", \"127.0.0.1:2223\"]},"
          + " \"task\": {\"type\": \"worker\", \"index\": 1}}";

  @Test
  void parsesTheTfConfigConvention() {
    Cluster c = Cluster.parse(TWO);
    assertEquals(List.of("127.0.0.1:2222", "127.0.0.1:2223"), c.workers());
    assertEquals(1, c.taskIndex());
    assertEquals(2223, c.port());
    assertEquals("grpc://127.0.0.1:2223", c.target());
    assertFalse(c.isChief());
    assertEquals(c, Cluster.parse(c.toJson()));
  }

  @Test
  void readsFisheroptClusterFirstThenTfConfig() {
    Cluster other = Cluster.loopback(List.of(3000), 0);
    assertEquals(
        other,
        Cluster.fromEnvironment(
            Map.of(Cluster.ENVIRONMENT_VARIABLE, other.toJson(), Cluster.TF_CONFIG, TWO)));
    assertEquals(Cluster.parse(TWO), Cluster.fromEnvironment(Map.of(Cluster.TF_CONFIG, TWO)));
    IllegalStateException none =
        assertThrows(IllegalStateException.class, () -> Cluster.fromEnvironment(Map.of()));
    assertTrue(none.getMessage().contains(Cluster.ENVIRONMENT_VARIABLE), none.getMessage());
  }

  @Test
  void badDescriptionsAreReportedByWhatIsWrong() {
    assertMessage("listed twice", () -> Cluster.of(List.of("h:1", "h:1"), 0));
    assertMessage("task index 2", () -> Cluster.of(List.of("h:1", "h:2"), 2));
    assertMessage("not host:port", () -> Cluster.of(List.of("localhost"), 0));
    assertMessage("port out of range", () -> Cluster.of(List.of("h:70000"), 0));
    assertMessage(
        "task.type is 'ps'",
        () -> Cluster.parse(TWO.replace("\"worker\", \"index\"", "\"ps\", \"index\"")));
    assertMessage("TF_CONFIG: not JSON", () -> Cluster.fromEnvironment(Map.of("TF_CONFIG", "{")));
  }

  @Test
  void serverDefNamesEveryTaskAndTheGroupLeader() {
    ServerDef def = Worker.serverDef(Cluster.parse(TWO));
    assertEquals("grpc", def.getProtocol());
    assertEquals(1, def.getTaskIndex());
    assertEquals("127.0.0.1:2222", def.getCluster().getJob(0).getTasksMap().get(0));
    assertEquals(
        "/job:worker/replica:0/task:0",
        def.getDefaultSessionConfig().getExperimental().getCollectiveGroupLeader());
  }

  @Test
  void aPortInUseIsReportedByName() throws Exception {
    try (ServerSocket taken = new ServerSocket(0)) {
      Cluster c = Cluster.loopback(List.of(taken.getLocalPort()), 0);
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> Worker.start(c));
      assertTrue(
          e.getMessage().contains("port " + taken.getLocalPort() + " of " + c.address()),
          e.getMessage());
    }
  }

  @Test
  void fingerprintsDependOnTheAddressesAndTheirOrderOnly() {
    Cluster a = Cluster.of(List.of("h:1", "h:2"), 0);
    assertEquals(DataParallel.fingerprint(a), DataParallel.fingerprint(a.withTaskIndex(1)));
    assertNotEquals(
        DataParallel.fingerprint(a),
        DataParallel.fingerprint(Cluster.of(List.of("h:2", "h:1"), 0)));
    assertNotEquals(
        DataParallel.fingerprint(a),
        DataParallel.fingerprint(Cluster.of(List.of("h:1", "h:3"), 0)));
  }

  private static void assertMessage(String expected, Runnable r) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
