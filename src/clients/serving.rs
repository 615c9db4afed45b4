//! FATE-Serving's serving-proxy, reached through the API server's service proxy (its HTTP port
//! 8059 is no NodePort): one online inference. Facts: shared/reference/serving.md §2.4,
//! FATE-Serving v2.0.x status codes (104 model null, 113 host feature missing, 128 no route).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use http::Method;
use serde_json::{Value, json};

use super::transport::{Call, Repeat, Service, proxy};

/// Where the proxy's HTTP API listens inside a serving namespace.
pub const SERVICE: &str = "serving-proxy";
pub const PORT: u16 = 8059;
pub const INFERENCE: &str = "/federation/v1/inference";

/// FATE-Serving's codes fatelab explains.
pub const MODEL_NULL: i64 = 104;
pub const HOST_FEATURE_NOT_EXIST: i64 = 113;
pub const PROXY_ROUTER_ERROR: i64 = 128;

/// The proxy's answer: its code and words, and the score when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Inference {
    pub retcode: i64,
    pub retmsg: String,
    pub score: Option<f64>,
    pub model_version: Option<String>,
}

/// One inference: the guest's features of a row, and the row's id, which is all the host is
/// sent (its adaptor looks its own features up).
pub async fn infer(
    kube: &kube::Client,
    namespace: &str,
    service_id: &str,
    features: &BTreeMap<String, f64>,
    id: &str,
) -> Result<Inference> {
    let body = json!({
        "head": {"serviceId": service_id},
        "body": {"featureData": features, "sendToRemoteFeatureData": {"id": id}},
    });
    let call = Call::new(Method::POST, INFERENCE)
        .body("application/json", serde_json::to_vec(&body)?)
        .repeat(Repeat::Safe);
    let resp = proxy(kube, &Service::new(namespace, SERVICE, PORT), call)
        .await
        .with_context(|| format!("serving-proxy in {namespace}"))?;
    if !(200..300).contains(&resp.status) {
        anyhow::bail!(
            "serving-proxy in {namespace} answered {INFERENCE} with HTTP {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)])
        );
    }
    let v = resp.json()?;
    Ok(Inference {
        retcode: v["retcode"].as_i64().unwrap_or(-1),
        retmsg: v["retmsg"].as_str().unwrap_or_default().to_string(),
        score: v.pointer("/data/score").and_then(Value::as_f64),
        model_version: v
            .pointer("/data/modelVersion")
            .and_then(Value::as_str)
            .map(String::from),
    })
}
