//! Torque Clustering (`threeam::cluster`), with the pure tests: behaviour and edge cases, the
//! command line, the NMI/AMI metrics, the fast path against the O(n²) oracle, and reference
//! results. Everything runs on generated shapes (`shapes.rs`), so a clone needs nothing
//! beside it; the published benchmark sets are checked too when `THREEAM_CLUSTERING_DATA`
//! points at them (`published.rs`, run by `scripts/test` when the folder is there).

mod behaviour;
mod cli;
mod datasets;
mod metrics;
mod oracle;
mod published;
mod shapes;
