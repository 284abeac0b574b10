//! Named signing keys for IPNS (`key gen|list|rm|rename|export|import`).
//!
//! Each key is one file in `$IPFSD_PATH/keystore/`, named as Kubo names them
//! (`key_` + the name in unpadded lowercase base32, so any name is a safe file name) and
//! holding the private key's libp2p protobuf encoding. The directory and the files are
//! owner-only. `self` is the node's identity (the repository's `identity` file); it is
//! listed and usable like the others but cannot be generated, removed, renamed over or
//! imported.

use libp2p_identity::{Keypair, PeerId};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The name of the node's own key.
pub const SELF: &str = "self";
/// The keystore directory inside the repository.
pub const DIR: &str = "keystore";
const FILE_PREFIX: &str = "key_";
/// Longest key name, in bytes.
pub const MAX_NAME: usize = 255;

/// Errors of keystore operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The name cannot name a key.
    #[error("invalid key name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// No key by that name.
    #[error("no key named {0:?}")]
    NotFound(String),
    /// The name is taken.
    #[error("a key named {0:?} already exists")]
    Exists(String),
    /// `self` cannot be changed here.
    #[error("the key \"self\" is the node's identity and cannot be {0}")]
    SelfKey(&'static str),
    /// A key type this node does not generate.
    #[error("unsupported key type {0:?} (ipfsd generates ed25519 keys)")]
    Type(String),
    /// Bytes that are not a libp2p private key.
    #[error("not a libp2p protobuf private key: {0}")]
    Decode(String),
    /// Reading or writing a key file failed.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A key's name and the peer ID (IPNS name) it signs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name.
    pub name: String,
    /// Its peer ID.
    pub peer: PeerId,
}

impl KeyInfo {
    /// The IPNS name of the key: CIDv1 `libp2p-key` in base36 (`k51…`), as Kubo prints it.
    pub fn ipns_name(&self) -> String {
        ipns::Name::new(self.peer).to_string()
    }
}

/// The keys of one repository.
#[derive(Clone)]
pub struct Keystore {
    backing: Backing,
    identity: Keypair,
}

