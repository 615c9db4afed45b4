//! What every HTTP call shares (to the Kubernetes API, to KubeFATE and FATE Flow through its
//! service proxy, and downloads): a deadline on each attempt, retries with exponential backoff
//! and jitter for what is safe to repeat, one error type whose `transient` flag its client sets,
//! and a list of the calls in flight, so a command that runs out of time can say what it was
//! waiting for.
//!
//! Safe to repeat: reads (GET), server-side apply (PATCH with an apply patch: idempotent by
//! design), deletes of Kubernetes objects (a second one finds nothing), creates of Kubernetes
//! objects (a repeat of one that was made answers 409 AlreadyExists, which its caller reads as
//! "it exists"), and any request its client marks [`Idempotent`] (a query sent as POST).
//! Everything else — an install, a job submit, a proxied DELETE that starts a job — is sent
//! once; its client looks whether it happened before sending it again.

mod direct;
pub mod multipart;
mod proxy;

pub use direct::{Direct, direct};
pub use proxy::{Call, ProxyResponse, Repeat, Service, proxy};

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use kube::client::Body;
use tower::BoxError;
use tower::retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;

/// reqwest and kube share rustls, which needs exactly one process-wide crypto provider; this
/// installs ring's (a no-op when one is already installed).
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Marks a request its client knows to be safe to send again (e.g. a query sent as POST).
#[derive(Debug, Clone, Copy)]
pub struct Idempotent;

/// An answer other than success from an HTTP service, in its own words. Its client sets
/// `transient` when the status says "not now" rather than "no" for that service (KubeFATE
/// answers 500 for "no" too, so for it only gateway statuses pass).
#[derive(Debug, thiserror::Error)]
#[error("{call}: HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
pub struct HttpError {
    /// The call in words, e.g. `KubeFATE answered POST /v1/cluster`.
    pub call: String,
    pub status: u16,
    pub message: String,
    pub transient: bool,
}

/// Retries after the first attempt: 4, with waits from 200 ms doubling to at most 5 s (jittered).
const RETRIES: u32 = 4;
const FIRST_WAIT: Duration = Duration::from_millis(200);
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// Statuses that say "not now" rather than "no": overload, a restarting server, a proxy gap.
pub fn transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

fn safe_to_repeat(req: &Request<Body>) -> bool {
    if req.extensions().get::<Idempotent>().is_some() {
        return true;
    }
    let proxied = req.uri().path().contains("/proxy/");
    match *req.method() {
        http::Method::GET | http::Method::HEAD => true,
        http::Method::DELETE | http::Method::POST => !proxied,
        http::Method::PATCH => req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/apply-patch")),
        _ => false,
    }
}

/// A request line fit to print: method and path (the query may hold selectors, never a secret
/// since tokens travel as cookies, but it is redacted all the same).
fn shown(req: &Request<Body>) -> String {
    format!(
        "{} {}",
        req.method(),
        crate::secret::redact_url(&req.uri().to_string())
    )
}

#[derive(Clone)]
pub struct RetryPolicy {
    left: u32,
    backoff: ExponentialBackoff,
}

impl RetryPolicy {
    pub fn new() -> RetryPolicy {
        let backoff = ExponentialBackoffMaker::new(FIRST_WAIT, LONGEST_WAIT, 2.0, HasherRng::new())
            .expect("valid backoff bounds")
            .make_backoff();
        RetryPolicy {
            left: RETRIES,
            backoff,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new()
    }
}

impl<Res> tower::retry::Policy<Request<Body>, Response<Res>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<Body>,
        result: &mut Result<Response<Res>, BoxError>,
    ) -> Option<Self::Future> {
        let why = match result {
            Ok(r) if transient_status(r.status().as_u16()) => format!("HTTP {}", r.status()),
            Ok(_) => return None,
            Err(e) => format!("{e}"),
        };
        if self.left == 0 || !safe_to_repeat(req) {
            return None;
        }
        self.left -= 1;
        tracing::info!("{} failed ({why}); trying again", shown(req));
        Some(self.backoff.next_backoff())
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        let body = req.body().try_clone()?;
        let mut copy = Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone())
            .version(req.version())
            .body(body)
            .ok()?;
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

