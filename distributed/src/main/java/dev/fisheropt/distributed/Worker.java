package dev.fisheropt.distributed;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.tensorflow.Graph;
import org.tensorflow.Server;
import org.tensorflow.Session;
import org.tensorflow.internal.c_api.TF_Graph;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.proto.ClusterDef;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.JobDef;
import org.tensorflow.proto.ServerDef;

/**
 * This process's TensorFlow gRPC server in a {@link Cluster}, and sessions on it.
 *
 * <p>The server is started from a {@code ServerDef} (job {@value Cluster#JOB}, protocol {@code
 * grpc}) whose default session config names task 0 as the collective group leader: set only on a
 * session, collectives time out. TF-Java 1.1.0 cannot stop a server ({@code Server.stop()} is
 * unimplemented) and a port is not reusable within the JVM, so a worker is one process: it trains,
 * meets the others at a last barrier, and exits. The server listens on every interface without
 * authentication: run it on a trusted network only.
 *
 * <p>TF-Java has no public {@code Session} constructor with a target. {@link #newSession} sets the
 * target {@code grpc://host:port} with the C API's {@code TF_SetTarget} and wraps the native
 * session with TF-Java's package-private {@code Session(Graph, TF_Session)} by reflection (on the
 * module path this needs {@code --add-opens tensorflow/org.tensorflow=ALL-UNNAMED}). Such a session
 * does not run initializers by itself: call {@code session.initialize()}, then broadcast the
 * chief's values ({@link Collectives#broadcastVariables}).
 */
public final class Worker {
  private final Cluster cluster;
  private final Server server;

  private Worker(Cluster cluster, Server server) {
    this.cluster = cluster;
    this.server = server;
  }

  /**
   * Starts this task's server.
   *
   * @throws IllegalStateException naming the address if its port is taken by another process, or if
   *     TensorFlow refuses to start the server
   */
  public static Worker start(Cluster cluster) {
    requirePortFree(cluster);
    ServerDef def = serverDef(cluster);
    try {
      Server server = new Server(def);
      server.start();
      return new Worker(cluster, server);
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "task "
              + cluster.taskIndex()
              + ": TensorFlow could not start the gRPC server at "
              + cluster.address()
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /** The {@code ServerDef} of this task: the whole cluster, grpc, task 0 as group leader. */
  public static ServerDef serverDef(Cluster cluster) {
    JobDef.Builder job = JobDef.newBuilder().setName(Cluster.JOB);
    for (int i = 0; i < cluster.size(); i++) {
      job.putTasks(i, cluster.workers().get(i));
    }
    return ServerDef.newBuilder()
        .setCluster(ClusterDef.newBuilder().addJob(job))
        .setJobName(Cluster.JOB)
        .setTaskIndex(cluster.taskIndex())
        .setProtocol("grpc")
        .setDefaultSessionConfig(sessionConfig())
        .build();
  }

  /**
   * The session config every task uses: task 0 leads the collective group, and each session keeps
   * its variables to itself (by default a server shares them by name among all its sessions, so a
   * second model with a variable of the same name and another shape could not initialize).
   */
  static ConfigProto sessionConfig() {
    return ConfigProto.newBuilder()
        .setIsolateSessionState(true)
        .setExperimental(
            ConfigProto.Experimental.newBuilder().setCollectiveGroupLeader(Cluster.task(0)))
        .build();
  }

  /**
   * The gRPC server binds every interface, so a port another process holds (on any address) is
   * refused here by name rather than by TensorFlow's generic bind failure.
   */
  private static void requirePortFree(Cluster cluster) {
    try (ServerSocket probe = new ServerSocket()) {
      probe.setReuseAddress(true);
      probe.bind(new InetSocketAddress(cluster.port()));
    } catch (IOException e) {
      throw new IllegalStateException(
          "task "
              + cluster.taskIndex()
              + ": port "
              + cluster.port()
              + " of "
              + cluster.address()
              + " is already in use ("
              + e.getMessage()
              + "); pick another port for this worker",
          e);
    }
  }

  /**
   * Waits until every other task's server accepts connections. TensorFlow's master waits for a
   * missing worker without a deadline when it creates a session, so a task that never started would
   * hang the others there; this turns it into an error that names it.
   *
   * @throws IllegalStateException naming the first task that did not answer within {@code
   *     timeoutSeconds}
   */
  public void awaitPeers(double timeoutSeconds) {
    long deadline = System.nanoTime() + (long) (timeoutSeconds * 1e9);
    for (int task = 0; task < cluster.size(); task++) {
      if (task == cluster.taskIndex()) {
        continue;
      }
      String address = cluster.workers().get(task);
      int colon = address.lastIndexOf(':');
      String host = address.substring(0, colon);
      int port = Integer.parseInt(address.substring(colon + 1));
      while (true) {
        try (Socket socket = new Socket()) {
          socket.connect(new InetSocketAddress(host, port), 1_000);
          break;
        } catch (IOException e) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException(
                "task "
                    + cluster.taskIndex()
                    + ": task "
                    + task
                    + " at "
                    + address
                    + " did not start its server within "
                    + timeoutSeconds
                    + " s ("
                    + e.getMessage()
                    + ")",
                e);
          }
          try {
            Thread.sleep(100);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for task " + task, ie);
          }
        }
      }
    }
  }