/// Where the keys other than `self` live.
#[derive(Clone)]
enum Backing {
    /// Owner-only files in the repository's keystore directory.
    Dir(PathBuf),
    /// Protobuf-encoded keys by name, for an in-memory node (gone when it stops).
    Memory(Arc<Mutex<BTreeMap<String, Vec<u8>>>>),
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Keystore");
        match &self.backing {
            Backing::Dir(dir) => d.field("dir", dir),
            Backing::Memory(_) => d.field("dir", &"(in memory)"),
        };
        d.finish()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a name for a key other than `self`.
fn check_name(name: &str) -> Result<(), KeyError> {
    let bad = |reason| {
        Err(KeyError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME {
        return bad("it is longer than 255 bytes");
    }
    if name.contains('/') {
        return bad("it contains '/'");
    }
    if name.starts_with('.') {
        return bad("it starts with '.'");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    Ok(())
}

fn file_name(name: &str) -> String {
    format!(
        "{FILE_PREFIX}{}",
        multibase::Base::Base32Lower.encode(name.as_bytes())
    )
}

fn name_of_file(file: &str) -> Option<String> {
    let encoded = file.strip_prefix(FILE_PREFIX)?;
    let bytes = multibase::Base::Base32Lower.decode(encoded).ok()?;
    String::from_utf8(bytes).ok()
}

fn decode(bytes: &[u8]) -> Result<Keypair, KeyError> {
    Keypair::from_protobuf_encoding(bytes).map_err(|e| KeyError::Decode(e.to_string()))
}

fn encode(key: &Keypair) -> Result<Vec<u8>, KeyError> {
    key.to_protobuf_encoding()
        .map_err(|e| KeyError::Decode(e.to_string()))
}

impl Keystore {
    /// The keystore of the repository at `repo`, whose identity is `identity`.
    pub fn new(repo: &Path, identity: Keypair) -> Keystore {
        Keystore {
            backing: Backing::Dir(repo.join(DIR)),
            identity,
        }
    }

    /// A keystore held in memory (an in-memory node's): its keys end with the process.
    pub fn in_memory(identity: Keypair) -> Keystore {
        Keystore {
            backing: Backing::Memory(Arc::default()),
            identity,
        }
    }

    fn memory(map: &Mutex<BTreeMap<String, Vec<u8>>>) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The names of the stored keys (other than `self`), unchecked.
    fn stored_names(&self) -> Result<Vec<String>, KeyError> {
        let dir = match &self.backing {
            Backing::Memory(m) => return Ok(Self::memory(m).keys().cloned().collect()),
            Backing::Dir(dir) => dir,
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(dir)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(dir))?;
            // Temporary or foreign files have no key name.
            if let Some(name) = entry.file_name().to_str().and_then(name_of_file) {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// The stored bytes of key `name` (`None`: no such key).
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, KeyError> {
        match &self.backing {
            Backing::Memory(m) => Ok(Self::memory(m).get(name).cloned()),
            Backing::Dir(dir) => {
                let path = dir.join(file_name(name));
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io(&path)(e)),
                }
            }
        }
    }

    /// Stores a new key `name`; [`KeyError::Exists`] if there is one.
    fn write_new(&self, name: &str, bytes: Vec<u8>) -> Result<(), KeyError> {
        let dir = match &self.backing {
            Backing::Memory(m) => {
                return match Self::memory(m).entry(name.to_string()) {
                    std::collections::btree_map::Entry::Occupied(_) => {
                        Err(KeyError::Exists(name.to_string()))
                    }
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(bytes);
                        Ok(())
                    }
                };
            }
            Backing::Dir(dir) => dir,
        };
        create_private_dir(dir)?;
        write_new_private(&dir.join(file_name(name)), &bytes).map_err(|e| match e {
            KeyError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
                KeyError::Exists(name.to_string())
            }
            e => e,
        })
    }

    fn delete(&self, name: &str) -> Result<(), KeyError> {
        match &self.backing {
            Backing::Memory(m) => {
                Self::memory(m).remove(name);
                Ok(())
            }
            Backing::Dir(dir) => {
                let path = dir.join(file_name(name));
                std::fs::remove_file(&path).map_err(io(&path))
            }
        }
    }

    /// Moves key `old` to `new` (replacing it); answers whether `new` existed.
    fn relabel(&self, old: &str, new: &str, force: bool) -> Result<bool, KeyError> {
        let refuse = || Err(KeyError::Exists(new.to_string()));
        match &self.backing {
            Backing::Memory(m) => {
                let mut map = Self::memory(m);
                let exists = map.contains_key(new);
                if exists && !force {
                    return refuse();
                }
                let bytes = map
                    .remove(old)
                    .ok_or_else(|| KeyError::NotFound(old.to_string()))?;
                map.insert(new.to_string(), bytes);
                Ok(exists)
            }
            Backing::Dir(dir) => {
                let to = dir.join(file_name(new));
                let exists = to.exists();
                if exists && !force {
                    return refuse();
                }
                std::fs::rename(dir.join(file_name(old)), &to).map_err(io(&to))?;
                Ok(exists)
            }
        }
    }

    fn info(name: &str, key: &Keypair) -> KeyInfo {
        KeyInfo {
            name: name.to_string(),
            peer: key.public().to_peer_id(),
        }
    }

    /// Every key, `self` first, the others by name.
    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let mut keys = vec![Self::info(SELF, &self.identity)];
        let mut others = Vec::new();
        for name in self.stored_names()? {
            if check_name(&name).is_err() || name == SELF {
                continue;
            }
            match self.get(&name) {
                Ok(key) => others.push(Self::info(&name, &key)),
                Err(e) => tracing::warn!(key = %name, error = %e, "unreadable key skipped"),
            }
        }
        others.sort_by(|a, b| a.name.cmp(&b.name));
        keys.extend(others);
        Ok(keys)
    }

    /// The key named `name`.
    pub fn get(&self, name: &str) -> Result<Keypair, KeyError> {
        if name == SELF {
            return Ok(self.identity.clone());
        }
        check_name(name)?;
        match self.read(name)? {
            Some(bytes) => decode(&bytes),
            None => Err(KeyError::NotFound(name.to_string())),
        }
    }

    /// The key whose name or peer ID (either text form of the IPNS name) is `name_or_id`.
    pub fn find(&self, name_or_id: &str) -> Result<(KeyInfo, Keypair), KeyError> {
        if let Ok(key) = self.get(name_or_id) {
            return Ok((Self::info(name_or_id, &key), key));
        }
        if let Ok(name) = name_or_id.parse::<ipns::Name>() {
            for info in self.list()? {
                if info.peer == name.peer_id() {
                    let key = self.get(&info.name)?;
                    return Ok((info, key));
                }
            }
        }
        Err(KeyError::NotFound(name_or_id.to_string()))
    }

    /// Makes a new key of `kind` (`ed25519`) named `name`.
    pub fn generate(&self, name: &str, kind: &str) -> Result<KeyInfo, KeyError> {
        if !kind.eq_ignore_ascii_case("ed25519") {
            return Err(KeyError::Type(kind.to_string()));
        }
        self.insert(name, &Keypair::generate_ed25519(), "generated")
    }

    /// Stores `bytes` (a libp2p protobuf private key, any type this build decodes) as `name`.
    pub fn import(&self, name: &str, bytes: &[u8]) -> Result<KeyInfo, KeyError> {
        let key = decode(bytes)?;
        self.insert(name, &key, "imported")
    }

    /// The libp2p protobuf encoding of the key `name` (secret: whoever has it can publish).
    pub fn export(&self, name: &str) -> Result<Vec<u8>, KeyError> {
        encode(&self.get(name)?)
    }

    fn insert(&self, name: &str, key: &Keypair, what: &'static str) -> Result<KeyInfo, KeyError> {
        if name == SELF {
            return Err(KeyError::SelfKey(what));
        }
        check_name(name)?;
        self.write_new(name, encode(key)?)?;
        Ok(Self::info(name, key))
    }

    /// Deletes the key `name`; answers what it was.
    pub fn remove(&self, name: &str) -> Result<KeyInfo, KeyError> {
        if name == SELF {
            return Err(KeyError::SelfKey("removed"));
        }
        let key = self.get(name)?;
        self.delete(name)?;
        Ok(Self::info(name, &key))
    }

    /// Deletes every key in `names`, or none: all are checked (they exist, none is
    /// `self`) before the first goes. Answers what they were, in order.
    pub fn remove_all(&self, names: &[String]) -> Result<Vec<KeyInfo>, KeyError> {
        for n in names {
            if n == SELF {
                return Err(KeyError::SelfKey("removed"));
            }
            self.get(n)?;
        }
        names.iter().map(|n| self.remove(n)).collect()
    }

    /// Renames `old` to `new`; `force` replaces an existing `new`. Answers the key and
    /// whether one was replaced.
    pub fn rename(&self, old: &str, new: &str, force: bool) -> Result<(KeyInfo, bool), KeyError> {
        if old == SELF {
            return Err(KeyError::SelfKey("renamed"));
        }
        if new == SELF {
            return Err(KeyError::SelfKey("replaced"));
        }
        check_name(new)?;
        let key = self.get(old)?;
        if old == new {
            return Ok((Self::info(new, &key), false));
        }
        let exists = self.relabel(old, new, force)?;
        Ok((Self::info(new, &key), exists))
    }
}

/// Creates the keystore directory, owner-only.
fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    Ok(())
}

