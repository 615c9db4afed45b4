//! Pure data and the rules over it: what the lab is, what each release needs, which versions go
//! together, how a party is sized and judged healthy, and the shapes of the record and the
//! status report. Nothing here touches the host or the network.

pub mod baseline;
pub mod catalog;
pub mod compare;
pub mod compat;
pub mod credentials;
pub mod dataset;
pub mod health;
pub mod jobs;
pub mod local;
pub mod probe;
pub mod record;
pub mod report;
pub mod scenario;
pub mod sizing;
pub mod spec;
pub mod status;
pub mod step;
pub mod target;
pub mod training;
