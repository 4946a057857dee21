/**
 * XLA for TF-Java sessions: {@link dev.fisheropt.xla.Xla#sessionConfig()} turns on auto-clustering
 * for one session (CPU and GPU, no environment variable), and {@link
 * dev.fisheropt.xla.Xla#placement} reads back from a run's partition graphs which ops ran inside
 * XLA clusters.
 */
package dev.fisheropt.xla;
