//! A tiny HTTP file server on 127.0.0.1 for download tests: fixed paths, optional Range support,
//! and a log of what was asked.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};

#[derive(Clone, Default)]
pub struct StaticServer {
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    log: Arc<Mutex<Vec<String>>>,
    pub url: String,
}

impl StaticServer {
    pub async fn start(files: BTreeMap<String, Vec<u8>>) -> StaticServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = StaticServer {
            files: Arc::new(Mutex::new(files)),
            log: Arc::default(),
            url: format!("http://{}", listener.local_addr().unwrap()),
        };
        super::serve(listener, server.clone(), |s: StaticServer, req| {
            Box::pin(async move { s.serve(req) })
        });
        server
    }

    /// Serves what was at `from` at `to` instead.
    pub fn rename(&self, from: &str, to: &str) {
        let mut files = self.files.lock().unwrap();
        if let Some(body) = files.remove(from) {
            files.insert(to.to_string(), body);
        }
    }

    /// Stops serving `path` (it answers 404 from now on).
    pub fn remove(&self, path: &str) {
        self.files.lock().unwrap().remove(path);
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn serve(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let range = req
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes="))
            .and_then(|v| v.strip_suffix('-'))
            .and_then(|v| v.parse::<usize>().ok());
        self.log.lock().unwrap().push(match range {
            Some(r) => format!("GET {path} from {r}"),
            None => format!("GET {path}"),
        });
        let files = self.files.lock().unwrap();
        let Some(body) = files.get(&path) else {
            return Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Full::new(Bytes::from_static(b"Not Found")))
                .unwrap();
        };
        match range {
            Some(from) if from < body.len() => Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    "content-range",
                    format!("bytes {from}-{}/{}", body.len() - 1, body.len()),
                )
                .body(Full::new(Bytes::copy_from_slice(&body[from..])))
                .unwrap(),
            _ => Response::builder()
                .status(StatusCode::OK)
                .body(Full::new(Bytes::copy_from_slice(body)))
                .unwrap(),
        }
    }
}
