//! The block fatelab owns inside a hosts file: insert, replace, remove, and a safe write.
//!
//! The block always starts with a newline fatelab adds itself, so removing it gives back the
//! original bytes exactly, whatever the file ended with.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};

pub use crate::render::hosts::{BEGIN_MARKER, END_MARKER};

/// Byte range of fatelab's block (from the newline before BEGIN through END's newline), if present.
fn find_block(content: &[u8]) -> Result<Option<(usize, usize)>> {
    let begin = format!("\n{BEGIN_MARKER}\n");
    let end = format!("{END_MARKER}\n");
    let Some(start) = find(content, begin.as_bytes(), 0) else {
        return Ok(None);
    };
    match find(content, end.as_bytes(), start + begin.len()) {
        Some(e) => Ok(Some((start, e + end.len()))),
        None => bail!(
            "the hosts file has fatelab's BEGIN line without its END line; \
             remove the partial block by hand (lines from `{BEGIN_MARKER}` on)"
        ),
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Content with `block` (markers included, newline-terminated) in place of any previous block,
/// or appended after a separating newline.
pub fn with_block(content: &[u8], block: &str) -> Result<Vec<u8>> {
    let mut framed = Vec::with_capacity(block.len() + 1);
    framed.push(b'\n');
    framed.extend_from_slice(block.as_bytes());
    Ok(match find_block(content)? {
        Some((s, e)) => [&content[..s], &framed[..], &content[e..]].concat(),
        None => [content, &framed[..]].concat(),
    })
}

/// Content without fatelab's block; `None` when there was none.
pub fn without_block(content: &[u8]) -> Result<Option<Vec<u8>>> {
    Ok(find_block(content)?.map(|(s, e)| [&content[..s], &content[e..]].concat()))
}

/// Reads, transforms and writes the hosts file while holding a lock on its directory, so two
/// fatelab runs cannot interleave. Returns whether the file changed.
pub fn update(path: &Path, change: impl FnOnce(&[u8]) -> Result<Option<Vec<u8>>>) -> Result<bool> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // flock on the directory: the file itself is replaced by rename, so its lock would not hold.
    let lock = File::open(dir).with_context(|| format!("opening {} to lock it", dir.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", dir.display()))?;
    let current = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let Some(new) = change(&current)? else {
        return Ok(false);
    };
    if new == current {
        return Ok(false);
    }
    write_atomic(path, &new)?;
    Ok(true)
}

/// Temp file in the same directory, same mode and owner, fsync, rename. Where the file is a bind
/// mount (containers), rename fails; then the file is rewritten in place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let meta = std::fs::metadata(path).ok();
    let mode = meta
        .as_ref()
        .map_or(0o644, |m| m.permissions().mode() & 0o7777);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("hosts file path has no file name")?;
    let tmp = dir.join(format!(
        ".{}.fatelab-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if let Some(m) = &meta {
            // Keeping the owner needs root; without it the file keeps ours, which is fine.
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
        }
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    match std::fs::rename(&tmp, path) {
        Ok(()) => {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::info!(
                "rename over {} failed ({e}); rewriting in place",
                path.display()
            );
            let mut f = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .with_context(|| format!("writing {}", path.display()))?;
            f.write_all(bytes)?;
            f.sync_all()?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(lines: &[&str]) -> String {
        let mut s = format!("{BEGIN_MARKER}\n");
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        s + END_MARKER + "\n"
    }

    #[test]
    fn append_replace_remove() {
        let original = b"127.0.0.1 localhost\n::1 localhost".to_vec();
        let a = with_block(&original, &block(&["10.0.0.1 kubefate.net"])).unwrap();
        assert!(String::from_utf8_lossy(&a).ends_with("10.0.0.1 kubefate.net\n# END fatelab\n"));
        let b = with_block(&a, &block(&["10.0.0.2 kubefate.net"])).unwrap();
        assert!(!String::from_utf8_lossy(&b).contains("10.0.0.1 kubefate"));
        assert_eq!(without_block(&b).unwrap().unwrap(), original);
        assert_eq!(without_block(&original).unwrap(), None);
    }

    #[test]
    fn user_lines_after_the_block_are_kept_in_place() {
        let with = with_block(b"a\n", &block(&["1.2.3.4 x.net"])).unwrap();
        let mut edited = with.clone();
        edited.extend_from_slice(b"5.6.7.8 mine\n");
        let replaced = with_block(&edited, &block(&["1.2.3.5 x.net"])).unwrap();
        assert!(String::from_utf8_lossy(&replaced).ends_with("# END fatelab\n5.6.7.8 mine\n"));
        assert_eq!(
            without_block(&replaced).unwrap().unwrap(),
            b"a\n5.6.7.8 mine\n"
        );
    }

    #[test]
    fn a_half_block_is_an_error() {
        let broken = format!("x\n\n{BEGIN_MARKER}\n1.2.3.4 y\n");
        assert!(with_block(broken.as_bytes(), &block(&[])).is_err());
        assert!(without_block(broken.as_bytes()).is_err());
    }

    #[test]
    fn update_keeps_mode_and_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "127.0.0.1 localhost\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let b = block(&["10.0.0.1 kubefate.net"]);
        assert!(update(&path, |c| with_block(c, &b).map(Some)).unwrap());
        assert!(
            !update(&path, |c| with_block(c, &b).map(Some)).unwrap(),
            "second apply changes nothing"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert!(update(&path, without_block).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"127.0.0.1 localhost\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn apply_then_remove_restores_the_bytes(content in proptest::collection::vec(any::<u8>(), 0..512),
                                                     hosts in proptest::collection::vec("[a-z0-9.]{1,20}", 0..5)) {
                prop_assume!(find(&content, BEGIN_MARKER.as_bytes(), 0).is_none());
                let lines: Vec<String> = hosts.iter().map(|h| format!("10.0.0.1 {h}")).collect();
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                let b = block(&refs);
                let once = with_block(&content, &b).unwrap();
                let twice = with_block(&once, &b).unwrap();
                prop_assert_eq!(&once, &twice);
                prop_assert_eq!(without_block(&once).unwrap().unwrap(), content);
            }

            #[test]
            fn replacing_a_block_keeps_every_byte_around_it(before in "[ -~\n]{0,200}", after in "[ -~\n]{0,200}") {
                prop_assume!(!before.contains("fatelab") && !after.contains("fatelab"));
                let old = with_block(before.as_bytes(), &block(&["1.1.1.1 old.net"])).unwrap();
                let mut edited = old.clone();
                edited.extend_from_slice(after.as_bytes());
                let new = with_block(&edited, &block(&["2.2.2.2 new.net"])).unwrap();
                let expected = [before.as_bytes(), b"\n", block(&["2.2.2.2 new.net"]).as_bytes(), after.as_bytes()].concat();
                prop_assert_eq!(new, expected);
            }
        }
    }
}
