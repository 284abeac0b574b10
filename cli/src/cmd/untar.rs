//! Extracting the tar stream of the daemon's `get` into a destination, with the result
//! `dag::export::write_tree` gives offline.
//!
//! The stream is not trusted (`--api` may name any daemon): every entry must lie under
//! the first one (the root, written as the destination itself), names must be plain
//! (no `..`, `.`, empty, `\` or NUL), a name may appear once per directory, and an entry
//! is only written inside a directory this extraction created, so a symlink in the
//! stream is never followed. Only files, directories and symlinks are written; file
//! modes and times from the stream are ignored (as offline, files get the default mode).

use super::stream_failure;
use anyhow::{Result, bail};
use dag::export::ExportError;
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Extracts the tar stream `input` to `dest`.
pub fn extract(input: impl Read, dest: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(input);
    let mut root: Option<Vec<u8>> = None;
    // Directories written by this extraction: the only places entries may go.
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let entries = archive.entries().map_err(stream_failure)?;
    for entry in entries {
        let mut entry = entry.map_err(stream_failure)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let trimmed = raw.strip_suffix(b"/").unwrap_or(&raw);
        let mut comps = trimmed.split(|b| *b == b'/');
        let first = comps.next().unwrap_or_default();
        match &root {
            None => root = Some(first.to_vec()),
            Some(r) if r.as_slice() == first => {}
            Some(_) => bail!("the daemon's tar stream has an entry outside its root: {shown:?}"),
        }
        let mut target = dest.to_path_buf();
        let mut depth = 0;
        for c in comps {
            let safe = !c.is_empty()
                && c != b"."
                && c != b".."
                && !c.iter().any(|b| matches!(b, b'\\' | b'\0'));
            let name = std::str::from_utf8(c).ok().filter(|_| safe);
            let Some(name) = name else {
                bail!("the daemon's tar stream has an unsafe entry name: {shown:?}");
            };
            target.push(name);
            depth += 1;
        }
        if depth > 0 {
            let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
            if !dirs.contains(&parent) {
                bail!("the daemon's tar stream has an entry outside a directory: {shown:?}");
            }
        }
        if !seen.insert(target.clone()) {
            bail!("the daemon's tar stream has a duplicate entry name: {shown:?}");
        }
        let is_dir = kind.is_dir();
        if !(is_dir || kind.is_file() || kind.is_symlink()) {
            bail!("the daemon's tar stream has an unsupported entry type: {shown:?}");
        }
        let io_err = |source: io::Error| ExportError::Io {
            path: target.clone(),
            source,
        };
        // As `write_tree`: a directory in the way of a file is an error; a file or link in
        // the way of anything is replaced; an existing directory is merged into.
        match std::fs::symlink_metadata(&target).ok() {
            Some(meta) if meta.is_dir() && !is_dir => {
                return Err(io_err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a directory is in the way",
                ))
                .into());
            }
            Some(meta) if !meta.is_dir() => std::fs::remove_file(&target).map_err(io_err)?,
            _ => {}
        }
        if is_dir {
            if !target.is_dir() {
                std::fs::create_dir(&target).map_err(io_err)?;
            }
            dirs.insert(target);
        } else if kind.is_symlink() {
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            symlink(&link, &target).map_err(io_err)?;
        } else {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(io_err)?;
            let mut out = io::BufWriter::with_capacity(1 << 20, file);
            let mut buf = vec![0; 1 << 16];
            loop {
                let n = match entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = out.flush();
                        return Err(stream_failure(e));
                    }
                };
                out.write_all(&buf[..n]).map_err(io_err)?;
            }
            out.flush().map_err(io_err)?;
        }
    }
    if root.is_none() {
        bail!("the daemon's tar stream is empty");
    }
    // The rest (padding) must arrive too: an error after the last entry is still one.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(stream_failure)?;
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &str, dest: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, dest)
}

#[cfg(not(unix))]
fn symlink(target: &str, dest: &Path) -> io::Result<()> {
    std::fs::write(dest, target)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            match link {
                Some(l) => b.append_link(&mut h, path, l).expect("link"),
                None => b.append_data(&mut h, path, *data).expect("append"),
            }
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn writes_a_tree_and_refuses_escapes() {
        use tar::EntryType::{Directory as D, Regular as F, Symlink as L};
        let tmp = tempfile::tempdir().expect("tmp");
        let ok = tar_of(&[
            ("r", D, b"", None),
            ("r/a", F, b"aaa", None),
            ("r/s", D, b"", None),
            ("r/s/l", L, b"", Some("../a")),
        ]);
        let dest = tmp.path().join("out");
        extract(&ok[..], &dest).expect("extract");
        assert_eq!(std::fs::read(dest.join("a")).expect("a"), b"aaa");
        assert_eq!(
            std::fs::read_link(dest.join("s/l")).expect("link"),
            Path::new("../a")
        );

        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        let o = outside.to_str().expect("utf-8");
        let cases: Vec<Vec<u8>> = vec![
            // Through a symlink written just before.
            tar_of(&[
                ("r", D, b"", None),
                ("r/s", L, b"", Some(o)),
                ("r/s/pwned", F, b"x", None),
            ]),
            // The same name twice (a link, then a directory through it).
            tar_of(&[
                ("r", D, b"", None),
                ("r/s", L, b"", Some(o)),
                ("r/s", D, b"", None),
            ]),
            // Another root.
            tar_of(&[("r", D, b"", None), ("x/pwned", F, b"x", None)]),
            // Into a file.
            tar_of(&[("r", F, b"", None), ("r/pwned", F, b"x", None)]),
        ];
        for (i, t) in cases.into_iter().enumerate() {
            let dest = tmp.path().join(format!("bad{i}"));
            let err = extract(&t[..], &dest).expect_err("refused");
            assert!(err.to_string().contains("tar stream"), "{i}: {err}");
            assert!(!outside.join("pwned").exists(), "{i}");
        }
        // `..` cannot even be built with the tar crate's checks; write the header by hand.
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(F);
        h.set_size(1);
        h.as_gnu_mut().expect("gnu").name[..12].copy_from_slice(b"r/../pwned\0\0");
        h.set_cksum();
        let mut t = tar_of(&[("r", D, b"", None)]);
        t.truncate(t.len() - 1024);
        t.extend_from_slice(h.as_bytes());
        t.extend_from_slice(&[b'x'; 512]);
        t.extend_from_slice(&[0; 1024]);
        let err = extract(&t[..], &tmp.path().join("dots")).expect_err("refused");
        assert!(err.to_string().contains("unsafe entry name"), "{err}");
        assert!(!tmp.path().join("pwned").exists());
    }
}
