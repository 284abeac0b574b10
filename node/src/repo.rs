//! The on-disk repository: a directory holding the config file, the identity key and the
//! block store.
//!
//! Layout of `$IPFSD_PATH` (default `~/.ipfsd`): `config` (JSON, see [`Config`]),
//! `identity` (the private key, owner-only), `blocks.redb` and `blocks.packs/` (blocks and
//! pins; see [`dag::store`]), `version`, and `api` while a daemon runs. The directory is
//! created owner-only. redb admits one process per file, so a second process gets
//! [`dag::StoreError::Locked`] (inside [`RepoError::Store`]) while a daemon or another
//! command holds the repo.

mod migrate;

pub use migrate::backup_dir;

use crate::config::Config;
use crate::identity::{Identity, IdentityError};
use dag::{Store, StoreError};
use std::path::{Path, PathBuf};

/// Version of the repository layout written by this build. An older repository is
/// migrated forward when opened (after a backup); a newer one is refused (see module
/// `migrate`).
pub const REPO_VERSION: u32 = 1;
pub(crate) const CONFIG_FILE: &str = "config";
const STORE_FILE: &str = "blocks.redb";
const VERSION_FILE: &str = "version";

/// Errors opening or creating a repository.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// `init` on a directory that already holds a repository.
    #[error("repository already exists at {path}")]
    AlreadyExists {
        /// Where.
        path: PathBuf,
    },
    /// No repository at the path.
    #[error("no ipfsd repository at {path} (run `ipfsd init`)")]
    NotInitialized {
        /// Where.
        path: PathBuf,
    },
    /// Reading or writing a repository file failed.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid.
    #[error("config file {path} is invalid: {source}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: crate::config::ConfigFileError,
    },
    /// The `version` file does not hold a version number.
    #[error("repository {path} has an unreadable version {found:?}")]
    Version {
        /// Where.
        path: PathBuf,
        /// What the file holds.
        found: String,
    },
    /// The repository was written (or migrated) by a newer ipfsd.
    #[error(
        "repository {path} has version {found}, newer than this ipfsd supports ({supported}): it was written or migrated by a newer ipfsd; run that one{}",
        backup.as_ref().map_or(String::new(), |b| format!(", or roll back: stop ipfsd and copy the files of {} back into the repository", b.display()))
    )]
    TooNew {
        /// Where.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build supports.
        supported: u32,
        /// The backup a newer build took before migrating from this build's version.
        backup: Option<PathBuf>,
    },
    /// No migration step leads from a version this build should handle.
    #[error("repository {path} has version {from}, and this ipfsd has no migration from it")]
    NoMigration {
        /// Where.
        path: PathBuf,
        /// The version without a step.
        from: u32,
    },
    /// The identity key is missing or invalid.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The block store failed (includes "in use by another process").
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The default repository path: `$IPFSD_PATH`, else `~/.ipfsd`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("IPFSD_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".ipfsd"),
        |h| PathBuf::from(h).join(".ipfsd"),
    )
}

