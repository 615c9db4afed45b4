//! Versions as fatelab reads and writes them: `v1.22.0` (a [`Tag`]: minikube, Kubernetes and
//! release versions) and `1.21` (a [`Minor`]: what compatibility ranges speak in). Parsed once,
//! kept typed, written back in the same spelling.

use serde::{Deserialize, Serialize};

/// `v1.22.0` or `1.22.0` as a version.
pub fn parse(raw: &str) -> anyhow::Result<semver::Version> {
    let t = raw.trim().trim_start_matches('v');
    semver::Version::parse(t).map_err(|_| anyhow::anyhow!("'{raw}' is not a version like v1.22.0"))
}

/// A version written `v1.22.0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub semver::Version);

impl Tag {
    pub fn parse(raw: &str) -> anyhow::Result<Tag> {
        parse(raw).map(Tag)
    }
}

impl From<semver::Version> for Tag {
    fn from(v: semver::Version) -> Tag {
        Tag(v)
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl std::ops::Deref for Tag {
    type Target = semver::Version;
    fn deref(&self) -> &semver::Version {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tag, D::Error> {
        let s = String::deserialize(d)?;
        Tag::parse(&s).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }
}

impl Serialize for Tag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A Kubernetes minor version (`1.21`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Minor(pub u64, pub u64);

impl Minor {
    pub fn of(v: &semver::Version) -> Minor {
        Minor(v.major, v.minor)
    }

    /// `v1.22.0` or `1.22` → 1.22.
    pub fn parse(s: &str) -> Option<Minor> {
        let mut it = s.trim().trim_start_matches('v').split('.');
        Some(Minor(it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }
}

impl std::fmt::Display for Minor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl<'de> Deserialize<'de> for Minor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Minor, D::Error> {
        let s = String::deserialize(d)?;
        Minor::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not a version like 1.21")))
    }
}

impl Serialize for Minor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_keep_their_spelling() {
        let t = Tag::parse("v1.22.0").unwrap();
        assert_eq!(t, Tag::parse("1.22.0").unwrap());
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"v1.22.0\"");
        assert!(Tag::parse("v1.22").is_err());
        assert_eq!(Minor::parse("v1.22.3"), Some(Minor(1, 22)));
        assert_eq!(Minor::parse("1.21"), Some(Minor(1, 21)));
        assert_eq!(Minor::parse("x"), None);
    }
}
