//! Real images without a registry: a tiny rootfs tarball made here, `docker import`ed, tagged
//! and `docker save`d, all in the tests' private Docker Engine ([`super::services`]); without it
//! these helpers panic (tests fail).

#![allow(dead_code)]

use super::services;
use std::path::{Path, PathBuf};

fn docker(args: &[&str]) -> String {
    let out = services::docker()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("the docker CLI is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A one-file rootfs tarball whose content makes each image distinct.
fn rootfs(dir: &Path, content: &str, padding: usize) -> PathBuf {
    let path = dir.join(format!("rootfs-{}.tar", content.len() + padding));
    let file = std::fs::File::create(&path).unwrap();
    let mut b = tar::Builder::new(file);
    let mut data = content.as_bytes().to_vec();
    data.extend(std::iter::repeat_n(b'x', padding));
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    b.append_data(&mut header, "hello.txt", &data[..]).unwrap();
    b.finish().unwrap();
    path
}

/// Creates an image tagged `reference` from a tiny rootfs (content distinct per reference).
pub fn make_image(dir: &Path, reference: &str) -> String {
    let tar = rootfs(dir, reference, 4096);
    let id = docker(&["import", tar.to_str().unwrap(), reference]);
    std::fs::remove_file(tar).unwrap();
    id
}

pub fn tag(src: &str, dst: &str) {
    docker(&["tag", src, dst]);
}

pub fn save(references: &[&str], out: &Path) {
    let mut args = vec!["save", "-o", out.to_str().unwrap()];
    args.extend_from_slice(references);
    docker(&args);
}

pub fn remove(references: &[&str]) {
    for r in references {
        let _ = services::docker().args(["rmi", "-f", r]).output();
    }
}

pub fn exists(reference: &str) -> bool {
    services::docker()
        .args(["image", "inspect", reference])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn id_of(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
}

/// Overwrites bytes inside the first layer of an archive (same length), so the daemon finds a
/// layer whose content does not match its digest.
pub fn corrupt_a_layer(archive: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let mut offset = None;
    {
        let mut a = tar::Archive::new(std::fs::File::open(archive).unwrap());
        for e in a.entries_with_seek().unwrap() {
            let e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let is_layer =
                name.ends_with("layer.tar") || (name.starts_with("blobs/") && e.size() > 1024);
            if is_layer && e.size() > 64 {
                offset = Some(e.raw_file_position() + e.size() / 2);
                break;
            }
        }
    }
    let offset = offset.expect("archive has a layer");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(archive)
        .unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[0xA5; 32]).unwrap();
}
