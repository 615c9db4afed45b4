//! `fatelab images list|pull|save|load`: the release's images, for connected and air-gapped hosts.

use anyhow::{Result, bail};
use serde::Serialize;

use super::print_stdout;
use crate::cli::{Cli, ImagesAction, ImagesArgs, Output};
use crate::clients::docker;
use crate::host::images::{self, LoadOutcome};
use crate::model::catalog::{self, ImageSource};
use crate::model::spec::parse_registry;
use crate::ui::Ui;

#[derive(Serialize)]
struct Row {
    reference: String,
    role: &'static str,
    used_by: Vec<String>,
    source: ImageSource,
    present: bool,
    id: Option<String>,
}

pub async fn run(cli: &Cli, args: &ImagesArgs) -> Result<()> {
    let release = catalog::find(args.release.as_deref().unwrap_or(catalog::DEFAULT_RELEASE))
        .expect("--release is validated by its parser");
    let registry = match &args.registry {
        Some(r) => parse_registry(r).map_err(crate::exit::usage)?,
        None => None,
    };
    let needed = images::needed(release, registry.as_deref(), args.serving);
    let ui = Ui::new(cli.yes, cli.verbose);
    let docker = docker::connect()?;
    match &args.action {
        ImagesAction::List => {
            let mut rows = Vec::new();
            for i in &needed {
                let id = docker::image_id(&docker, &i.reference).await?;
                rows.push(Row {
                    reference: i.reference.clone(),
                    role: i.role,
                    used_by: i.used_by.clone(),
                    source: i.source,
                    present: id.is_some(),
                    id,
                });
            }
            let out = match cli.output {
                Output::Json => serde_json::to_string_pretty(&rows)? + "\n",
                Output::Text => {
                    let mut s = format!("{:<52} {:<8} {:<17} USED BY\n", "IMAGE", "FOR", "PRESENT");
                    for r in &rows {
                        let present = match (r.present, r.source) {
                            (true, _) => "yes",
                            (false, ImageSource::Artifact) => "no (up loads it)",
                            (false, ImageSource::Registry) => "no",
                        };
                        s.push_str(&format!(
                            "{:<52} {:<8} {:<17} {}\n",
                            r.reference,
                            r.role,
                            present,
                            r.used_by.join(", ")
                        ));
                    }
                    s
                }
            };
            print_stdout(&out)
        }
        ImagesAction::Pull => {
            let pulled = images::pull_missing(&docker, &ui, &needed).await?;
            ui.println(if pulled.is_empty() {
                "Every image that can be pulled is already present.".to_string()
            } else {
                format!("Pulled {}.", pulled.join(", "))
            });
            for i in needed.iter().filter(|i| i.source == ImageSource::Artifact) {
                if docker::image_id(&docker, &i.reference).await?.is_none() {
                    ui.println(format!(
                        "{} is not in any registry: `fatelab up` loads it from the release's .docker file",
                        i.reference
                    ));
                }
            }
            Ok(())
        }
        ImagesAction::Save { archive: output } => {
            let mut missing = Vec::new();
            for i in &needed {
                if docker::image_id(&docker, &i.reference).await?.is_none() {
                    missing.push(i.reference.clone());
                }
            }
            if !missing.is_empty() {
                bail!(
                    "Docker does not have {}; run `fatelab images pull` first (and `fatelab up` loads the KubeFATE image)",
                    missing.join(", ")
                );
            }
            let refs: Vec<String> = needed.iter().map(|i| i.reference.clone()).collect();
            let bar = ui.bytes_bar(None, &output.display().to_string());
            let shown = bar.progress();
            docker::save(&docker, &refs, output, move |n| shown.inc(n)).await?;
            bar.done("written");
            ui.println(format!(
                "Saved {} images into {}.",
                refs.len(),
                output.display()
            ));
            Ok(())
        }
        ImagesAction::Load { file } => {
            if !file.is_file() {
                return Err(crate::exit::usage(format!(
                    "{}: no such file",
                    file.display()
                )));
            }
            match images::load_file(&docker, &ui, file).await? {
                LoadOutcome::AlreadyPresent(tags) => ui.println(format!(
                    "Docker already has every image in {} ({}); nothing loaded.",
                    file.display(),
                    tags.join(", ")
                )),
                LoadOutcome::Loaded(tags) => ui.println(format!("Loaded {}.", tags.join(", "))),
            }
            Ok(())
        }
    }
}