/// An open repository.
#[derive(Debug, Clone)]
pub struct Repo {
    path: PathBuf,
    config: Config,
    identity: Identity,
    store: Store,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RepoError + '_ {
    move |source| RepoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Repo {
    /// Creates a repository at `path` with `config` and a new identity without
    /// proof of work (see [`Repo::init_with_identity`]).
    pub fn init(path: &Path, config: &Config) -> Result<Repo, RepoError> {
        Self::init_with_identity(path, config, Identity::generate)
    }

    /// Creates a repository at `path` with `config`; `identity` makes its key (e.g.
    /// `|| Identity::generate_with_difficulty(d)`), unless an interrupted earlier init left
    /// one.
    pub fn init_with_identity(
        path: &Path,
        config: &Config,
        identity: impl FnOnce() -> Identity,
    ) -> Result<Repo, RepoError> {
        if path.join(CONFIG_FILE).exists() {
            return Err(RepoError::AlreadyExists {
                path: path.to_path_buf(),
            });
        }
        config.validate().map_err(|e| RepoError::Config {
            path: path.join(CONFIG_FILE),
            source: e.into(),
        })?;
        create_private_dir(path)?;
        write_atomic(
            &path.join(VERSION_FILE),
            format!("{REPO_VERSION}\n").as_bytes(),
        )?;
        let identity = match Identity::load(path) {
            Ok(id) => id, // an earlier init stopped before writing the config
            Err(_) => {
                let id = identity();
                id.save(path)?;
                id
            }
        };
        let store = Store::open(&path.join(STORE_FILE))?;
        let mut config = config.clone();
        config.identity.peer_id = identity.peer_id().to_string();
        // The config file is written last: its presence marks a complete repository.
        save_config(path, &config)?;
        Ok(Repo {
            path: path.to_path_buf(),
            config,
            identity,
            store,
        })
    }

    /// Opens the repository at `path`, migrating an older one forward first (after a
    /// backup: see [`backup_dir`]); a newer one is refused with [`RepoError::TooNew`].
    pub fn open(path: &Path) -> Result<Repo, RepoError> {
        Self::open_with(path, &migrate::Versions::this_build())
    }

    fn open_with(path: &Path, versions: &migrate::Versions) -> Result<Repo, RepoError> {
        if !path.join(CONFIG_FILE).exists() {
            return Err(RepoError::NotInitialized {
                path: path.to_path_buf(),
            });
        }
        migrate::migrate(path, versions)?;
        let config = load_config(path)?;
        let identity = Identity::load(path)?;
        let store = Store::open(&path.join(STORE_FILE))?;
        let datastore = config.datastore_settings().map_err(|e| RepoError::Config {
            path: path.join(CONFIG_FILE),
            source: e.into(),
        })?;
        store.set_hash_on_read(datastore.hash_on_read);
        // Offline commands (`ipfsd add` without a daemon) are held to the quota too.
        store.set_quota(Some(datastore.quota(false)));
        // The store is ours, so no daemon is receiving uploads: spooled ones are left over
        // from a crash.
        remove_stale_uploads(path);
        Ok(Repo {
            path: path.to_path_buf(),
            config,
            identity,
            store,
        })
    }

    /// The repository directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration as loaded.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The node's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The block store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Reads the config file of the repository at `path` (without opening the store).
pub fn load_config(path: &Path) -> Result<Config, RepoError> {
    let file = path.join(CONFIG_FILE);
    let text = match std::fs::read(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RepoError::NotInitialized {
                path: path.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(RepoError::Io {
                path: file,
                source: e,
            });
        }
    };
    Config::from_json(&text).map_err(|source| RepoError::Config { path: file, source })
}

/// Prefix of the temp files uploads are received into (`api::upload::spool`).
pub(crate) const UPLOAD_PREFIX: &str = ".upload-";

/// Removes upload temp files left in the repository by a daemon that crashed.
fn remove_stale_uploads(path: &Path) {
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(UPLOAD_PREFIX) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The lock file that serializes edits of the config file across processes.
const CONFIG_LOCK: &str = "config.lock";

/// The exclusive lock on `config.lock` (config edits, migrations), across threads and
/// processes; released on drop.
pub(crate) struct ConfigLock {
    _file: std::fs::File,
    _one: std::sync::MutexGuard<'static, ()>,
}

impl ConfigLock {
    pub(crate) fn take(path: &Path) -> Result<ConfigLock, RepoError> {
        static EDITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let one = EDITING.lock().unwrap_or_else(|p| p.into_inner());
        let lock_path = path.join(CONFIG_LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        // Released when `file` closes.
        file.lock().map_err(io_err(&lock_path))?;
        Ok(ConfigLock {
            _file: file,
            _one: one,
        })
    }
}

/// Reads the config file, lets `edit` change it, and writes it back if it did. Edits are
/// serialized across threads and processes (an exclusive lock on `config.lock`), so two
/// writers — a daemon's `bootstrap add` and a CLI's `config KEY VALUE`, say — never lose
/// each other's change; each write replaces the file atomically.
pub fn edit_config<T, E: From<RepoError>>(
    path: &Path,
    edit: impl FnOnce(&mut Config) -> Result<T, E>,
) -> Result<T, E> {
    // Released after the write.
    let _lock = ConfigLock::take(path)?;
    let before = load_config(path)?;
    let mut after = before.clone();
    let out = edit(&mut after)?;
    if after != before {
        save_config(path, &after)?;
    }
    Ok(out)
}

/// Writes the config file atomically (temp file + rename), owner-only.
pub fn save_config(path: &Path, config: &Config) -> Result<(), RepoError> {
    let mut text = serde_json::to_vec_pretty(config).map_err(|source| RepoError::Config {
        path: path.join(CONFIG_FILE),
        source: source.into(),
    })?;
    text.push(b'\n');
    write_atomic(&path.join(CONFIG_FILE), &text)
}

fn create_private_dir(path: &Path) -> Result<(), RepoError> {
    std::fs::create_dir_all(path).map_err(io_err(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err(path))?;
    }
    Ok(())
}

/// Replaces `file` with `data` atomically: a uniquely named temp file beside it (so
/// concurrent writers never share one), fsynced, renamed over `file`, and the directory
/// fsynced, so a reader sees the old or the new content, never a mix or a part.
fn write_atomic(file: &Path, data: &[u8]) -> Result<(), RepoError> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = file
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let tmp = file.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(data).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, file).map_err(io_err(file))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    #[cfg(unix)]
    if let Some(dir) = file.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture: a repository written by this build at version 1 (see
    /// `write_fixture`), with two pinned blocks: one inline, one in a pack file.
    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo-v1")
    }

    fn fixture_blocks() -> [dag::Block; 2] {
        [
            dag::Block::encode(dag::Version::V1, dag::block::RAW, &b"ipfsd fixture\n"[..]),
            dag::Block::encode(
                dag::Version::V1,
                dag::block::RAW,
                (0..40_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
            ),
        ]
    }

    /// Rewrites the fixture with this build (run by hand when the layout changes, and
    /// bump [`REPO_VERSION`] with a migration then):
    /// `cargo test -p ipfsd-node --lib write_fixture -- --ignored`.
    #[test]
    #[ignore]
    fn write_fixture() {
        let path = fixture();
        let _ = std::fs::remove_dir_all(&path);
        let repo = Repo::init(&path, &Config::default()).expect("init");
        for block in fixture_blocks() {
            let cid = *block.cid();
            repo.store().put(block).expect("put");
            repo.store()
                .pin_add(&cid, dag::store::PinMode::Recursive)
                .expect("pin");
        }
        drop(repo);
        // Made again by any open; not part of the repository's state.
        let _ = std::fs::remove_file(path.join("blocks.reserve"));
    }

    /// A copy of the fixture in a temporary directory.
    fn fixture_copy() -> (tempfile::TempDir, PathBuf) {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).expect("mkdir");
            for e in std::fs::read_dir(from).expect("read fixture") {
                let e = e.expect("entry");
                let target = to.join(e.file_name());
                if e.file_type().expect("type").is_dir() {
                    copy(&e.path(), &target);
                } else {
                    std::fs::copy(e.path(), &target).expect("copy");
                }
            }
        }
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("repo");
        copy(&fixture(), &path);
        (tmp, path)
    }

    /// A test-only next version: 1 → 2 rewrites a config value (as real migrations
    /// rewrite config keys) and leaves a marker.
    fn next_version() -> migrate::Versions {
        fn one_to_two(path: &Path) -> Result<(), RepoError> {
            let mut config = load_config(path)?;
            config.datastore.storage_gc_watermark = 80;
            save_config(path, &config)?;
            write_atomic(&path.join("migrated-by-test"), b"1 -> 2\n")
        }
        migrate::Versions {
            current: REPO_VERSION + 1,
            steps: vec![migrate::Migration {
                from: REPO_VERSION,
                what: "test: StorageGCWatermark 80",
                apply: one_to_two,
            }],
        }
    }

    fn assert_fixture_content(repo: &Repo) {
        for block in fixture_blocks() {
            assert_eq!(
                repo.store().get(block.cid()).expect("get").as_ref(),
                Some(block.data()),
                "{}",
                block.cid()
            );
        }
        assert_eq!(repo.store().pins().expect("pins").len(), 2);
        assert!(repo.store().verify().expect("verify").is_ok());
    }

    #[test]
    fn the_fixture_is_of_this_version_and_opens_unchanged() {
        assert_eq!(
            std::fs::read_to_string(fixture().join(VERSION_FILE)).expect("version"),
            format!("{REPO_VERSION}\n")
        );
        let (_tmp, path) = fixture_copy();
        let repo = Repo::open(&path).expect("open");
        assert_fixture_content(&repo);
        assert!(
            !backup_dir(&path, REPO_VERSION).exists(),
            "no migration, no backup"
        );
    }

    #[test]
    fn a_newer_build_migrates_after_a_backup_and_this_one_then_refuses() {
        let (_tmp, path) = fixture_copy();
        let original_config = std::fs::read(path.join(CONFIG_FILE)).expect("config");
        // While another process (here: this one) has the store open, nothing migrates.
        let held = Repo::open(&path).expect("open");
        assert!(matches!(
            Repo::open_with(&path, &next_version()),
            Err(RepoError::Store(StoreError::Locked { .. }))
        ));
        assert_eq!(migrate::read_version(&path).expect("version"), 1);
        drop(held);

        // The next version migrates: backup first, then the step, then the version.
        let repo = Repo::open_with(&path, &next_version()).expect("migrates");
        assert_eq!(migrate::read_version(&path).expect("version"), 2);
        assert_eq!(repo.config().datastore.storage_gc_watermark, 80);
        assert!(path.join("migrated-by-test").exists());
        assert_fixture_content(&repo);
        drop(repo);
        let backup = backup_dir(&path, 1);
        assert_eq!(
            std::fs::read_to_string(backup.join(VERSION_FILE)).expect("backup version"),
            "1\n"
        );
        assert!(std::fs::read(backup.join(CONFIG_FILE)).expect("cfg") == original_config);
        // (Each open rewrites the index's header, so it is checked by the rollback below.)
        assert!(backup.join(STORE_FILE).exists());
        assert!(backup.join("identity").exists());
        // Opening again with the next version changes nothing.
        drop(Repo::open_with(&path, &next_version()).expect("reopens"));

        // This build refuses the newer repository, naming the versions and the backup.
        let err = Repo::open(&path).expect_err("too new");
        assert!(
            matches!(&err, RepoError::TooNew { found: 2, supported: 1, backup: Some(b), .. } if *b == backup),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("version 2")
                && msg.contains("supports (1)")
                && msg.contains(&backup.display().to_string()),
            "{msg}"
        );

        // The documented rollback: copy the backup back; this build opens it again.
        for name in migrate::BACKED_UP {
            if backup.join(name).exists() {
                std::fs::copy(backup.join(name), path.join(name)).expect("restore");
            }
        }
        let repo = Repo::open(&path).expect("rolled back");
        assert_eq!(repo.config().datastore.storage_gc_watermark, 90);
        assert_fixture_content(&repo);
    }

    #[test]
    fn a_version_without_a_step_or_a_number_is_refused() {
        let (_tmp, path) = fixture_copy();
        let mut two_ahead = next_version();
        two_ahead.current += 1;
        let err = Repo::open_with(&path, &two_ahead).expect_err("no step from 2");
        assert!(
            matches!(err, RepoError::NoMigration { from: 2, .. }),
            "{err:?}"
        );
        // The step that exists ran and is recorded: a fixed build resumes from 2.
        assert_eq!(migrate::read_version(&path).expect("version"), 2);
        std::fs::write(path.join(VERSION_FILE), b"two\n").expect("write");
        assert!(matches!(
            Repo::open(&path),
            Err(RepoError::Version { found, .. }) if found == "two"
        ));
    }

    #[test]
    fn open_removes_stale_upload_spools() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("repo");
        drop(Repo::init(&path, &Config::default()).expect("init"));
        let stale = path.join(format!("{UPLOAD_PREFIX}1-2.tmp"));
        std::fs::write(&stale, b"half a CAR").expect("write");
        drop(Repo::open(&path).expect("open"));
        assert!(!stale.exists());
    }

    #[test]
    fn init_open_and_errors() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("repo");
        assert!(matches!(
            Repo::open(&path),
            Err(RepoError::NotInitialized { .. })
        ));
        let repo = Repo::init(&path, &Config::default()).expect("init");
        assert!(matches!(
            Repo::init(&path, &Config::default()),
            Err(RepoError::AlreadyExists { .. })
        ));
        drop(repo);
        let repo = Repo::open(&path).expect("open");
        assert_eq!(repo.config().import, Config::default().import);
        assert_eq!(
            repo.config().identity.peer_id,
            repo.identity().peer_id().to_string()
        );
        std::fs::write(path.join(CONFIG_FILE), b"{not json").expect("write");
        drop(repo);
        assert!(matches!(Repo::open(&path), Err(RepoError::Config { .. })));
    }
}
