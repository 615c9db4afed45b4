//! Exit codes and the error kinds that choose them.
//!
//! 0 success, 1 something failed while running, 2 bad input (nothing on the host was changed),
//! 3 no lab exists (for `status`).

pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const NO_LAB: i32 = 3;

/// Bad input from a flag or a scenario file. Always raised before anything on the host changes.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

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
