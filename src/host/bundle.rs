//! A bundle of files for a bug report, kept in memory as it is collected (with what could not be
//! collected, and why), every text scrubbed of the lab's secrets, then written as one `.tar.gz`.

use std::path::Path;

use anyhow::{Context, Result};

use crate::secret::{Secret, scrub};

pub struct Bundle {
    /// The top directory inside the archive.
    root: String,
    secrets: Vec<Secret>,
    pub files: Vec<(String, Vec<u8>, String)>,
    pub missing: Vec<(String, String)>,
}

impl Bundle {
    pub fn new(root: &str, secrets: Vec<Secret>) -> Bundle {
        Bundle {
            root: root.into(),
            secrets,
            files: Vec::new(),
            missing: Vec::new(),
        }
    }

    /// A text file, scrubbed; `what` says what it holds, for the index.
    pub fn text(&mut self, path: &str, text: &str, what: &str) {
        let clean = scrub(text, &self.secrets);
        self.files
            .push((path.into(), clean.into_bytes(), what.into()));
    }

    pub fn json(&mut self, path: &str, v: &serde_json::Value, what: &str) {
        let text = serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
        self.text(path, &text, what);
    }

    /// A file as it is (an archive FATE Flow made): not scrubbed, so only what holds no secret
    /// of fatelab's.
    pub fn binary(&mut self, path: &str, bytes: Vec<u8>, what: &str) {
        self.files.push((path.into(), bytes, what.into()));
    }

    /// A text file when `got` is one; else the index says `what` could not be had, and why.
    pub fn text_or_missing<E: std::fmt::Display>(
        &mut self,
        path: &str,
        got: Result<String, E>,
        what: &str,
    ) {
        match got {
            Ok(text) => self.text(path, &text, what),
            Err(e) => self.missing(what, format!("{e:#}")),
        }
    }

    /// As [`Bundle::text_or_missing`], for a JSON document.
    pub fn json_or_missing(&mut self, path: &str, got: Result<serde_json::Value>, what: &str) {
        match got {
            Ok(v) => self.json(path, &v, what),
            Err(e) => self.missing(what, format!("{e:#}")),
        }
    }

    pub fn missing(&mut self, what: impl Into<String>, why: impl Into<String>) {
        let why = scrub(&why.into(), &self.secrets);
        self.missing.push((what.into(), why));
    }

    pub fn size(&self) -> u64 {
        self.files.iter().map(|(_, b, _)| b.len() as u64).sum()
    }

    /// Writes the archive (through a temporary file, renamed at the end: no half bundle).
    pub fn write(&self, to: &Path) -> Result<u64> {
        let tmp = to.with_extension("partial");
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for (path, bytes, _) in &self.files {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(now);
            h.set_cksum();
            tar.append_data(&mut h, format!("{}/{path}", self.root), bytes.as_slice())
                .with_context(|| format!("adding {path}"))?;
        }
        tar.into_inner()?.finish()?;
        std::fs::rename(&tmp, to).with_context(|| format!("writing {}", to.display()))?;
        Ok(std::fs::metadata(to)?.len())
    }
}
