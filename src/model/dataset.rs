//! A vertically split training set: the guest's table (ids, the label, its features) and the
//! host's (ids, its features). Everything FATE would trip over later — a missing header, an id
//! column one table lacks, the label in both, a label that is not 0/1, a feature in both, no
//! shared ids — is found here, before anything is sent. The tables joined on their shared ids
//! are what the centralized baseline trains on.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Result, bail};
use sha2::{Digest, Sha256};

use crate::clients::fateflow::jobs::TableSpec;

/// One party's table as read from its CSV.
#[derive(Debug, Clone)]
pub struct PartyTable {
    /// Where it came from, for messages: the path given, or the embedded file's name.
    pub source: String,
    /// The bytes FATE Flow receives (the id column first, as FATE 1.x's DataIO reads it).
    pub upload: Vec<u8>,
    /// Its name in FATE (from its content: a changed file is a new table) and columns.
    pub spec: TableSpec,
    pub features: Vec<String>,
    pub ids: Vec<String>,
    pub x: Vec<Vec<f64>>,
    /// The label of each row (the guest's table only).
    pub y: Option<Vec<f64>>,
}

impl PartyTable {
    pub fn rows(&self) -> u64 {
        self.ids.len() as u64
    }
}

/// Both parties' tables, checked against each other.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub guest: PartyTable,
    pub host: PartyTable,
    /// How many ids both tables hold (what PSI will find).
    pub shared: usize,
    /// The user's own files (not the breast tables fatelab ships).
    pub own: bool,
}

/// The rows both parties hold, every feature side by side: the table a centralized model sees.
#[derive(Debug, Clone)]
pub struct Joined {
    pub x: Vec<Vec<f64>>,
    pub y: Vec<f64>,
}

/// A table name FATE accepts, made of the file's name and its content's hash.
fn table_name(source: &str, bytes: &[u8]) -> String {
    let stem = std::path::Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("table");
    let stem: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let hash = hex::encode(Sha256::digest(bytes));
    format!("{stem}_{}", &hash[..12])
}

