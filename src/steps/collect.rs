//! What `fatelab logs` puts into a bug report: for each namespace fatelab made (FATE-Serving's
//! too) and the ingress controller's, every pod's manifest and status, each container's log and
//! its previous run's,
//! the events in time order; KubeFATE's clusters and jobs; for the last test jobs, FATE Flow's job
//! and task records and the job's logs, on every party of ours that took part; minikube's logs
//! and status; a local lab's process logs and confs; fatelab's own run logs. Each part that
//! cannot be had is noted with the reason, and the rest is still collected.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::Ctx;
use crate::clients::kube;
use crate::clients::minikube::Minikube;
use crate::host::bundle::Bundle;
use crate::host::local_lab::LabDirs;
use crate::model::compat;
use crate::model::local::Role;
use crate::model::target::Cluster;
use crate::ui::StepLine;

/// Env variables whose values are kept out of a bundle whatever they hold.
const SECRET_NAMES: [&str; 5] = ["PASS", "TOKEN", "SECRET", "KEY", "CREDENTIAL"];

/// A pod's manifest and status for a bug report: no managed fields, and every env value whose
/// name says it is a secret replaced by `***`.
pub fn pod_for_report(pod: &Pod) -> Value {
    let mut v = serde_json::to_value(pod).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    for list in ["containers", "initContainers"] {
        let Some(containers) = v.pointer_mut(&format!("/spec/{list}")) else {
            continue;
        };
        for c in containers.as_array_mut().into_iter().flatten() {
            for e in c
                .get_mut("env")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let name = e["name"].as_str().unwrap_or("").to_uppercase();
                if SECRET_NAMES.iter().any(|s| name.contains(s)) && e.get("value").is_some() {
                    e["value"] = Value::String("***".into());
                }
            }
        }
    }
    v
}

/// The pods of one namespace, their logs and its events, under `dir`.
async fn namespace(
    client: &::kube::Client,
    ns: &str,
    name_prefix: Option<&str>,
    dir: &str,
    b: &mut Bundle,
) {
    let pods = match kube::pods_in(client, ns, None).await {
        Ok(p) => p,
        Err(e) => {
            b.missing(format!("the pods of {ns}"), format!("{e:#}"));
            return;
        }
    };
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        if name_prefix.is_some_and(|p| !name.starts_with(p)) {
            continue;
        }
        b.json(
            &format!("{dir}/pods/{name}.json"),
            &pod_for_report(&pod),
            &format!("pod {ns}/{name}: manifest and status"),
        );
        let statuses = pod.status.as_ref();
        let restarts = |c: &str| {
            statuses
                .into_iter()
                .flat_map(|s| {
                    s.container_statuses
                        .iter()
                        .flatten()
                        .chain(s.init_container_statuses.iter().flatten())
                })
                .find(|s| s.name == c)
                .map(|s| s.restart_count)
                .unwrap_or(0)
        };
        let spec = pod.spec.as_ref();
        let containers: Vec<String> = spec
            .into_iter()
            .flat_map(|s| {
                s.init_containers
                    .iter()
                    .flatten()
                    .chain(s.containers.iter())
            })
            .map(|c| c.name.clone())
            .collect();
        for c in containers {
            b.text_or_missing(
                &format!("{dir}/logs/{name}/{c}.log"),
                kube::container_log(client, ns, &name, &c, false).await,
                &format!("log of {ns}/{name} container {c}"),
            );
            if restarts(&c) > 0 {
                b.text_or_missing(
                    &format!("{dir}/logs/{name}/{c}.previous.log"),
                    kube::container_log(client, ns, &name, &c, true).await,
                    &format!("log of {ns}/{name} container {c}'s previous run"),
                );
            }
        }
    }
    match kube::events_in(client, ns).await {
        Ok(lines) if lines.is_empty() => b.text(
            &format!("{dir}/events.txt"),
            "(no events: the API server keeps them for an hour)\n",
            &format!("the events of {ns}, oldest first"),
        ),
        Ok(lines) => b.text(
            &format!("{dir}/events.txt"),
            &(lines.join("\n") + "\n"),
            &format!("the events of {ns}, oldest first"),
        ),
        Err(e) => b.missing(format!("the events of {ns}"), format!("{e:#}")),
    }
}

