//! Exit codes and the error kinds that choose them.
//!
//! 0 success, 1 something failed while running, 2 bad input (nothing on the host was changed),
//! 3 no lab exists (for `status`).

use std::fmt;

pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const NO_LAB: i32 = 3;

/// Bad input from a flag or a scenario file. Always raised before anything on the host changes.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Maps an error to the process exit code by looking for the kinds above anywhere in its chain.
pub fn code_for(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return USAGE;
        }
    }
    FAILURE
}
