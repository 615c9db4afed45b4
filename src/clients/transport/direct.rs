//! Reaching a service at its own address (a local lab's FATE Flow on 127.0.0.1): the same
//! [`Call`] as through the API server's proxy, with the same rules for what is sent again.

use std::time::Duration;

use anyhow::{Context, Result};
use tower::retry::backoff::{Backoff, ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;

use super::{Call, ProxyResponse};
use super::{FIRST_WAIT, LONGEST_WAIT, RETRIES, Repeat, transient_status};

/// An HTTP service by its base URL, e.g. `http://127.0.0.1:29310`.
#[derive(Debug, Clone)]
pub struct Direct {
    pub base: String,
    http: reqwest::Client,
}

impl Direct {
    /// `timeout`: the deadline of one attempt, until the answer's headers.
    pub fn new(base: &str, timeout: Duration) -> Result<Direct> {
        super::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout.max(Duration::from_secs(600)))
            .build()
            .context("building the HTTP client")?;
        Ok(Direct {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }
}

/// Sends `call` to `to`; any HTTP status is an answer. A call that is safe to repeat is tried
/// again after a connection failure or a "not now" status, with backoff.
pub async fn direct(to: &Direct, call: Call) -> Result<ProxyResponse> {
    let url = format!(
        "{}/{}",
        to.base,
        call.path_and_query.trim_start_matches('/')
    );
    let again = call.repeat == Repeat::Safe || call.method == http::Method::GET;
    let mut backoff = ExponentialBackoffMaker::new(FIRST_WAIT, LONGEST_WAIT, 2.0, HasherRng::new())
        .expect("valid backoff bounds")
        .make_backoff();
    let mut left = if again { RETRIES } else { 0 };
    loop {
        let mut req = to.http.request(call.method.clone(), &url);
        if let Some((content_type, bytes)) = &call.body {
            req = req
                .header(http::header::CONTENT_TYPE, content_type)
                .body(bytes.clone());
        }
        if let Some(c) = &call.cookie {
            req = req.header(http::header::COOKIE, c.expose());
        }
        let result = req.send().await;
        let retry = match &result {
            Ok(r) => transient_status(r.status().as_u16()),
            Err(e) => e.is_connect() || e.is_timeout(),
        };
        if retry && left > 0 {
            left -= 1;
            tracing::info!("{} {url} failed; trying again", call.method);
            backoff.next_backoff().await;
            continue;
        }
        let resp = result.with_context(|| format!("{} {url}", call.method))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("reading the answer to {} {url}", call.method))?;
        return Ok(ProxyResponse::new(status, &headers, body.to_vec()));
    }
}
