//! Thin typed clients of the outside world. None of them knows about the tutorial.

pub mod docker;
pub mod download;
pub mod kube;
pub mod minikube;
pub mod process;
