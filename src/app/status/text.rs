//! The status report in words, for people.

use std::fmt::Write as _;

use crate::model::status::{LabStatus, StatusReport};

fn mark(healthy: bool) -> &'static str {
    if healthy { "ok  " } else { "FAIL" }
}

pub fn text(report: &StatusReport) -> String {
    let Some(lab) = &report.of else {
        return String::new();
    };
    let mut s = String::new();
    if let Some(local) = &lab.local {
        let _ = writeln!(
            s,
            "Local FATE {} lab (processes on this host): {}",
            local.fate,
            if report.healthy {
                "healthy"
            } else {
                "NOT healthy"
            }
        );
        for p in &local.processes {
            let who = match p.party {
                Some(id) => format!("{} {id}", p.role),
                None => p.role.clone(),
            };
            let pid = p.pid.map_or("-".to_string(), |p| p.to_string());
            let ports: Vec<String> = p.ports.iter().map(u16::to_string).collect();
            let _ = writeln!(
                s,
                "{} {:<16} pid {:<8} ports {:<18} {}",
                mark(p.healthy),
                who,
                pid,
                ports.join(","),
                p.detail
            );
        }
        declared(&mut s, lab);
        tests(&mut s, lab);
        return s;
    }
    let _ = writeln!(
        s,
        "KubeFATE {} lab: {}",
        lab.release,
        if report.healthy {
            "healthy"
        } else {
            "NOT healthy"
        }
    );
    let mk = &lab.minikube;
    let _ = writeln!(
        s,
        "{} minikube   {:?} {}",
        mark(mk.healthy),
        mk.state,
        mk.detail
    );
    let _ = writeln!(
        s,
        "{} ingress    {}",
        mark(lab.ingress.healthy),
        lab.ingress.detail
    );
    let kf = &lab.kubefate;
    let _ = writeln!(
        s,
        "{} kubefate   {} {}",
        mark(kf.healthy),
        kf.version.as_deref().unwrap_or("-"),
        kf.detail
    );
    if let Some(c) = &kf.credentials {
        let _ = writeln!(s, "     credentials {} / {}", c.username, c.password);
    }
    parties(&mut s, lab);
    declared(&mut s, lab);
    tests(&mut s, lab);
    served(&mut s, lab);
    s
}

fn declared(s: &mut String, lab: &LabStatus) {
    if lab.changes.is_empty() {
        s.push_str("     as declared: `fatelab up` would change nothing\n");
    } else {
        s.push_str("     not as declared; `fatelab up` would:\n");
        for c in &lab.changes {
            let _ = writeln!(s, "       {c}");
        }
    }
}

fn parties(s: &mut String, lab: &LabStatus) {
    for p in &lab.parties {
        if p.peer {
            let _ = writeln!(
                s,
                "{} party {:<6} another organisation's: {}",
                if p.healthy { "ok  " } else { "WARN" },
                p.id,
                p.detail.as_deref().unwrap_or("")
            );
            continue;
        }
        let _ = writeln!(
            s,
            "{} party {:<6} {} {}/{} pods ready; rollsite {}, FATE Flow {}; {} {}",
            mark(p.healthy),
            p.id,
            p.cluster_status,
            p.pods_ready,
            p.pods_total,
            p.node_ports.rollsite,
            p.node_ports.http,
            p.urls.notebook,
            p.urls.fateboard
        );
        for problem in &p.problems {
            let _ = writeln!(s, "       {problem}");
        }
        if let Some(v) = &p.serving {
            let _ = writeln!(
                s,
                "       FATE-Serving {}: {}/{} pods ready; serving-proxy {}, serving-server {}",
                v.cluster, v.pods_ready, v.pods_total, v.proxy_node_port, v.server_node_port
            );
            for problem in &v.problems {
                let _ = writeln!(s, "         {problem}");
            }
        }
        if let Some(d) = &p.detail {
            let _ = writeln!(s, "       note: {d}");
        }
    }
}

fn served(s: &mut String, lab: &LabStatus) {
    if let Some(v) = &lab.served {
        let _ = writeln!(
            s,
            "     served: service id {} at party {} → model version {} (job {}): {}, {}",
            v.service_id,
            v.guest,
            v.model_version,
            v.job_id,
            if v.bound { "bound" } else { "NOT BOUND" },
            v.detail
        );
    }
}

fn tests(s: &mut String, lab: &LabStatus) {
    if lab.tests.is_empty() {
        s.push_str("     last test: none yet (`fatelab test`)\n");
    }
    for (kind, t) in &lab.tests {
        let at = k8s_openapi::jiff::Timestamp::from_second(t.at)
            .map(|x| x.to_string())
            .unwrap_or_else(|_| "?".into());
        let mut line = format!(
            "     last {kind} test: {} at {at}",
            if t.ok { "success" } else { "FAILED" }
        );
        for job in &t.jobs {
            let _ = write!(
                line,
                "; guest {} / host {}: job {} {}",
                job.guest,
                job.hosts.first().map_or("-".to_string(), u32::to_string),
                job.job_id.as_deref().unwrap_or("-"),
                job.status
            );
            if let Some(m) = job.metrics {
                let _ = write!(line, ", AUC {:.4}", m.auc);
                if let Some(ks) = m.ks {
                    let _ = write!(line, ", KS {ks:.4}");
                }
                if let Some(b) = &job.baseline {
                    let _ = write!(
                        line,
                        ", centralized {}{:.4} (Δ {:.4})",
                        if b.judges(job.kind) { "" } else { "LR " },
                        b.auc,
                        b.shown_gap(m.auc)
                    );
                }
            }
        }
        if let Some(report) = &t.report {
            let _ = write!(line, "; report {report}");
        }
        s.push_str(&line);
        s.push('\n');
    }
}
