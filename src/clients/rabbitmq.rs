//! A RabbitMQ node's management API (the HTTP plugin FATE itself drives): enough to know that a
//! node is up, which node it is, and that a user may administer it.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::secret::Secret;

/// What a node says of itself (`GET /api/overview`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Overview {
    /// e.g. `rabbit9999@localhost`
    pub node: String,
    pub rabbitmq_version: String,
}

pub struct Management {
    base: String,
    user: String,
    password: Secret,
    http: reqwest::Client,
}

impl Management {
    pub fn new(port: u16, user: &str, password: Secret, timeout: Duration) -> Result<Management> {
        super::transport::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .context("building the HTTP client")?;
        Ok(Management {
            base: format!("http://127.0.0.1:{port}"),
            user: user.into(),
            password,
            http,
        })
    }

    /// The node's name and version, once it has booted with the user (its listener opens late
    /// in the boot, after the default user is made).
    pub async fn overview(&self) -> Result<Overview> {
        let url = format!("{}/api/overview", self.base);
        let resp = self
            .http
            .get(&url)
            .basic_auth(&self.user, Some(self.password.expose()))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status().as_u16();
        if status == 401 {
            bail!(
                "the broker at {} refuses user {} (401): it was made with another password",
                self.base,
                self.user
            );
        }
        if !(200..300).contains(&status) {
            bail!("GET {url} answered HTTP {status}");
        }
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("reading the answer to GET {url}"))?;
        serde_json::from_slice(&body).with_context(|| format!("GET {url} answered no overview"))
    }
}
