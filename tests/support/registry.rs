//! The real image registry the pull tests use (Debian's `docker-registry`, the distribution
//! registry 2.8, which `scripts/test` starts on a free loopback port), and a counting proxy in
//! front of it that tells which manifests the Docker Engine fetched, how many at once.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::images as img;

/// The registry, checked to answer; a test that needs it fails (never skips) without it.
pub async fn require() -> String {
    let addr = super::services::registry();
    fatelab::clients::transport::ensure_crypto_provider();
    let answer = reqwest::Client::new()
        .get(format!("http://{addr}/v2/"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => addr,
        other => panic!(
            "the tests' image registry on {addr} does not answer ({other:?}); `scripts/test` starts \
             it (or `scripts/test start`, to keep it for plain `cargo test`)"
        ),
    }
}

/// Makes a tiny image under `reference`, pushes it, and removes the local copy (it was the
/// test's own), so only the registry has it.
pub fn push(dir: &std::path::Path, reference: &str) {
    img::make_image(dir, reference);
    let out = super::services::docker()
        .args(["push", reference])
        .output()
        .expect("the docker CLI");
    assert!(
        out.status.success(),
        "docker push {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    img::remove(&[reference]);
}

#[derive(Default)]
struct Counts {
    /// "METHOD /path" → how many times.
    requests: BTreeMap<String, usize>,
    manifests_arrived: usize,
    manifests_in_flight: usize,
    most_in_flight: usize,
}

/// A proxy on 127.0.0.1 in front of the registry. It holds each manifest request until
/// `hold_for` of them have arrived (or a bound passes), so pulls that really run together are
/// seen together, however fast the registry answers.
pub struct CountingProxy {
    pub address: String,
    counts: Arc<Mutex<Counts>>,
}

impl CountingProxy {
    pub async fn start(upstream: &str, hold_for: usize) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (arrived_tx, arrived_rx) = tokio::sync::watch::channel(0usize);
        let arrived_tx = Arc::new(arrived_tx);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let upstream = upstream.to_string();
        let shared = counts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (client, upstream, counts) = (client.clone(), upstream.clone(), shared.clone());
                let (arrived_tx, arrived_rx) = (arrived_tx.clone(), arrived_rx.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (client, upstream, counts) =
                            (client.clone(), upstream.clone(), counts.clone());
                        let (arrived_tx, mut arrived_rx) = (arrived_tx.clone(), arrived_rx.clone());
                        async move {
                            let key = format!("{} {}", req.method(), req.uri().path());
                            let manifest =
                                req.method() == hyper::Method::GET && key.contains("/manifests/");
                            {
                                let mut c = counts.lock().unwrap();
                                *c.requests.entry(key).or_default() += 1;
                                if manifest {
                                    c.manifests_arrived += 1;
                                    c.manifests_in_flight += 1;
                                    c.most_in_flight = c.most_in_flight.max(c.manifests_in_flight);
                                    arrived_tx.send_replace(c.manifests_arrived);
                                }
                            }
                            if manifest {
                                let _ = tokio::time::timeout(
                                    Duration::from_secs(5),
                                    arrived_rx.wait_for(|n| *n >= hold_for),
                                )
                                .await;
                            }
                            let answer = forward(&client, &upstream, req).await;
                            if manifest {
                                counts.lock().unwrap().manifests_in_flight -= 1;
                            }
                            Ok::<_, Infallible>(answer)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        CountingProxy { address, counts }
    }

    /// How many GETs of manifests under `repository` (`name/of/repo`) arrived.
    pub fn manifest_gets(&self, repository: &str) -> usize {
        let prefix = format!("GET /v2/{repository}/manifests/");
        let c = self.counts.lock().unwrap();
        c.requests
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// The most manifest requests that were in flight at once.
    pub fn most_at_once(&self) -> usize {
        self.counts.lock().unwrap().most_in_flight
    }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let mut out = client.request(method, format!("http://{upstream}{path}"));
    for (name, value) in &headers {
        if name != hyper::header::HOST {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) => {
            return Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(e.to_string())))
                .unwrap();
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        // The body is passed whole; the location of an upload stays the registry's own path.
        if name != hyper::header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Full::new(bytes)).unwrap()
}
