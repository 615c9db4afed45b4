//! `pods/exec` as the API server serves it to a websocket client, written from the Kubernetes
//! sources (apimachinery `httpstream/wsstream/conn.go`, kubelet `cri/streaming/remotecommand`):
//! the server takes the first of the client's subprotocols it supports (`v5.channel.k8s.io`
//! from 1.30 on, `v4.channel.k8s.io`), every binary message starts with its channel byte (1
//! stdout, 2 stderr, 3 error), and the last word on channel 3 is a `metav1.Status`: `Success`, or
//! `Failure` with reason `NonZeroExitCode` and the code as the message of an `ExitCode` cause.
//!
//! Behind it, a small fake of a federation pod's container: `cat` reads files from the
//! ConfigMaps the pod mounts, and `timeout N bash -c '</dev/tcp/IP/PORT'` dials, but only to the
//! loopback listeners a test maps declared addresses to; an address not mapped never answers.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::fake_kube::Body;

/// What a command run in the fake container printed and how it ended.
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn status(code: u16, reason: &str, message: String) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(
            Full::new(Bytes::from(
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code})
                .to_string(),
            ))
            .boxed(),
        )
        .unwrap()
}

/// The subprotocols a websocket request offers, in its order.
fn offered(req: &Request<hyper::body::Incoming>) -> Vec<String> {
    req.headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect()
}

/// A binary message on `channel`.
fn frame(channel: u8, data: &[u8]) -> Message {
    let mut b = vec![channel];
    b.extend_from_slice(data);
    Message::Binary(b.into())
}

type Socket = WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// The handshake's accept key, and the websocket the connection becomes once the 101 is sent;
/// a request without a key is refused.
#[allow(clippy::result_large_err)]
fn upgrade(
    req: &mut Request<hyper::body::Incoming>,
) -> Result<(String, impl Future<Output = Option<Socket>> + use<>), Response<Body>> {
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return Err(status(400, "BadRequest", "Upgrade request required".into()));
    };
    let on = hyper::upgrade::on(req);
    Ok((key, async move {
        let upgraded = on.await.ok()?;
        Some(
            WebSocketStream::from_raw_socket(
                hyper_util::rt::TokioIo::new(upgraded),
                Role::Server,
                None,
            )
            .await,
        )
    }))
}

/// The query's `command` values in order, and its `container`.
pub fn command_of(query: &str) -> (Vec<String>, Option<String>) {
    let mut argv = Vec::new();
    let mut container = None;
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        let v = super::fake_kube::percent_decode(&v.replace('+', " "));
        match k {
            "command" => argv.push(v),
            "container" => container = Some(v),
            _ => {}
        }
    }
    (argv, container)
}

