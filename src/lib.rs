//! fatelab: one command for the KubeFATE MiniKube tutorial. The binary is `src/main.rs`; the
//! library exists so integration tests can drive the same steps and clients against fakes.

pub mod catalog;
pub mod chart;
pub mod cli;
pub mod clients;
pub mod commands;
pub mod compare;
pub mod compat;
pub mod credentials;
pub mod doctor;
pub mod exit;
pub mod health;
pub mod hostip;
pub mod hosts_file;
pub mod images;
pub mod invoker;
pub mod package;
pub mod plan;
pub mod render;
pub mod scenario;
pub mod secret;
pub mod sizing;
pub mod spec;
pub mod state;
pub mod steps;
pub mod target;
pub mod ui;
