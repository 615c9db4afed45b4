//! A command run inside a container through the API server's `pods/exec` (a websocket on the
//! channel protocol): its output and its exit code, bounded in time.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::Client;
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    /// 0 on success; the command's own code otherwise.
    pub code: i32,
}

/// Runs `argv` (no shell unless it names one) in `container` of `pod`, for at most `limit`.
/// An error means the command could not be run (no such pod or container, a container that is
/// not running, no answer in time); a command that ran and failed is a [`Ran`] with its code.
pub async fn exec(
    client: &Client,
    ns: &str,
    pod: &str,
    container: &str,
    argv: &[&str],
    limit: Duration,
) -> Result<Ran> {
    let where_ = format!("in {ns}/{pod} ({container})");
    tokio::time::timeout(limit, run(client, ns, pod, container, argv))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {limit:?}"))
        .and_then(|r| r)
        .with_context(|| format!("running `{}` {where_}", argv.join(" ")))
}

async fn run(client: &Client, ns: &str, pod: &str, container: &str, argv: &[&str]) -> Result<Ran> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut attached = pods.exec(pod, argv.iter().copied(), &params).await?;
    let mut stdout = attached.stdout().context("no stdout stream")?;
    let mut stderr = attached.stderr().context("no stderr stream")?;
    let status = attached.take_status().context("no status stream")?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (o, e) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
    o?;
    e?;
    let status = status.await;
    attached.join().await?;
    Ok(Ran {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        code: exit_code(status.as_ref())?,
    })
}

/// The exit code in the API server's last word on the error channel: `Success`, or a failure
/// whose reason is `NonZeroExitCode` with the code as the message of its `ExitCode` cause.
fn exit_code(status: Option<&Status>) -> Result<i32> {
    let Some(s) = status else {
        bail!("the API server closed the stream without a status");
    };
    if s.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    if s.reason.as_deref() == Some("NonZeroExitCode")
        && let Some(code) = s
            .details
            .iter()
            .flat_map(|d| d.causes.iter().flatten())
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.as_deref()?.parse().ok())
    {
        return Ok(code);
    }
    bail!("{}", s.message.clone().unwrap_or_else(|| format!("{s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(v: serde_json::Value) -> Status {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_exit_code_is_read_from_the_status() {
        assert_eq!(
            exit_code(Some(&status(
                serde_json::json!({"metadata": {}, "status": "Success"})
            )))
            .unwrap(),
            0
        );
        let failed = status(serde_json::json!({"metadata": {}, "status": "Failure",
            "message": "command terminated with non-zero exit code: exit status 124",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": "124"}]}}));
        assert_eq!(exit_code(Some(&failed)).unwrap(), 124);
        let other = status(serde_json::json!({"metadata": {}, "status": "Failure",
            "message": "container not found (\"rollsite\")", "reason": "InternalError"}));
        assert!(
            exit_code(Some(&other))
                .unwrap_err()
                .to_string()
                .contains("container not found")
        );
        assert!(exit_code(None).is_err());
    }
}
