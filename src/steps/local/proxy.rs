//! Step 4 of a local lab: the nginx FATE Flow sends every federated command to, routing on the
//! `dest-party-id` header to that party's server (FATE Flow keeps no address table itself).

use anyhow::{Context, Result};

use super::super::{Ctx, Diff, Outcome, Step, StepPlan};
use super::{dirs, not_running, recorded, remember, running, scheme, stop, wait_ready};
use crate::host::local_lab;
use crate::host::process;
use crate::model::local::Role;
use crate::model::step::StepName;
use crate::render::local::nginx_conf;
use crate::ui::StepLine;

pub struct Proxy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Nothing,
    Start,
    /// It runs with another party map: write the new one and have it reload (SIGHUP).
    Reload,
}

fn wanted(ctx: &Ctx) -> String {
    let routes: Vec<(u32, u16)> = ctx
        .spec
        .parties
        .iter()
        .map(|p| (p.id, p.ports.http))
        .collect();
    nginx_conf(
        &dirs(ctx).of(Role::Proxy),
        scheme(ctx).proxy(),
        &routes,
        crate::host::facts::is_root(),
    )
}

fn conf_path(ctx: &Ctx) -> std::path::PathBuf {
    dirs(ctx).of(Role::Proxy).join("nginx.conf")
}

async fn listening(port: u16) -> Result<()> {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map(|_| ())
        .with_context(|| format!("nothing accepts on 127.0.0.1:{port} yet"))
}

impl Step for Proxy {
    type Observed = Act;

    fn name(&self) -> StepName {
        StepName::Proxy
    }

    fn title(&self) -> &'static str {
        "Start the nginx that routes FATE Flow's commands between the parties"
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Act>> {
        let port = scheme(ctx).proxy();
        let Some(p) = running(ctx, Role::Proxy) else {
            let why = not_running(ctx, Role::Proxy);
            return Ok(Diff::new(
                vec![format!("start nginx on 127.0.0.1:{port}{why}")],
                "",
                Act::Start,
            ));
        };
        if std::fs::read_to_string(conf_path(ctx)).ok() != Some(wanted(ctx)) {
            return Ok(Diff::new(
                vec![format!(
                    "give nginx (pid {}) the lab's party map now and reload it",
                    p.pid
                )],
                "",
                Act::Reload,
            ));
        }
        Ok(Diff::new(
            vec![],
            format!(
                "nginx (pid {}) routes {} parties on 127.0.0.1:{port}",
                p.pid,
                ctx.spec.parties.len()
            ),
            Act::Nothing,
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Act>) -> Result<()> {
        let port = scheme(ctx).proxy();
        match diff.observed {
            Act::Nothing => return Ok(()),
            Act::Reload => {
                std::fs::write(conf_path(ctx), wanted(ctx))?;
                let p = running(ctx, Role::Proxy).context("nginx ended meanwhile")?;
                process::signal(&p, nix::sys::signal::Signal::SIGHUP)?;
                line.note(format!("nginx (pid {}) reloaded its party map", p.pid));
            }
            Act::Start => {
                stop(ctx, Role::Proxy).await?;
                let nginx = local_lab::programs()
                    .nginx
                    .context("nginx is not installed (`fatelab doctor --local` says how)")?;
                let path = conf_path(ctx);
                std::fs::create_dir_all(path.parent().expect("a dir"))?;
                std::fs::write(&path, wanted(ctx))?;
                let started = local_lab::start_nginx(&nginx, &dirs(ctx))?;
                let p = remember(ctx, Role::Proxy, started, &nginx, vec![port])?;
                wait_ready(ctx, &p, || listening(port)).await?;
                line.note(format!("nginx runs on 127.0.0.1:{port} (pid {})", p.pid));
            }
        }
        Ok(())
    }

    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        match stop(ctx, Role::Proxy).await? {
            None if recorded(ctx, Role::Proxy).is_none() && !dirs(ctx).of(Role::Proxy).exists() => {
                Ok(Outcome::AlreadyDone("no nginx is on record".into()))
            }
            None => {
                let _ = std::fs::remove_dir_all(dirs(ctx).of(Role::Proxy));
                Ok(Outcome::Done)
            }
            Some(_) => {
                let _ = std::fs::remove_dir_all(dirs(ctx).of(Role::Proxy));
                Ok(Outcome::Done)
            }
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let port = scheme(ctx).proxy();
        Ok(StepPlan {
            actions: vec![format!(
                "start nginx on 127.0.0.1:{port}, routing on the dest-party-id header: {}",
                ctx.spec
                    .parties
                    .iter()
                    .map(|p| format!("{} → 127.0.0.1:{}", p.id, p.ports.http))
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            files: vec![crate::render::RenderedFile {
                name: "nginx.conf".into(),
                contents: wanted(ctx),
            }],
        })
    }
}
