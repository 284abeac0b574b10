//! Test content: unique pseudo-random bytes and a small directory tree, with ways to put
//! the tree on disk or into a node and to check it on a node or on disk.

use crate::testnet::TestNode;
use std::path::Path;

/// Pseudo-random bytes (xorshift) distinct per `seed` and per call time.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ nanos ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A directory tree under `top/`: nested directories, an empty directory, an empty file
/// and a multi-block file.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Files (path under the parent of `top`, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// Directories, parents first.
    pub dirs: Vec<String>,
}

impl Tree {
    /// A new tree with content unique to `seed` (and the time).
    pub fn new(seed: u64) -> Tree {
        Tree {
            dirs: vec![
                "top".into(),
                "top/a".into(),
                "top/a/b".into(),
                "top/empty".into(),
            ],
            files: vec![
                (
                    "top/readme.txt".into(),
                    format!("tree {seed}\n").into_bytes(),
                ),
                ("top/a/one.bin".into(), noise(seed + 1, 700_000)),
                ("top/a/b/two.bin".into(), noise(seed + 2, 5_000)),
                ("top/a/b/zero".into(), Vec::new()),
            ],
        }
    }

    /// Writes the tree under `dir` (so `dir/top` is its root); answers `dir/top`.
    pub fn write_to(&self, dir: &Path) -> std::path::PathBuf {
        for d in &self.dirs {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        for (p, data) in &self.files {
            std::fs::write(dir.join(p), data).expect("write");
        }
        dir.join("top")
    }

    /// Adds the tree to `node` through its API; answers the root CID.
    pub fn add_to(&self, node: &TestNode) -> String {
        let mut parts: Vec<(&str, Option<&[u8]>)> = Vec::new();
        for d in &self.dirs {
            parts.push((d.as_str(), None));
            for (p, data) in &self.files {
                if p.rsplit_once('/').map(|x| x.0) == Some(d.as_str()) {
                    parts.push((p.as_str(), Some(data.as_slice())));
                }
            }
        }
        node.add_tree(&parts)
    }

    /// Fetches the tree on `node` (`pin add` fetches every block) and checks every file
    /// byte for byte, and the empty directory.
    pub fn check_on(&self, node: &TestNode, root: &str) {
        node.call("pin/add", &[("arg", root)]).ok();
        for (p, data) in &self.files {
            let inner = p.strip_prefix("top/").expect("under top");
            let got = node.cat(&format!("/ipfs/{root}/{inner}"));
            assert!(
                got == *data,
                "{inner}: {} bytes, want {}",
                got.len(),
                data.len()
            );
        }
        let ls = node
            .call("ls", &[("arg", &format!("/ipfs/{root}/empty"))])
            .ok()
            .json();
        assert_eq!(ls["Objects"][0]["Links"].as_array().map(Vec::len), Some(0));
    }

    /// Checks a copy of the tree written at `root` (the `top` directory itself).
    pub fn check_dir(&self, root: &Path) {
        for (p, data) in &self.files {
            let inner = p.strip_prefix("top/").expect("under top");
            let got = std::fs::read(root.join(inner)).unwrap_or_else(|e| panic!("{inner}: {e}"));
            assert!(
                got == *data,
                "{inner}: {} bytes, want {}",
                got.len(),
                data.len()
            );
        }
        let empty = std::fs::read_dir(root.join("empty")).expect("empty dir exists");
        assert_eq!(empty.count(), 0);
    }
}
