//! Reaching a Service through the API server's service proxy, so no call depends on DNS, a hosts
//! file or an ingress: `METHOD /api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`.

use anyhow::{Context, Result};
use http::Method;
use kube::Client;

use super::Idempotent;
use crate::secret::Secret;

/// A Service of the cluster, by namespace, name and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub port: u16,
}

impl Service {
    pub fn new(namespace: &str, name: &str, port: u16) -> Service {
        Service {
            namespace: namespace.into(),
            name: name.into(),
            port,
        }
    }
}

/// How a proxied request may be sent: again after a passing failure, or only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A query (even one sent as POST): safe to send again.
    Safe,
    /// It may start something (an install, a job): sent once unless its method is a read.
    Once,
}

/// One request to a Service: method, path and query, and optionally a body and a cookie.
#[derive(Debug, Clone)]
pub struct Call {
    pub(super) method: Method,
    pub(super) path_and_query: String,
    pub(super) body: Option<(String, Vec<u8>)>,
    pub(super) cookie: Option<Secret>,
    pub(super) repeat: Repeat,
}

impl Call {
    /// A call sent once unless its method is a read ([`Call::safe`] marks a query).
    pub fn new(method: Method, path_and_query: &str) -> Call {
        Call {
            method,
            path_and_query: path_and_query.into(),
            body: None,
            cookie: None,
            repeat: Repeat::Once,
        }
    }

    pub fn get(path_and_query: &str) -> Call {
        Call::new(Method::GET, path_and_query)
    }

    pub fn body(mut self, content_type: &str, bytes: Vec<u8>) -> Call {
        self.body = Some((content_type.into(), bytes));
        self
    }

    /// A `Cookie` header, which the API server's proxy forwards (unlike `Authorization`, which
    /// it strips); it is marked sensitive and never shown.
    pub fn cookie(mut self, cookie: Option<Secret>) -> Call {
        self.cookie = cookie;
        self
    }

    pub fn repeat(mut self, repeat: Repeat) -> Call {
        self.repeat = repeat;
        self
    }
}

#[derive(Debug, Clone)]
pub struct ProxyResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// Where a redirect points (gin redirects paths without their registered trailing slash).
    pub location: Option<String>,
}

impl ProxyResponse {
    /// What an answer's status, headers and body make, whichever way it came.
    pub(super) fn new(status: u16, headers: &http::HeaderMap, body: Vec<u8>) -> ProxyResponse {
        let location = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        ProxyResponse {
            status,
            body,
            location,
        }
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "the service answered HTTP {} with something that is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }
}

/// Sends `call` to `to` through the API server of `client`; any HTTP status is an answer.
pub async fn proxy(client: &Client, to: &Service, call: Call) -> Result<ProxyResponse> {
    let uri = format!(
        "/api/v1/namespaces/{}/services/{}:{}/proxy/{}",
        to.namespace,
        to.name,
        to.port,
        call.path_and_query.trim_start_matches('/')
    );
    let method = call.method;
    let mut req = http::Request::builder().method(method.clone()).uri(&uri);
    if let Some(c) = &call.cookie {
        let mut value =
            http::HeaderValue::from_str(c.expose()).context("a cookie that is no header value")?;
        value.set_sensitive(true);
        req = req.header(http::header::COOKIE, value);
    }
    let bytes = match call.body {
        Some((content_type, bytes)) => {
            req = req.header(http::header::CONTENT_TYPE, content_type);
            bytes
        }
        None => Vec::new(),
    };
    let mut req = req.body(kube::client::Body::from(bytes))?;
    if call.repeat == Repeat::Safe {
        req.extensions_mut().insert(Idempotent);
    }
    let shown = crate::secret::redact_url(&uri);
    let resp = client
        .send(req)
        .await
        .with_context(|| format!("{method} {shown} through the API server"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect_bytes()
        .await
        .with_context(|| format!("reading the answer to {method} {shown}"))?;
    Ok(ProxyResponse::new(status, &headers, body.to_vec()))
}
