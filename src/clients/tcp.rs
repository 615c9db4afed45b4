//! Whether an address accepts a TCP connection: the one network question fatelab asks of a
//! party it does not run.

use std::net::SocketAddr;
use std::time::Duration;

/// `Ok` when `addr` accepts a connection within `within`; else why not, in words.
pub async fn answers(addr: SocketAddr, within: Duration) -> Result<(), String> {
    match tokio::time::timeout(within, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err("connection refused: nothing listens there".into())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {}s",
            within.as_secs_f64().round() as u64
        )),
    }
}