/// True when an error says "not now" (no answer in time, a dropped connection, an overloaded or
/// restarting server) rather than "no": such a call may be tried again or looked after, never
/// taken as evidence that something is broken. One judgement for every client.
pub fn is_transient(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::*;
    err.chain().any(|cause| {
        if let Some(k) = cause.downcast_ref::<kube::Error>() {
            return match k {
                kube::Error::Api(s) => transient_status(s.code),
                kube::Error::Service(_) | kube::Error::HyperError(_) => true,
                _ => false,
            };
        }
        if let Some(h) = cause.downcast_ref::<HttpError>() {
            return h.transient;
        }
        if let Some(r) = cause.downcast_ref::<reqwest::Error>() {
            return r.is_timeout() || r.is_connect() || r.is_body() || r.is_request();
        }
        // The network's kinds only: a file that cannot be written is no passing failure.
        cause.is::<tower::timeout::error::Elapsed>()
            || cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
                matches!(
                    e.kind(),
                    ConnectionReset
                        | ConnectionRefused
                        | ConnectionAborted
                        | TimedOut
                        | BrokenPipe
                        | UnexpectedEof
                )
            })
    })
}

static NEXT: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: Mutex<BTreeMap<u64, (String, Instant)>> = Mutex::new(BTreeMap::new());

/// The longest-waiting call now in flight: what a command that ran out of time waited for.
pub fn oldest_in_flight() -> Option<(String, Duration)> {
    IN_FLIGHT
        .lock()
        .expect("in-flight lock")
        .values()
        .min_by_key(|(_, since)| *since)
        .map(|(call, since)| (call.clone(), since.elapsed()))
}

struct InFlight(u64);

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.lock().expect("in-flight lock").remove(&self.0);
    }
}

/// Keeps the list of calls in flight (until their answer's headers arrive).
#[derive(Clone)]
pub struct TrackLayer;

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;
    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

#[derive(Clone)]
pub struct Track<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, Res> tower::Service<Request<Body>> for Track<S>
where
    S: tower::Service<Request<Body>, Response = Res, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Res;
    type Error = BoxError;
    type Future = BoxFuture<Result<Res, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        IN_FLIGHT
            .lock()
            .expect("in-flight lock")
            .insert(id, (shown(&req), Instant::now()));
        let guard = InFlight(id);
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            drop(guard);
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, content_type: Option<&str>) -> Request<Body> {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            b = b.header(http::header::CONTENT_TYPE, ct);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn only_what_is_safe_to_repeat_is_repeated() {
        assert!(safe_to_repeat(&req("GET", "/api/v1/pods", None)));
        assert!(safe_to_repeat(&req(
            "PATCH",
            "/apis/apps/v1/namespaces/x/deployments/y",
            Some("application/apply-patch+yaml")
        )));
        assert!(!safe_to_repeat(&req(
            "PATCH",
            "/apis/apps/v1/namespaces/x/deployments/y",
            Some("application/merge-patch+json")
        )));
        assert!(safe_to_repeat(&req("DELETE", "/api/v1/namespaces/x", None)));
        assert!(safe_to_repeat(&req("POST", "/api/v1/namespaces", None)));
        let install = "/api/v1/namespaces/kube-fate/services/kubefate:8080/proxy/v1/cluster";
        assert!(!safe_to_repeat(&req("POST", install, None)));
        assert!(!safe_to_repeat(&req(
            "DELETE",
            &format!("{install}/c-1"),
            None
        )));
        let mut query = req(
            "POST",
            "/api/v1/namespaces/f/services/ff:9380/proxy/v1/job/query",
            None,
        );
        query.extensions_mut().insert(Idempotent);
        assert!(safe_to_repeat(&query));
        assert!(transient_status(503) && transient_status(429) && !transient_status(404));
    }
}