/// Checks the request against the pod, then upgrades and runs `run` in the named container.
pub fn serve(
    mut req: Request<hyper::body::Incoming>,
    pod: &Value,
    minor: u32,
    run: impl FnOnce(&str, &[String]) -> Ran + Send + 'static,
) -> Response<Body> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (argv, container) = command_of(req.uri().query().unwrap_or(""));
    let spec: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let container = match container {
        Some(c) => c,
        None if spec.len() == 1 => spec[0].to_string(),
        None => {
            return status(
                400,
                "BadRequest",
                format!(
                    "a container name must be specified for pod {name}, choose one of: {spec:?}"
                ),
            );
        }
    };
    if !spec.contains(&container.as_str()) {
        return status(
            400,
            "BadRequest",
            format!("container {container} is not valid for pod {name}"),
        );
    }
    if argv.is_empty() {
        return status(
            400,
            "BadRequest",
            "you must specify at least 1 command".into(),
        );
    }
    let running = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["name"] == container.as_str() && c.pointer("/state/running").is_some());
    if !running {
        // The kubelet's answer, passed through unchanged since nothing was upgraded.
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(
                Full::new(Bytes::from(format!(
                    "container not found (\"{container}\")"
                )))
                .boxed(),
            )
            .unwrap();
    }
    let offered = offered(&req);
    let supported: &[&str] = if minor >= 30 {
        &["v5.channel.k8s.io", "v4.channel.k8s.io"]
    } else {
        &["v4.channel.k8s.io"]
    };
    let Some(protocol) = offered
        .iter()
        .find(|p| supported.contains(&p.as_str()))
        .cloned()
    else {
        return status(
            400,
            "BadRequest",
            format!("requested protocol(s) are not supported: {offered:?}; supports {supported:?}"),
        );
    };
    let (key, upgraded) = match upgrade(&mut req) {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    tokio::spawn(async move {
        let Some(mut ws) = upgraded.await else { return };
        let ran = tokio::task::spawn_blocking(move || run(&container, &argv))
            .await
            .unwrap();
        if !ran.stdout.is_empty() {
            let _ = ws.send(frame(1, ran.stdout.as_bytes())).await;
        }
        if !ran.stderr.is_empty() {
            let _ = ws.send(frame(2, ran.stderr.as_bytes())).await;
        }
        let last = if ran.code == 0 {
            json!({"metadata": {}, "status": "Success"})
        } else {
            json!({"metadata": {}, "status": "Failure",
                   "message": format!("command terminated with non-zero exit code: exit status {}", ran.code),
                   "reason": "NonZeroExitCode",
                   "details": {"causes": [{"reason": "ExitCode", "message": ran.code.to_string()}]}})
        };
        let _ = ws.send(frame(3, last.to_string().as_bytes())).await;
        let _ = ws.close(None).await;
        // Drain until the client's close, as a server does.
        while let Some(Ok(_)) = ws.next().await {}
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", key)
        .header("sec-websocket-protocol", protocol)
        .body(Full::new(Bytes::new()).boxed())
        .unwrap()
}

/// A file in the container: under one of its ConfigMap mounts, the ConfigMap's key.
pub fn read_file(
    pod: &Value,
    container: &str,
    path: &str,
    config_maps: &BTreeMap<String, Value>,
) -> Option<String> {
    let c = pod
        .pointer("/spec/containers")?
        .as_array()?
        .iter()
        .find(|c| c["name"] == container)?;
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let mount = m["mountPath"].as_str()?.trim_end_matches('/');
        let key = match m["subPath"].as_str() {
            Some(sub) if path == mount => sub,
            None => path.strip_prefix(mount)?.strip_prefix('/')?,
            _ => continue,
        };
        let volume = pod
            .pointer("/spec/volumes")?
            .as_array()?
            .iter()
            .find(|v| v["name"] == m["name"])?;
        let cm = volume.pointer("/configMap/name")?.as_str()?;
        return config_maps
            .get(cm)?
            .pointer(&format!("/data/{key}"))?
            .as_str()
            .map(String::from);
    }
    None
}

/// The fake container's commands.
pub fn run(
    pod: &Value,
    container: &str,
    argv: &[String],
    config_maps: &BTreeMap<String, Value>,
    dials: &BTreeMap<(String, u16), u16>,
) -> Ran {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    let ok = |stdout: String| Ran {
        stdout,
        stderr: String::new(),
        code: 0,
    };
    let fail = |stderr: String, code: i32| Ran {
        stdout: String::new(),
        stderr,
        code,
    };
    match words.as_slice() {
        ["cat", path] => match read_file(pod, container, path, config_maps) {
            Some(text) => ok(text),
            None => fail(format!("cat: {path}: No such file or directory\n"), 1),
        },
        ["timeout", _, "bash", "-c", script] => {
            let Some((ip, port)) = script
                .strip_prefix("</dev/tcp/")
                .and_then(|r| r.rsplit_once('/'))
                .and_then(|(ip, p)| Some((ip.to_string(), p.parse::<u16>().ok()?)))
            else {
                return fail(
                    format!("bash: {script}: unexpected script in this fake\n"),
                    2,
                );
            };
            match dials.get(&(ip.clone(), port)) {
                // Nothing routes there: the dial hangs until timeout ends it.
                None => fail(String::new(), 124),
                Some(local) => match std::net::TcpStream::connect(("127.0.0.1", *local)) {
                    Ok(_) => ok(String::new()),
                    Err(_) => fail(
                        format!(
                            "bash: connect: Connection refused\nbash: line 1: /dev/tcp/{ip}/{port}: Connection refused\n"
                        ),
                        1,
                    ),
                },
            }
        }
        [program, ..] => fail(
            format!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": executable file not found in $PATH: unknown\n"
            ),
            127,
        ),
        [] => fail(String::new(), 1),
    }
}

