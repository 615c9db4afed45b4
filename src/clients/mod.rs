//! Thin typed clients of the outside world. None of them knows about fatelab: each imports only
//! crates, `secret` and [`transport`] (what all their calls share).

pub mod docker;
pub mod download;
pub mod fateflow;
pub mod kube;
pub mod kubefate;
pub mod minikube;
pub mod rabbitmq;
pub mod serving;
pub mod tcp;
pub mod transport;
