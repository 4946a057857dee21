/**
 * Data-parallel training of the fisheropt optimizers across processes on TensorFlow's gRPC runtime:
 * a {@link Cluster} description, this process's {@link Worker} (server and sessions with a target),
 * the {@link Collectives} through which the optimizers average gradients and curvature statistics,
 * the {@link DataParallel} entry point and the {@link LocalCluster} and {@link Launcher} launchers.
 * The servers have no authentication: run them on a trusted network only. See {@code
 * docs/distributed.md}.
 */
package dev.fisheropt.distributed;