/// Reads one party's CSV. `label`: the guest's label column, or `None` for a host, whose table
/// must then not have a column of that name (`forbidden`).
pub fn parse(
    source: &str,
    bytes: &[u8],
    id: &str,
    label: Option<&str>,
    forbidden: Option<&str>,
) -> Result<PartyTable> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => bail!("{source} is not CSV: {e}"),
    };
    if header.iter().all(|c| c.is_empty()) {
        bail!("{source} is empty: it needs a header line naming its columns, then one row per id");
    }
    if header.iter().all(|c| c.parse::<f64>().is_ok()) {
        bail!(
            "{source} has no header: its first line is numbers ({}…); the first line must name the columns \
             (the id column, {}the features)",
            header.iter().take(3).cloned().collect::<Vec<_>>().join(","),
            label
                .map(|l| format!("the label {l}, "))
                .unwrap_or_default()
        );
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = header.iter().find(|c| !seen.insert(c.as_str())) {
        bail!("{source} names the column '{dup}' twice");
    }
    let col = |name: &str| header.iter().position(|c| c == name);
    let Some(id_at) = col(id) else {
        bail!(
            "{source} has no id column '{id}' (its columns: {}); name it with --id",
            header.join(", ")
        );
    };
    let label_at = match label {
        Some(l) => Some(col(l).ok_or_else(|| {
            anyhow::anyhow!(
                "{source} has no label column '{l}' (its columns: {}); the guest's table holds the label: name it with --label",
                header.join(", ")
            )
        })?),
        None => None,
    };
    if let Some(f) = forbidden
        && col(f).is_some()
    {
        bail!(
            "{source} has the label column '{f}' too: only the guest's table holds the label (vertical split: \
             the host has other features of the same ids)"
        );
    }
    let feature_at: Vec<usize> = (0..header.len())
        .filter(|i| *i != id_at && Some(*i) != label_at)
        .collect();
    if feature_at.is_empty() {
        bail!(
            "{source} has no feature column, only the id{}",
            label.map(|_| " and the label").unwrap_or("")
        );
    }
    let (mut ids, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new());
    let mut unique = BTreeSet::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.map_err(|e| anyhow::anyhow!("{source} line {line}: {e}"))?;
        let id = record.get(id_at).unwrap_or_default().to_string();
        if id.is_empty() {
            bail!("{source} line {line} has no id");
        }
        if !unique.insert(id.clone()) {
            bail!("{source} line {line}: the id {id} is there twice");
        }
        let number = |i: usize| -> Result<f64> {
            let v = record.get(i).unwrap_or_default();
            v.parse::<f64>().map_err(|_| {
                anyhow::anyhow!(
                    "{source} line {line}, column '{}': '{v}' is not a number (FATE trains on numbers)",
                    header[i]
                )
            })
        };
        x.push(
            feature_at
                .iter()
                .map(|i| number(*i))
                .collect::<Result<Vec<_>>>()?,
        );
        if let Some(l) = label_at {
            let v = number(l)?;
            if v != 0.0 && v != 1.0 {
                bail!(
                    "{source} line {line}: the label '{}' is {v}; lr and sbt are binary classifiers, the label must be 0 or 1",
                    header[l]
                );
            }
            y.push(v);
        }
        ids.push(id);
    }
    if ids.is_empty() {
        bail!("{source} has a header and no rows");
    }
    if label_at.is_some() && (!y.contains(&0.0) || !y.contains(&1.0)) {
        bail!(
            "{source}: every row's label is {}; a binary classifier needs rows of both 0 and 1",
            y[0]
        );
    }
    Ok(PartyTable {
        source: source.to_string(),
        upload: id_first(&header, id_at, bytes)?,
        spec: TableSpec {
            name: table_name(source, bytes),
            file: std::path::Path::new(source)
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or("table.csv")
                .to_string(),
            label: label.map(str::to_string),
            id: id.to_string(),
        },
        features: feature_at.iter().map(|i| header[*i].clone()).collect(),
        ids,
        x,
        y: label_at.map(|_| y),
    })
}

/// The CSV with the id column moved first (FATE 1.x's DataIO takes the first column as the id);
/// the bytes as they are when it is first already.
fn id_first(header: &[String], id_at: usize, bytes: &[u8]) -> Result<Vec<u8>> {
    if id_at == 0 {
        return Ok(bytes.to_vec());
    }
    let order: Vec<usize> = std::iter::once(id_at)
        .chain((0..header.len()).filter(|i| *i != id_at))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in reader.records() {
        let record = record?;
        writer.write_record(order.iter().map(|i| record.get(*i).unwrap_or_default()))?;
    }
    Ok(writer.into_inner()?)
}

impl Dataset {
    /// The two tables checked against each other. `own`: the user's files, whose features
    /// must not share a name (the same column on both sides is a split gone wrong).
    pub fn pair(guest: PartyTable, host: PartyTable, own: bool) -> Result<Dataset> {
        if own {
            let ours: BTreeSet<&String> = guest.features.iter().collect();
            let both: Vec<&str> = host
                .features
                .iter()
                .filter(|f| ours.contains(f))
                .map(String::as_str)
                .collect();
            if !both.is_empty() {
                bail!(
                    "{} and {} both have the feature{} {}: in a vertical split each feature belongs to one party; \
                     drop it from one table (or rename it, if they differ)",
                    guest.source,
                    host.source,
                    if both.len() == 1 { "" } else { "s" },
                    both.join(", ")
                );
            }
        }
        let host_ids: BTreeSet<&String> = host.ids.iter().collect();
        let shared = guest.ids.iter().filter(|i| host_ids.contains(i)).count();
        if shared == 0 {
            bail!(
                "{} and {} share no id (guest ids like {}, host ids like {}): PSI would find nothing to train on",
                guest.source,
                host.source,
                guest.ids[0],
                host.ids[0]
            );
        }
        Ok(Dataset {
            guest,
            host,
            shared,
            own,
        })
    }