  /** The cluster this worker belongs to. */
  public Cluster cluster() {
    return cluster;
  }

  /** The server (it cannot be stopped in TF-Java 1.1.0; the process's exit ends it). */
  public Server server() {
    return server;
  }

  /**
   * A session on this task's server for {@code graph}: its ops run on this task (the default device
   * of a session on a worker's own master), collectives reach the other tasks.
   */
  public Session newSession(Graph graph) {
    return newSession(graph, sessionConfig());
  }

  /** {@link #newSession(Graph)} with a session config of the caller's. */
  public Session newSession(Graph graph, ConfigProto config) {
    TF_Session handle;
    try (PointerScope scope = new PointerScope()) {
      TF_Status status = TF_Status.newStatus();
      TF_SessionOptions options = TF_SessionOptions.newSessionOptions();
      tensorflow.TF_SetTarget(options, cluster.target());
      BytePointer bytes = new BytePointer(config.toByteArray());
      tensorflow.TF_SetConfig(options, bytes, bytes.capacity(), status);
      status.throwExceptionIfNotOK();
      AutoCloseable graphRef = graphReference(graph);
      try {
        handle = TF_Session.newSession(nativeGraph(graphRef), options, status);
        status.throwExceptionIfNotOK();
        handle = (TF_Session) handle.retainReference();
      } finally {
        close(graphRef);
      }
    }
    try {
      Constructor<Session> c = Session.class.getDeclaredConstructor(Graph.class, TF_Session.class);
      c.setAccessible(true);
      return c.newInstance(graph, handle);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw reflectionFailure(e);
    }
  }

  private static AutoCloseable graphReference(Graph graph) {
    try {
      Method ref = Graph.class.getDeclaredMethod("ref");
      ref.setAccessible(true);
      return (AutoCloseable) ref.invoke(graph);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw reflectionFailure(e);
    }
  }

  private static TF_Graph nativeGraph(AutoCloseable reference) {
    try {
      Method handle = reference.getClass().getDeclaredMethod("nativeHandle");
      handle.setAccessible(true);
      return (TF_Graph) handle.invoke(reference);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw reflectionFailure(e);
    }
  }

  private static void close(AutoCloseable reference) {
    try {
      reference.close();
    } catch (Exception e) {
      throw new IllegalStateException("could not release the graph reference", e);
    }
  }

  private static IllegalStateException reflectionFailure(Exception e) {
    Throwable cause = e instanceof InvocationTargetException ite ? ite.getCause() : e;
    return new IllegalStateException(
        "could not open a session with a target through TF-Java 1.1.0's package-private"
            + " Session(Graph, TF_Session); on the module path add --add-opens"
            + " tensorflow/org.tensorflow=ALL-UNNAMED: "
            + cause,
        cause);
  }
}
