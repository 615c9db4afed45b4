//! The KubeFATE service's REST API (service v1.4.x), reached through the API server's service
//! proxy. Quirks it follows (shared/reference/kubefate.md §2): the exact registered paths (gin
//! redirects any other trailing-slash form), the JWT sent as gin-jwt's `jwt` cookie (the API
//! server strips `Authorization` from proxied requests, and a `?token=` would put the secret in
//! every URL that is logged), one re-login on 401 (tokens die with the pod), and `data` = base64
//! of the cluster spec as JSON.

mod jobs;

pub use jobs::{Deleted, Job, JobDeadline, JobMethod, JobStatus};

use anyhow::{Context, Result};
use base64::Engine;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::transport::{Call, HttpError, ProxyResponse, Repeat, Service, proxy};
use crate::secret::Secret;

pub const NAMESPACE: &str = "kube-fate";
pub const SERVICE: &str = "kubefate";
pub const PORT: u16 = 8080;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Cluster {
    pub uuid: String,
    pub name: String,
    /// Spelled `namespaces` (plural) by the service, though it holds one namespace.
    #[serde(default, rename = "namespaces")]
    pub namespace: String,
    #[serde(default)]
    pub chart_name: String,
    #[serde(default)]
    pub chart_version: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub revision: Value,
    #[serde(default, rename = "Info")]
    pub info: Option<Value>,
    /// The cluster spec the service holds (parsed from what was submitted).
    #[serde(default, rename = "Spec")]
    pub spec: Option<Value>,
}

/// The body of `POST` and `PUT /v1/cluster`, built as `kubefate cluster install -f` builds it.
pub fn cluster_args(spec: &Value, cover: bool) -> Result<Value> {
    let field = |k: &str| {
        spec.get(k)
            .and_then(Value::as_str)
            .with_context(|| format!("the cluster spec has no `{k}`"))
    };
    let data = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(spec)?);
    Ok(json!({
        "name": field("name")?,
        "namespace": field("namespace")?,
        "chart_name": field("chartName")?,
        "chart_version": field("chartVersion")?,
        "cover": cover,
        "data": data,
    }))
}

pub struct KubeFate {
    kube: ::kube::Client,
    username: String,
    password: Secret,
    token: Mutex<Option<Secret>>,
}

/// gin's answer to a route called in the slash form it does not register. Asking again cannot
/// help: the call itself is wrong for this service.
#[derive(Debug, thiserror::Error)]
#[error(
    "KubeFATE redirected {call} to {to} (HTTP {status}): a route called without its registered trailing slash"
)]
pub struct Redirected {
    pub call: String,
    pub to: String,
    pub status: u16,
}