/// `pods/portforward` on the websocket channel protocol, as the kubelet serves it (kubelet
/// `cri/streaming/portforward/websocket.go`): `ports` from the query (comma-separated or
/// repeated), two channels per port (data 2i, error 2i+1), each opened by the port number as two
/// little-endian bytes; then the data channel carries the connection's bytes both ways. `target`
/// says which loopback port stands for the pod's port; none: the error channel says so.
pub fn serve_portforward(
    mut req: Request<hyper::body::Incoming>,
    pod: &Value,
    target: impl Fn(u16) -> Option<u16> + Send + 'static,
) -> Response<Body> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ports: Vec<u16> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "ports")
        .flat_map(|(_, v)| {
            super::fake_kube::percent_decode(v)
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect::<Vec<u16>>()
        })
        .collect();
    if ports.is_empty() {
        return status(
            400,
            "BadRequest",
            "query parameter \"port\" is required".into(),
        );
    }
    let offered = offered(&req);
    // The kubelet also takes no subprotocol at all ("") as binary channels.
    let protocol = offered.iter().find(|p| *p == "v4.channel.k8s.io").cloned();
    if protocol.is_none() && !offered.is_empty() {
        return status(
            400,
            "BadRequest",
            format!(
                "requested protocol(s) are not supported: {offered:?}; supports [\"\", \"v4.channel.k8s.io\"]"
            ),
        );
    }
    let (key, upgraded) = match upgrade(&mut req) {
        Ok(u) => u,
        Err(refused) => return refused,
    };
    tokio::spawn(async move {
        let Some(ws) = upgraded.await else { return };
        let (mut tx, mut rx) = ws.split();
        for (i, p) in ports.iter().enumerate() {
            let le = p.to_le_bytes();
            let _ = tx.send(frame(2 * i as u8, &le)).await;
            let _ = tx.send(frame(2 * i as u8 + 1, &le)).await;
        }
        // This fake forwards the first port only: fatelab asks for one per connection.
        let port = ports[0];
        let Some(local) = target(port) else {
            let msg = format!(
                "error forwarding port {port} to pod {name}: failed to connect to localhost:{port} inside namespace: connection refused"
            );
            let _ = tx.send(frame(1, msg.as_bytes())).await;
            let _ = tx.close().await;
            return;
        };
        let Ok(upstream) = tokio::net::TcpStream::connect(("127.0.0.1", local)).await else {
            let _ = tx.send(frame(1, b"connection refused")).await;
            let _ = tx.close().await;
            return;
        };
        let (mut up_r, mut up_w) = upstream.into_split();
        let to_pod = async {
            use tokio::io::AsyncWriteExt;
            while let Some(Ok(m)) = rx.next().await {
                match m {
                    Message::Binary(b)
                        if b.first() == Some(&0)
                            && b.len() > 1
                            && up_w.write_all(&b[1..]).await.is_err() =>
                    {
                        break;
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            let _ = up_w.shutdown().await;
        };
        let from_pod = async {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match up_r.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(frame(0, &buf[..n])).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = tx.close().await;
        };
        tokio::join!(to_pod, from_pod);
    });
    let mut resp = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", key);
    if let Some(p) = protocol {
        resp = resp.header("sec-websocket-protocol", p);
    }
    resp.body(Full::new(Bytes::new()).boxed()).unwrap()
}