async fn kubernetes(ctx: &Ctx, line: &StepLine, b: &mut Bundle) {
    let clusters = ctx.clusters().to_vec();
    let record = ctx.record();
    for c in &clusters {
        let prefix = match (clusters.len(), c) {
            (1, _) => "kubernetes".to_string(),
            (_, Cluster::Context(name)) => format!("kubernetes/{name}"),
            _ => "kubernetes/minikube".to_string(),
        };
        let client = match ctx.kube_in(c).await {
            Ok(k) => k.clone(),
            Err(e) => {
                b.missing(
                    format!("{} (every namespace)", c.describe()),
                    format!("{e:#}"),
                );
                continue;
            }
        };
        let serving = ctx.spec.serving != crate::model::spec::ServingWish::Off;
        let mut namespaces: BTreeSet<String> = ctx
            .spec
            .ours()
            .filter(|p| &p.cluster == c)
            .flat_map(|p| [Some(p.namespace()), serving.then(|| p.serving_name())])
            .flatten()
            .collect();
        namespaces.insert("kube-fate".into());
        for ns in &namespaces {
            line.note(format!("collecting namespace {ns}"));
            namespace(&client, ns, None, &format!("{prefix}/{ns}"), b).await;
        }
        if *c == Cluster::Minikube
            && let Some(m) = &record.minikube
        {
            let (ns, controller) = compat::ingress_controller(&m.version);
            line.note(format!("collecting the ingress controller in {ns}"));
            namespace(&client, ns, Some(controller), &format!("{prefix}/{ns}"), b).await;
        }
    }
}

async fn kubefate(ctx: &Ctx, line: &StepLine, b: &mut Bundle) {
    for c in ctx.clusters() {
        let dir = match c {
            Cluster::Context(name) => format!("kubefate/{name}"),
            _ => "kubefate".into(),
        };
        line.note(format!(
            "asking KubeFATE in {} for its clusters and jobs",
            c.describe()
        ));
        let kf = match ctx.kubefate_in(c).await {
            Ok(kf) => kf,
            Err(e) => {
                b.missing(
                    format!("KubeFATE's clusters and jobs ({})", c.describe()),
                    format!("{e:#}"),
                );
                continue;
            }
        };
        for (path, file, what) in [
            (
                "/v1/cluster/?all=true",
                "clusters.json",
                "KubeFATE's clusters, deleted ones too, with their specs",
            ),
            (
                "/v1/job/",
                "jobs.json",
                "KubeFATE's jobs and their sub-jobs",
            ),
        ] {
            b.json_or_missing(&format!("{dir}/{file}"), kf.data(path).await, what);
        }
    }
}

/// The last test jobs, on every party of ours that took part.
async fn fate_flow(ctx: &Ctx, line: &StepLine, b: &mut Bundle) {
    let record = ctx.record();
    let mut jobs: Vec<(String, u32)> = record
        .tests
        .values()
        .chain(record.last_test.iter())
        .flat_map(|t| t.jobs.iter())
        .filter_map(|j| {
            let id = j.job_id.clone()?;
            Some(
                std::iter::once(j.guest)
                    .chain(j.hosts.iter().copied())
                    .map(move |p| (id.clone(), p)),
            )
        })
        .flatten()
        .filter(|(_, p)| ctx.spec.party(*p).is_some_and(|p| p.is_ours()))
        .collect();
    jobs.sort();
    jobs.dedup();
    if jobs.is_empty() {
        b.missing(
            "FATE Flow's job records and logs",
            "no test job on record (`fatelab test` runs one)",
        );
    }
    for (job, party) in jobs {
        line.note(format!("asking party {party}'s FATE Flow about job {job}"));
        let dir = format!("fate-flow/{party}/{job}");
        let flow = match ctx.fate_flow(party).await {
            Ok(f) => f,
            Err(e) => {
                b.missing(format!("job {job} on party {party}"), format!("{e:#}"));
                continue;
            }
        };
        b.json_or_missing(
            &format!("{dir}/job.json"),
            flow.job_records(&job).await,
            &format!("FATE Flow's rows of job {job} on party {party}"),
        );
        b.json_or_missing(
            &format!("{dir}/tasks.json"),
            flow.task_records(&job).await,
            &format!("FATE Flow's tasks of job {job} on party {party}"),
        );
        match flow.job_logs(&job).await {
            Ok(bytes) => b.binary(
                &format!("{dir}/logs.tar.gz"),
                bytes,
                &format!("job {job}'s log directory on party {party}, as FATE Flow packs it"),
            ),
            Err(e) => b.missing(
                format!("job {job}'s logs on party {party}"),
                format!("{e:#}"),
            ),
        }
    }
}