impl KubeFate {
    pub fn new(kube: ::kube::Client, username: &str, password: Secret) -> Self {
        KubeFate {
            kube,
            username: username.into(),
            password,
            token: Mutex::new(None),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(String, Vec<u8>)>,
        token: Option<&Secret>,
    ) -> Result<ProxyResponse> {
        // A login changes nothing the service keeps; GETs are safe by their method.
        let repeat = if path == "/v1/user/login" {
            Repeat::Safe
        } else {
            Repeat::Once
        };
        let mut call = Call::new(method, path)
            .cookie(token.map(|t| Secret::new(format!("jwt={}", t.expose()))))
            .repeat(repeat);
        if let Some((content_type, bytes)) = body {
            call = call.body(&content_type, bytes);
        }
        proxy(&self.kube, &Service::new(NAMESPACE, SERVICE, PORT), call).await
    }

    fn check(method: &Method, path: &str, resp: ProxyResponse) -> Result<Value> {
        if (300..400).contains(&resp.status) {
            return Err(Redirected {
                call: format!("{method} {path}"),
                to: crate::secret::redact_url(resp.location.as_deref().unwrap_or("?")),
                status: resp.status,
            }
            .into());
        }
        let json: Option<Value> = serde_json::from_slice(&resp.body).ok();
        if !(200..300).contains(&resp.status) {
            let message = json
                .as_ref()
                .and_then(|j| j.get("error").or_else(|| j.get("message")))
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)]).into_owned()
                });
            return Err(HttpError {
                call: format!("KubeFATE answered {method} {path}"),
                status: resp.status,
                message,
                // KubeFATE answers 500 for "no" too ("Cluster already existed"): only gateway
                // statuses say "not now".
                transient: matches!(resp.status, 429 | 502 | 503 | 504),
            }
            .into());
        }
        json.with_context(|| format!("KubeFATE's answer to {path} is not JSON"))
    }

    async fn fetch_token(&self) -> Result<Secret> {
        let body = json!({"username": self.username, "password": self.password.expose()});
        let resp = self
            .send(
                Method::POST,
                "/v1/user/login",
                Some(("application/json".into(), serde_json::to_vec(&body)?)),
                None,
            )
            .await?;
        let v =
            Self::check(&Method::POST, "/v1/user/login", resp).context("logging in to KubeFATE")?;
        Ok(Secret::new(
            v["token"]
                .as_str()
                .context("KubeFATE's login answer has no token")?,
        ))
    }

    /// The current token; concurrent callers wait for one login instead of each logging in.
    async fn token(&self) -> Result<Secret> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.clone() {
            return Ok(t);
        }
        let t = self.fetch_token().await?;
        *guard = Some(t.clone());
        Ok(t)
    }

    /// An authenticated call; a 401 (the pod restarted, or the token expired) logs in once again.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(String, Vec<u8>)>,
    ) -> Result<Value> {
        for attempt in 0..2 {
            let token = self.token().await?;
            let resp = self
                .send(method.clone(), path, body.clone(), Some(&token))
                .await?;
            if resp.status == 401 && attempt == 0 {
                // Drop the dead token unless another call already replaced it.
                let mut guard = self.token.lock().await;
                if guard.as_ref() == Some(&token) {
                    *guard = None;
                }
                continue;
            }
            return Self::check(&method, path, resp);
        }
        unreachable!("the loop returns on its second pass")
    }

    async fn call_json(&self, method: Method, path: &str, body: &Value) -> Result<Value> {
        self.call(
            method,
            path,
            Some(("application/json".into(), serde_json::to_vec(body)?)),
        )
        .await
    }

    pub async fn version(&self) -> Result<String> {
        let v = self.call(Method::GET, "/v1/version/", None).await?;
        Ok(v["version"]
            .as_str()
            .context("KubeFATE's version answer has no version")?
            .to_string())
    }

    pub async fn install(&self, args: &Value) -> Result<Job> {
        let v = self.call_json(Method::POST, "/v1/cluster", args).await?;
        serde_json::from_value(v["data"].clone()).context("KubeFATE's install answer has no job")
    }

    /// `PUT /v1/cluster`: a `ClusterUpdate` job (helm upgrade) for an existing cluster.
    pub async fn update(&self, args: &Value) -> Result<Job> {
        let v = self.call_json(Method::PUT, "/v1/cluster", args).await?;
        serde_json::from_value(v["data"].clone()).context("KubeFATE's update answer has no job")
    }

    /// Clusters the service knows (soft-deleted ones only with `all`).
    pub async fn clusters(&self, all: bool) -> Result<Vec<Cluster>> {
        let path = if all {
            "/v1/cluster/?all=true"
        } else {
            "/v1/cluster/"
        };
        let v = self.call(Method::GET, path, None).await?;
        Ok(serde_json::from_value(v["data"].clone()).unwrap_or_default())
    }

    pub async fn cluster(&self, id: &str) -> Result<Cluster> {
        let v = self
            .call(Method::GET, &format!("/v1/cluster/{id}"), None)
            .await?;
        serde_json::from_value(v["data"].clone())
            .context("KubeFATE's cluster answer has no cluster")
    }

    pub async fn delete_cluster(&self, id: &str) -> Result<Job> {
        let v = self
            .call(Method::DELETE, &format!("/v1/cluster/{id}"), None)
            .await?;
        serde_json::from_value(v["data"].clone()).context("KubeFATE's delete answer has no job")
    }

    pub async fn job(&self, id: &str) -> Result<Job> {
        let v = self
            .call(Method::GET, &format!("/v1/job/{id}"), None)
            .await?;
        serde_json::from_value(v["data"].clone()).context("KubeFATE's job answer has no job")
    }

    /// `GET path`'s `data` as the service answers it (for a bug report: every field kept).
    pub async fn data(&self, path: &str) -> Result<Value> {
        Ok(self.call(Method::GET, path, None).await?["data"].take())
    }

    pub async fn jobs(&self) -> Result<Vec<Job>> {
        let v = self.call(Method::GET, "/v1/job/", None).await?;
        Ok(serde_json::from_value(v["data"].clone()).unwrap_or_default())
    }

    /// `GET /v1/chart/`: the (name, version) of every chart the service holds.
    pub async fn charts(&self) -> Result<Vec<(String, String)>> {
        let v = self.call(Method::GET, "/v1/chart/", None).await?;
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let field = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                (field("name"), field("version"))
            })
            .collect())
    }

    /// `POST /v1/chart` with the chart archive as multipart field `file`.
    pub async fn upload_chart(&self, file_name: &str, bytes: Vec<u8>) -> Result<String> {
        let form = super::transport::multipart::Form::new().file(
            "file",
            file_name,
            "application/gzip",
            &bytes,
        );
        let v = self
            .call(Method::POST, "/v1/chart", Some(form.encode()))
            .await?;
        Ok(v.pointer("/data/helmUUID")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_args_are_built_as_the_cli_builds_them() {
        let spec = json!({"name": "fate-9999", "namespace": "fate-9999", "chartName": "fate", "chartVersion": "v1.6.0", "partyId": 9999});
        let args = cluster_args(&spec, false).unwrap();
        assert_eq!(args["name"], "fate-9999");
        assert_eq!(args["chart_version"], "v1.6.0");
        assert_eq!(args["cover"], false);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(args["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), spec);
        assert!(cluster_args(&json!({"name": "x"}), false).is_err());
    }

    #[test]
    fn cluster_json_uses_the_plural_namespaces_key() {
        let c: Cluster = serde_json::from_value(json!({"uuid": "u", "name": "fate-9999", "namespaces": "fate-9999", "status": "Running"})).unwrap();
        assert_eq!(c.namespace, "fate-9999");
        let j: Job =
            serde_json::from_value(json!({"uuid": "j", "status": "Running", "states": null}))
                .unwrap();
        assert!(!j.finished());
        assert!(j.states().is_empty());
    }
}
