//! fatelab: one command for the KubeFATE MiniKube tutorial. The binary is `src/main.rs`; the
//! library exists so integration tests can drive the same steps and clients against fakes.
//!
//! The folders are layers, and a layer imports only the layers below it (`tests/layers.rs`
//! reads the next line and fails on an import against it, or on any import cycle):
//!
//! Layers, bottom up: secret exit < clients < model < ui < render < host < checks < steps < cli < app
//!
//! - `clients`: leaves that know nothing of fatelab — each imports only crates, `secret` and
//!   `clients::transport` (how every call travels: deadlines, retries, the API server's proxy).
//! - `model`: pure data and its rules (the spec, the catalog, versions, sizing, health, the
//!   record's and the status report's types); it may name a client's protocol types.
//! - `ui`: what stderr shows. `render`: the files fatelab writes, from the model.
//! - `host`: facts and files of this machine (the state dir, Docker's images, the hosts file).
//! - `checks`: judgement of a host or an existing cluster, pure where it can be.
//! - `steps`: the steps of `up`, chosen once per target; they never import each other.
//! - `cli`: the clap definitions; `app`: one module per command.

pub mod app;
pub mod checks;
pub mod cli;
pub mod clients;
pub mod exit;
pub mod host;
pub mod model;
pub mod render;
pub mod secret;
pub mod steps;
pub mod ui;