async fn minikube(ctx: &Ctx, line: &StepLine, b: &mut Bundle) {
    let Some(m) = ctx.record().minikube else {
        return;
    };
    line.note("running `minikube logs` and `minikube status`");
    let client = Minikube::new(m.path.clone(), &(&m.homes).into());
    for (args, file) in [
        (&["logs"][..], "minikube/logs.txt"),
        (&["status"][..], "minikube/status.txt"),
    ] {
        let said = client.run(args).await.map(|out| {
            format!(
                "$ minikube {} (exit {:?})\n{}",
                args.join(" "),
                out.code,
                out.combined()
            )
        });
        b.text_or_missing(file, said, &format!("`minikube {}`", args.join(" ")));
    }
}

/// The end of a file, at most `most` bytes (a process log's end is what tells).
fn tail_of(path: &std::path::Path, most: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(most)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// A local lab: each process's output, and the confs fatelab wrote (scrubbed of the password).
fn local(ctx: &Ctx, b: &mut Bundle) {
    let Some(l) = ctx.record().local else {
        return;
    };
    for (key, p) in &l.processes {
        match tail_of(&p.log, 8 << 20) {
            Ok(text) => b.text(
                &format!("local/{key}.log"),
                &text,
                &format!("output of {} (pid {})", p.role.describe(), p.pid),
            ),
            Err(e) => b.missing(
                format!("the output of {}", p.role.describe()),
                format!("{}: {e}", p.log.display()),
            ),
        }
    }
    let dirs = LabDirs::new(&ctx.state_dir);
    let mut confs = Vec::new();
    for party in &ctx.spec.parties {
        let (flow, broker) = (Role::FateFlow(party.id), Role::Broker(party.id));
        let home = dirs.party_home(party.id).join("conf");
        for file in ["service_conf.yaml", "rabbitmq_route_table.yaml"] {
            confs.push((home.join(file), format!("local/conf/{}/{file}", flow.key())));
        }
        confs.push((
            dirs.of(broker).join("rabbitmq.conf"),
            format!("local/conf/{}/rabbitmq.conf", broker.key()),
        ));
    }
    confs.push((
        dirs.of(Role::Proxy).join("nginx.conf"),
        "local/conf/proxy/nginx.conf".into(),
    ));
    for (from, to) in confs {
        match std::fs::read_to_string(&from) {
            Ok(text) => b.text(&to, &text, &format!("{}", from.display())),
            Err(e) => b.missing(to, format!("{}: {e}", from.display())),
        }
    }
}

/// fatelab's own logs of its last runs.
fn runs(ctx: &Ctx, b: &mut Bundle) {
    let dir = ctx.state_dir.join("runs");
    let mut logs: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    if logs.is_empty() {
        b.missing("fatelab's run logs", format!("none in {}", dir.display()));
    }
    for p in logs {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match std::fs::read_to_string(&p) {
            Ok(text) => b.text(
                &format!("fatelab-runs/{name}"),
                &text,
                "fatelab's own log of one run",
            ),
            Err(e) => b.missing(format!("run log {name}"), format!("{e}")),
        }
    }
}

/// Everything there is to collect about the lab on record.
pub async fn collect(ctx: &Ctx, line: &StepLine, b: &mut Bundle) {
    if ctx.spec.local().is_some() {
        local(ctx, b);
    } else {
        kubernetes(ctx, line, b).await;
        kubefate(ctx, line, b).await;
        minikube(ctx, line, b).await;
    }
    fate_flow(ctx, line, b).await;
    runs(ctx, b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_env_values_are_left_out() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "mariadb", "managedFields": [{"manager": "x"}]},
            "spec": {"containers": [{"name": "mariadb", "env": [
                {"name": "MYSQL_ROOT_PASSWORD", "value": "s3cr3t-value"},
                {"name": "MYSQL_DATABASE", "value": "kube_fate"},
                {"name": "FATECLOUD_USER_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "kubefate-secret", "key": "kubefatePassword"}}}
            ]}]}
        }))
        .unwrap();
        let v = pod_for_report(&pod);
        let text = v.to_string();
        assert!(!text.contains("s3cr3t-value") && !text.contains("managedFields"));
        assert!(text.contains("kube_fate") && text.contains("kubefatePassword"));
    }
}
