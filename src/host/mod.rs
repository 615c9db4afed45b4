//! This machine: its facts (addresses, the invoking user, what Docker holds) and the files
//! fatelab keeps or edits on it (the state dir and its record, the credentials, the cache's
//! packages and charts, the hosts file).

pub mod bundle;
pub mod chart;
pub mod credentials;
pub mod facts;
pub mod hostip;
pub mod hosts_file;
pub mod images;
pub mod invoker;
pub mod local_lab;
pub mod lock;
pub mod minikube;
pub mod package;
pub mod process;
pub mod python;
pub mod state;
