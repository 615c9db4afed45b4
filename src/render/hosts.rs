//! The lines fatelab puts in the hosts file, inside one marked block it owns.

use crate::model::spec::LabSpec;

pub const BEGIN_MARKER: &str =
    "# BEGIN fatelab (managed by fatelab: `fatelab down` removes this block)";
pub const END_MARKER: &str = "# END fatelab";

/// `(ip, hostname)` pairs: the KubeFATE service, then each party's notebook and FATE Board.
pub fn entries(spec: &LabSpec) -> Vec<(String, String)> {
    let mut out = vec![(spec.ip.to_string(), spec.service_host())];
    for party in spec.ours() {
        let ip = spec.address(party).to_string();
        let (notebook, fateboard) = spec.hostnames(party);
        out.push((ip.clone(), notebook));
        out.push((ip, fateboard));
    }
    out
}

/// The whole block, markers included, ending with a newline.
pub fn block(spec: &LabSpec) -> String {
    let mut s = format!("{BEGIN_MARKER}\n");
    for (ip, host) in entries(spec) {
        s.push_str(&format!("{ip} {host}\n"));
    }
    s.push_str(END_MARKER);
    s.push('\n');
    s
}
