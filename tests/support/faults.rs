//! Faults a fake can be told to show on its next requests, as real servers fail for a moment:
//! an error status, a connection reset, no answer at all, or — for a request that changes
//! something — the work done but the answer lost.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer with this HTTP status (and the server's usual error body).
    Status(u16),
    /// Drop the connection without an answer.
    Reset,
    /// Never answer.
    Stall,
    /// Do the work, then never answer (a timed-out request that reached the server).
    AnswerLost,
}

/// One planned fault: (method, path prefix — or the whole path, when it ends with `$` — how many
/// more times, fault).
type Planned = (String, String, u32, Fault);

/// The faults still to show.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Vec<Planned>>>);

impl Faults {
    /// The next `times` requests of `method` whose path starts with `path` show `fault` (or
    /// whose path is `path`, when it ends with `$`).
    pub fn add(&self, method: &str, path: &str, times: u32, fault: Fault) {
        self.0
            .lock()
            .unwrap()
            .push((method.into(), path.into(), times, fault));
    }

    /// The fault this request shows, if any (counting it down).
    pub fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut all = self.0.lock().unwrap();
        let hit = all.iter_mut().find(|(m, p, left, _)| {
            let hits = match p.strip_suffix('$') {
                Some(whole) => path == whole,
                None => path.starts_with(p.as_str()),
            };
            m == method && hits && *left > 0
        })?;
        hit.2 -= 1;
        Some(hit.3.clone())
    }
}

impl Faults {
    /// Whether every planned fault has been shown as many times as planned.
    pub fn all_shown(&self) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .all(|(_, _, left, _)| *left == 0)
    }
}

/// A response that makes [`super::serve`] drop the connection instead of answering.
#[derive(Clone, Copy)]
pub struct ResetConnection;

pub fn reset<B: Default>() -> hyper::Response<B> {
    let mut r = hyper::Response::new(B::default());
    r.extensions_mut().insert(ResetConnection);
    r
}

/// Never resolves: the fake keeps the connection open and says nothing.
pub async fn stall<T>() -> T {
    std::future::pending().await
}
