//! The Docker Engine through its API (bollard): reachability, versions, host facts.

use std::time::Duration;

use anyhow::{Context, Result};
use bollard::Docker;

#[derive(Debug, Clone)]
pub struct EngineFacts {
    pub version: String,
    pub api_version: String,
    pub cgroup_driver: Option<String>,
    pub cgroup_version: Option<String>,
    pub root_dir: Option<String>,
}

/// Connects as the `docker` CLI would: DOCKER_HOST if set (unix:// or tcp://), else the local socket.
pub fn connect() -> Result<Docker> {
    Docker::connect_with_defaults().context("connecting to the Docker Engine")
}

pub async fn facts(docker: &Docker) -> Result<EngineFacts> {
    let quick = Duration::from_secs(10);
    tokio::time::timeout(quick, docker.ping())
        .await
        .context("the Docker Engine did not answer within 10 s")?
        .context("the Docker Engine did not answer")?;
    let version = tokio::time::timeout(quick, docker.version()).await??;
    let info = tokio::time::timeout(quick, docker.info()).await??;
    Ok(EngineFacts {
        version: version.version.unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        cgroup_driver: info.cgroup_driver.map(|d| d.to_string()),
        cgroup_version: info.cgroup_version.map(|v| v.to_string()),
        root_dir: info.docker_root_dir,
    })
}
