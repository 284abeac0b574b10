//! Repository versions and migrations.
//!
//! The repository records the version of its layout in its `version` file. When a build
//! opens a repository:
//! - of its own version, nothing happens;
//! - of a newer version (written or migrated by a newer ipfsd), it refuses with
//!   [`RepoError::TooNew`], naming the backup a newer build left, if any;
//! - of an older version, it migrates it forward, one [`Migration`] step at a time, after
//!   a backup.
//!
//! Data flow of a migration (`Repo::open` → [`migrate`]): under the repository's config
//! lock (one migrating process at a time), the files a step may change — `config`,
//! `version`, `identity`, the block store's index `blocks.redb` (pins, small blocks) and
//! the DHT's `datastore.redb` — are copied to `backup-v<from>/` (into a temp directory
//! first, renamed when complete, so a backup is whole or absent; an existing one, from an
//! earlier attempt, is kept). Then each step runs and the `version` file is rewritten
//! (atomically) after it, so a crash resumes at the step that did not finish: steps are
//! idempotent. Pack files (`blocks.packs/`) are not copied: they are append-only and
//! addressed by the index, and a step must never rewrite them in place (it writes new
//! packs and points the index at them), so the backed-up index still finds its bytes.
//!
//! Rollback: stop ipfsd, copy the files of `backup-v<N>/` back over the repository's, and
//! run the ipfsd of version N. Once happy with the migrated repository, delete the backup.
//!
//! Version 1 is the first layout: this build has no migration steps. Tests register a
//! test-only next version (`#[cfg(test)]`) to exercise the machinery on a fixture.

use super::{CONFIG_FILE, RepoError, VERSION_FILE, io_err, write_atomic};
use std::path::{Path, PathBuf};

/// The files a migration step may change, copied before it runs (absent ones skipped).
pub(crate) const BACKED_UP: &[&str] = &[
    CONFIG_FILE,
    VERSION_FILE,
    "identity",
    super::STORE_FILE,
    crate::node::DATASTORE_FILE,
];

/// One step: turns a repository of version `from` into one of version `from + 1`.
#[derive(Clone, Copy)]
pub(crate) struct Migration {
    /// The version it starts from.
    pub(crate) from: u32,
    /// What it changes (logged).
    pub(crate) what: &'static str,
    /// Does it; must be idempotent (a crash re-runs it). Runs under the repository's
    /// config lock: it edits the config with `load_config`/`save_config`, never
    /// `edit_config` (which would wait for that lock).
    pub(crate) apply: fn(&Path) -> Result<(), RepoError>,
}

/// The versions a build handles: the one it writes and the steps that lead there.
#[derive(Clone)]
pub(crate) struct Versions {
    /// The version this build writes and runs.
    pub(crate) current: u32,
    /// Steps from older versions, in order.
    pub(crate) steps: Vec<Migration>,
}

impl Versions {
    /// This build's: [`super::REPO_VERSION`], no steps yet.
    pub(crate) fn this_build() -> Versions {
        Versions {
            current: super::REPO_VERSION,
            steps: Vec::new(),
        }
    }
}

/// The backup directory of a repository taken before migrating from `version`.
pub fn backup_dir(repo: &Path, version: u32) -> PathBuf {
    repo.join(format!("backup-v{version}"))
}

/// Reads the repository's version and brings it to `versions.current` (see the module
/// docs); answers the version it was found at.
pub(crate) fn migrate(path: &Path, versions: &Versions) -> Result<u32, RepoError> {
    let found = read_version(path)?;
    if found == versions.current {
        return Ok(found);
    }
    if found > versions.current {
        let backup = backup_dir(path, versions.current);
        return Err(RepoError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: versions.current,
            backup: backup.is_dir().then_some(backup),
        });
    }
    // One process migrates; others wait, then find the new version.
    let _lock = super::ConfigLock::take(path)?;
    let found = read_version(path)?;
    if found == versions.current {
        return Ok(found);
    }
    // No other process may have the store open: opening it takes redb's lock (a daemon
    // running on the repository makes this fail with `Locked`). It is closed again before
    // the copy (a file copied while open would need a repair when restored); a process
    // of this build that opens the repository meanwhile waits for the config lock first.
    drop(dag::Store::open(&path.join(super::STORE_FILE))?);
    backup(path, found)?;
    for version in found..versions.current {
        let step = versions
            .steps
            .iter()
            .find(|s| s.from == version)
            .ok_or_else(|| RepoError::NoMigration {
                path: path.to_path_buf(),
                from: version,
            })?;
        tracing::info!(repo = %path.display(), from = version, to = version + 1, what = step.what, "migrating repository");
        (step.apply)(path)?;
        write_atomic(
            &path.join(VERSION_FILE),
            format!("{}\n", version + 1).as_bytes(),
        )?;
    }
    tracing::info!(
        repo = %path.display(),
        from = found,
        to = versions.current,
        backup = %backup_dir(path, found).display(),
        "repository migrated; the backup can be deleted once the new version works"
    );
    Ok(found)
}

/// The version in the repository's `version` file.
pub(crate) fn read_version(path: &Path) -> Result<u32, RepoError> {
    let file = path.join(VERSION_FILE);
    let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
    text.trim().parse().map_err(|_| RepoError::Version {
        path: path.to_path_buf(),
        found: text.trim().to_string(),
    })
}

/// Copies the files a step may change to `backup-v<version>/`, unless a whole backup of
/// that version is there already.
fn backup(path: &Path, version: u32) -> Result<(), RepoError> {
    let dir = backup_dir(path, version);
    if dir.is_dir() {
        tracing::info!(backup = %dir.display(), "keeping the backup of an earlier migration attempt");
        return Ok(());
    }
    let tmp = path.join(format!(".backup-v{version}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
    for name in BACKED_UP {
        let from = path.join(name);
        if !from.exists() {
            continue;
        }
        let to = tmp.join(name);
        std::fs::copy(&from, &to).map_err(io_err(&to))?;
        std::fs::File::open(&to)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&to))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io_err(&dir))?;
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err(path))?;
    tracing::info!(backup = %dir.display(), "repository backed up before migrating");
    Ok(())
}
