//! Tests that need no service: the shape of the code, a simulated three weeks of feedback,
//! the web path against local fixtures, and Torque Clustering on generated shapes.

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod behaviour_simulation;
mod cluster;
mod deploy_unit;
mod docker_files;
mod search_path;
