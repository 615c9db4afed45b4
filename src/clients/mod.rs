//! Thin typed clients of the outside world. None of them knows about the tutorial.

pub mod docker;
pub mod download;
pub mod fateflow;
pub mod kube;
pub mod kubefate;
pub mod minikube;
pub mod multipart;
pub mod process;
pub mod tcp;
pub mod transport;

/// reqwest and kube share rustls, which needs exactly one process-wide crypto provider; this
/// installs ring's (a no-op when one is already installed).
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