    /// The shared rows in the guest's order, the guest's features then the host's.
    pub fn joined(&self) -> Joined {
        let host: HashMap<&String, &Vec<f64>> = self.host.ids.iter().zip(&self.host.x).collect();
        let labels = self.guest.y.as_deref().unwrap_or_default();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for ((id, gx), label) in self.guest.ids.iter().zip(&self.guest.x).zip(labels) {
            if let Some(hx) = host.get(id) {
                x.push(gx.iter().chain(hx.iter()).copied().collect());
                y.push(*label);
            }
        }
        Joined { x, y }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest(csv: &str) -> Result<PartyTable> {
        parse("g.csv", csv.as_bytes(), "id", Some("y"), None)
    }
    fn host(csv: &str) -> Result<PartyTable> {
        parse("h.csv", csv.as_bytes(), "id", None, Some("y"))
    }
    fn err(r: Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn a_good_pair_is_read_and_joined_on_the_shared_ids() {
        let g = guest("id,y,a\n1,0,0.5\n2,1,1.5\n3,1,2\n").unwrap();
        let h = host("b,id\n7,3\n8,1\n9,4\n").unwrap();
        assert_eq!(g.features, ["a"]);
        assert_eq!(h.features, ["b"]);
        // The id goes first for FATE; the content's hash names the table.
        assert_eq!(
            String::from_utf8(h.upload.clone()).unwrap(),
            "id,b\n3,7\n1,8\n4,9\n"
        );
        assert!(
            h.spec.name.starts_with("h_") && h.spec.name.len() == 14,
            "{}",
            h.spec.name
        );
        let d = Dataset::pair(g, h, true).unwrap();
        assert_eq!(d.shared, 2);
        let j = d.joined();
        assert_eq!(j.x, vec![vec![0.5, 8.0], vec![2.0, 7.0]]);
        assert_eq!(j.y, vec![0.0, 1.0]);
    }

    #[test]
    fn a_changed_file_is_a_new_table_and_the_same_file_the_same() {
        let a = guest("id,y,a\n1,0,0.5\n2,1,1.5\n").unwrap();
        let b = guest("id,y,a\n1,0,0.5\n2,1,1.5\n").unwrap();
        let c = guest("id,y,a\n1,0,0.5\n2,1,1.6\n").unwrap();
        assert_eq!(a.spec.name, b.spec.name);
        assert_ne!(a.spec.name, c.spec.name);
    }

    #[test]
    fn what_fate_would_trip_over_is_named() {
        assert!(err(guest("")).contains("empty"));
        assert!(err(guest("1,0,0.5\n2,1,1.5\n")).contains("no header"));
        assert!(err(guest("key,y,a\n1,0,0.5\n")).contains("no id column 'id'"));
        assert!(err(guest("id,a\n1,0.5\n")).contains("no label column 'y'"));
        assert!(err(host("id,y,b\n1,0,2\n")).contains("label column 'y' too"));
        assert!(err(guest("id,y,a\n1,2,0.5\n2,0,1\n")).contains("must be 0 or 1"));
        assert!(err(guest("id,y,a\n1,1,0.5\n2,1,1\n")).contains("rows of both 0 and 1"));
        assert!(err(guest("id,y,a\n1,0,x\n")).contains("line 2, column 'a': 'x' is not a number"));
        assert!(err(guest("id,y,a\n1,0,1\n1,1,2\n")).contains("the id 1 is there twice"));
        assert!(err(guest("id,y\n1,0\n")).contains("no feature column"));
        assert!(err(guest("id,y,a\n")).contains("no rows"));
        let g = || guest("id,y,a\n1,0,0.5\n2,1,1.5\n").unwrap();
        let both = Dataset::pair(g(), host("id,a\n1,3\n").unwrap(), true);
        assert!(err(both).contains("both have the feature a"));
        // The breast tables fatelab ships share names (x0…x9) and are taken as they are.
        assert!(Dataset::pair(g(), host("id,a\n1,3\n").unwrap(), false).is_ok());
        let apart = Dataset::pair(g(), host("id,b\n5,3\n").unwrap(), true);
        assert!(err(apart).contains("share no id"));
    }
}