/// Writes `data` to a new owner-only file at `path`, never replacing one: the bytes go to
/// a temporary file first, which is then linked into place (so a crash leaves no half key).
fn write_new_private(path: &Path, data: &[u8]) -> Result<(), KeyError> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    written.map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Keystore, PeerId) {
        let dir = tempfile::tempdir().expect("tmp");
        let id = Keypair::generate_ed25519();
        let peer = id.public().to_peer_id();
        let ks = Keystore::new(dir.path(), id);
        (dir, ks, peer)
    }

    #[test]
    fn gen_list_get_rename_rm() {
        let (_dir, ks, me) = store();
        assert_eq!(ks.list().expect("list").len(), 1);
        assert_eq!(ks.list().expect("list")[0].peer, me);
        let a = ks.generate("alpha", "ed25519").expect("gen");
        ks.generate("b-x", "Ed25519").expect("gen");
        assert!(a.ipns_name().starts_with("k51"), "{}", a.ipns_name());
        let names: Vec<_> = ks
            .list()
            .expect("list")
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(names, ["self", "alpha", "b-x"]);
        assert_eq!(ks.get("alpha").expect("get").public().to_peer_id(), a.peer);
        assert_eq!(ks.find(&a.ipns_name()).expect("by name").0.name, "alpha");
        assert_eq!(ks.find(&me.to_string()).expect("by id").0.name, "self");
        assert!(matches!(
            ks.generate("alpha", "ed25519"),
            Err(KeyError::Exists(_))
        ));
        assert!(matches!(ks.generate("c", "rsa"), Err(KeyError::Type(_))));
        assert!(matches!(
            ks.rename("alpha", "b-x", false),
            Err(KeyError::Exists(_))
        ));
        let (moved, replaced) = ks.rename("alpha", "b-x", true).expect("force");
        assert!(replaced);
        assert_eq!(moved.peer, a.peer);
        assert!(matches!(ks.get("alpha"), Err(KeyError::NotFound(_))));
        let (moved, replaced) = ks.rename("b-x", "gamma", false).expect("rename");
        assert!(!replaced && moved.peer == a.peer);
        assert_eq!(ks.remove("gamma").expect("rm").peer, a.peer);
        // "b-x" was replaced by the forced rename: only self is left.
        assert_eq!(ks.list().expect("list").len(), 1);
    }

    #[test]
    fn self_and_bad_names_are_refused() {
        let (_dir, ks, _) = store();
        assert!(matches!(
            ks.generate("self", "ed25519"),
            Err(KeyError::SelfKey(_))
        ));
        assert!(matches!(ks.remove("self"), Err(KeyError::SelfKey(_))));
        assert!(matches!(
            ks.rename("self", "x", false),
            Err(KeyError::SelfKey(_))
        ));
        ks.generate("x", "ed25519").expect("gen");
        assert!(matches!(
            ks.rename("x", "self", true),
            Err(KeyError::SelfKey(_))
        ));
        let bytes = ks.export("x").expect("export");
        assert!(matches!(
            ks.import("self", &bytes),
            Err(KeyError::SelfKey(_))
        ));
        for bad in ["", "a/b", ".hidden", "tab\there", &"n".repeat(256)] {
            assert!(
                matches!(ks.generate(bad, "ed25519"), Err(KeyError::BadName { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(ks.remove("missing"), Err(KeyError::NotFound(_))));
        // All or nothing: a missing name or self among them removes none.
        ks.generate("y", "ed25519").expect("gen");
        for bad in [["x", "missing"], ["x", "self"]] {
            let names: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(ks.remove_all(&names).is_err(), "{bad:?}");
            assert_eq!(
                ks.list().expect("list").len(),
                3,
                "{bad:?}: nothing removed"
            );
        }
        let both = ks.remove_all(&["x".into(), "y".into()]).expect("rm both");
        assert_eq!(both.len(), 2);
        assert_eq!(ks.list().expect("list").len(), 1);
    }

    #[test]
    fn export_import_roundtrip_owner_only() {
        let (dir, ks, _) = store();
        let a = ks.generate("a", "ed25519").expect("gen");
        let bytes = ks.export("a").expect("export");
        let b = ks.import("copy", &bytes).expect("import");
        assert_eq!(a.peer, b.peer);
        assert!(matches!(
            ks.import("junk", b"not a key"),
            Err(KeyError::Decode(_))
        ));
        // Exported bytes are what libp2p (and Kubo's keystore) read.
        assert_eq!(
            Keypair::from_protobuf_encoding(&bytes)
                .expect("decode")
                .public()
                .to_peer_id(),
            a.peer
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode();
            assert_eq!(mode(&dir.path().join(DIR)) & 0o077, 0);
            for e in std::fs::read_dir(dir.path().join(DIR)).expect("dir") {
                assert_eq!(mode(&e.expect("entry").path()) & 0o077, 0);
            }
        }
        // Only key files are listed: leftovers and foreign files are not.
        std::fs::write(dir.path().join(DIR).join("README"), b"x").expect("write");
        assert_eq!(ks.list().expect("list").len(), 3);
    }
}
