//! `up --dry-run`: the whole plan of `up`, printed and written with every rendered file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::model::spec::{IpSource, LabSpec};
use crate::model::step::StepName;
use crate::model::target::Cluster;
use crate::render::RenderedFile;
use crate::steps::{AnyStep, Ctx};

/// The file that marks a directory as a fatelab plan directory (and holds the printed plan).
const PLAN_TEXT: &str = "plan.txt";

#[derive(Debug, Serialize)]
pub struct Plan {
    pub lab: LabSpec,
    pub steps: Vec<PlannedStep>,
    #[serde(skip)]
    pub files: Vec<RenderedFile>,
}

#[derive(Debug, Serialize)]
pub struct PlannedStep {
    pub name: StepName,
    pub title: &'static str,
    pub actions: Vec<String>,
    pub files: Vec<String>,
}

pub fn build(ctx: &Ctx, steps: &[Box<dyn AnyStep>]) -> Result<Plan> {
    let mut planned = Vec::new();
    let mut files = Vec::new();
    for step in steps {
        let p = step
            .plan(ctx)
            .with_context(|| format!("planning step {}", step.name()))?;
        planned.push(PlannedStep {
            name: step.name(),
            title: step.title(),
            actions: p.actions,
            files: p.files.iter().map(|f| f.name.clone()).collect(),
        });
        files.extend(p.files);
    }
    Ok(Plan {
        lab: ctx.spec.clone(),
        steps: planned,
        files,
    })
}

/// `up --dry-run` on a host with a lab: what each step would change, observed now, or "nothing
/// to do". A step that cannot be observed (its system is down) shows its whole plan instead.
pub async fn changes(ctx: &Ctx, steps: &[Box<dyn AnyStep>]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "fatelab up: dry run on the lab in {} (nothing was changed)",
        ctx.state_dir.display()
    );
    let mut any = false;
    for (n, step) in steps.iter().enumerate() {
        let _ = writeln!(s, "\n{:>2}. [{}] {}", n + 1, step.name(), step.title());
        match step.observe(ctx).await {
            Ok(diff) if diff.is_empty() => {
                let _ = writeln!(s, "    nothing to do: {}", diff.summary());
            }
            Ok(diff) => {
                any = true;
                ctx.mark_changed();
                for c in diff.changes() {
                    let _ = writeln!(s, "    - would {c}");
                }
                for b in diff.blockers() {
                    let _ = writeln!(s, "    - would stop here: {b}");
                }
            }
            Err(e) => {
                any = true;
                ctx.mark_changed();
                let _ = writeln!(s, "    cannot tell now ({e:#}); the step's plan:");
                for a in step.plan(ctx).map(|p| p.actions).unwrap_or_default() {
                    let _ = writeln!(s, "    - {a}");
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "\n{}",
        if any {
            "`fatelab up` would make the changes above."
        } else {
            "Nothing would change: the lab is as declared."
        }
    );
    s
}

/// What `up` would check first, asked now: on a bare host the plan's other steps have nothing
/// to observe, but the checks that would stop `up` can be named before anything is tried.
pub async fn checks_now(ctx: &Ctx) -> String {
    let blockers = crate::steps::preflight_blockers(ctx).await;
    let mut s = String::from(
        "\nChecked now (the checks `up` makes first; `fatelab doctor` shows them all):\n",
    );
    if blockers.is_empty() {
        s.push_str("    none would stop `up`\n");
    }
    for b in blockers {
        let _ = writeln!(s, "    - would stop here: {b}");
    }
    s
}

/// "minikube on this host", or each party's context and address.
pub fn where_it_runs(spec: &LabSpec) -> String {
    if let Some(ports) = spec.local() {
        return format!(
            "processes on this host (--local): FATE {} from PyPI, one FATE Flow and one RabbitMQ node per party, \
             one nginx, all on 127.0.0.1 from port {}",
            crate::model::local::FATE_VERSION,
            ports.base
        );
    }
    if spec.on_minikube() && spec.ours().count() == spec.parties.len() {
        return "minikube on this host (the tutorial's way; --context or --kubeconfig for an existing cluster)".into();
    }
    spec.parties
        .iter()
        .map(|p| match &p.cluster {
            Cluster::Elsewhere => format!(
                "party {} is another organisation's, reached at {}:{}",
                p.id,
                spec.address(p),
                p.ports.rollsite
            ),
            c => format!(
                "party {} in {}, reached at {}:{}",
                p.id,
                c.describe(),
                spec.address(p),
                p.ports.rollsite
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Plan {
    pub fn to_text(&self, plan_dir: &Path) -> String {
        let spec = &self.lab;
        let r = spec.release;
        let ids: Vec<_> = spec.parties.iter().map(|p| p.id.to_string()).collect();
        let ip_from = match &spec.ip_source {
            IpSource::Given => "given".to_string(),
            IpSource::Detected(iface) => format!("detected on {iface}; override with --ip"),
            IpSource::Node(node) => format!("the InternalIP of {node}; override with --ip"),
            IpSource::Pending => "a node's InternalIP, read from the cluster".to_string(),
        };
        let registry = spec
            .registry
            .as_deref()
            .unwrap_or("Docker Hub (no --registry)");
        let mut s = String::new();
        let _ = writeln!(s, "fatelab up: dry run (nothing on this host was changed)");
        let _ = writeln!(
            s,
            "Lab: {} parties ({}) on {} ({ip_from})",
            spec.parties.len(),
            ids.join(", "),
            spec.ip
        );
        let _ = writeln!(s, "Where: {}", where_it_runs(spec));
        if spec.local().is_some() {
            let _ = writeln!(
                s,
                "Release: FATE {} from PyPI (no KubeFATE release deploys it); no images, no Kubernetes",
                crate::model::local::FATE_VERSION
            );
        } else {
            let _ = writeln!(
                s,
                "Release: KubeFATE {} — service {}, chart {} {}, images {}, {}",
                r.release,
                r.kubefate_service,
                r.chart.name,
                r.chart.version,
                r.image_tag,
                r.kubernetes.describe()
            );
            let _ = writeln!(s, "Registry: {registry}; domain: {}", spec.domain);
        }
        for (n, step) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "\n{:>2}. [{}] {}", n + 1, step.name, step.title);
            for a in &step.actions {
                let _ = writeln!(s, "    - {a}");
            }
        }
        let _ = writeln!(s, "\nFiles written to {}:", plan_dir.display());
        for f in &self.files {
            let _ = writeln!(s, "    {}", f.name);
        }
        let _ = writeln!(s, "    {PLAN_TEXT}");
        s
    }

    pub fn to_json(&self, plan_dir: &Path) -> Result<String> {
        #[derive(Serialize)]
        struct Report<'a> {
            dry_run: bool,
            plan_dir: &'a Path,
            #[serde(flatten)]
            plan: &'a Plan,
            files: Vec<&'a str>,
        }
        let report = Report {
            dry_run: true,
            plan_dir,
            plan: self,
            files: self.files.iter().map(|f| f.name.as_str()).collect(),
        };
        Ok(serde_json::to_string_pretty(&report)?)
    }

    /// Writes every rendered file and `plan.txt` into `dir`, creating it if needed.
    pub fn write(&self, dir: &Path, text: &str) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the plan directory {}", dir.display()))?;
        remove_stale_party_files(dir, &self.files)?;
        let mut written = Vec::new();
        let all = self
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.contents.as_str()));
        for (name, contents) in all.chain([(PLAN_TEXT, text)]) {
            let path = dir.join(name);
            std::fs::write(&path, contents)
                .with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// A re-run with fewer parties must not leave an old party's cluster.yaml looking current;
/// only directories fatelab wrote before (they hold plan.txt) are cleaned.
fn remove_stale_party_files(dir: &Path, keep: &[RenderedFile]) -> Result<()> {
    if !dir.join(PLAN_TEXT).exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let is_party_file = name
            .strip_prefix("fate-")
            .and_then(|n| n.strip_suffix(".yaml"))
            .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()));
        if is_party_file && !keep.iter().any(|f| f.name == name) {
            std::fs::remove_file(dir.join(&name))?;
        }
    }
    Ok(())
}
