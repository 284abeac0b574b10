//! Operations shared by the offline CLI and the RPC API, so both behave the same.

use dag::import::Added;
use dag::store::{PinKind, PinMode, Writer};
use dag::{Cid, Store, StoreError};
use std::collections::HashSet;

/// Ends an import: commits its blocks durably and, with `pin`, pins every root
/// recursively in the same transaction as the last blocks (so no GC can come between).
pub fn finish_add(writer: Writer, roots: &[Added], pin: bool) -> Result<(), StoreError> {
    if !pin || roots.is_empty() {
        writer.finish()?;
        return Ok(());
    }
    // Every root pinned in the writer's final transaction: until it commits, the
    // writer's blocks are kept from GC, after it the pins keep them.
    let mut done = HashSet::new();
    let pins: Vec<(Cid, PinMode)> = roots
        .iter()
        .rev()
        .filter(|a| done.insert(a.cid))
        .map(|a| (a.cid, PinMode::Recursive))
        .collect();
    writer.finish_and_pin_all(&pins)?;
    Ok(())
}

/// Which pins `pin ls --type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinTypes {
    /// Recursive pins.
    pub recursive: bool,
    /// Direct pins.
    pub direct: bool,
    /// Blocks pinned through a recursive pin.
    pub indirect: bool,
}

impl PinTypes {
    /// Parses `recursive`, `direct`, `indirect` or `all`.
    pub fn parse(kind: &str) -> Result<Self, PinListError> {
        let (recursive, direct, indirect) = match kind {
            "all" => (true, true, true),
            "recursive" => (true, false, false),
            "direct" => (false, true, false),
            "indirect" => (false, false, true),
            other => {
                return Err(PinListError::BadType {
                    kind: other.to_string(),
                });
            }
        };
        Ok(PinTypes {
            recursive,
            direct,
            indirect,
        })
    }
}

/// `pin ls` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinListError {
    /// Not a pin type.
    #[error("invalid pin type {kind:?}: expected recursive, direct, indirect or all")]
    BadType {
        /// What was given.
        kind: String,
    },
    /// A path asked about is not pinned (with one of the selected types).
    #[error("path '{path}' is not pinned")]
    NotPinned {
        /// The path.
        path: String,
    },
    /// A path could not be resolved.
    #[error(transparent)]
    Resolve(#[from] crate::path::ResolveError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rows of `pin ls`: (CID, type label). Without `paths`, every pin of the selected
/// types; with them, how each is pinned (an error for one that is not).
pub fn pin_list(
    store: &Store,
    types: PinTypes,
    paths: &[String],
) -> Result<Vec<(String, String)>, PinListError> {
    let mut rows = Vec::new();
    if paths.is_empty() {
        for (cid, mode) in store.pins()? {
            if (mode == PinMode::Recursive && types.recursive)
                || (mode == PinMode::Direct && types.direct)
            {
                rows.push((cid.to_string(), mode.to_string()));
            }
        }
        if types.indirect {
            rows.extend(
                store
                    .indirect_pins()?
                    .into_iter()
                    .map(|c| (c.to_string(), "indirect".into())),
            );
        }
        return Ok(rows);
    }
    for p in paths {
        let cid = crate::path::resolve(store, p)?;
        let label = match store.pin_status(&cid)? {
            Some(PinKind::Recursive) if types.recursive => "recursive".to_string(),
            Some(PinKind::Direct) if types.direct => "direct".to_string(),
            Some(PinKind::Indirect { via }) if types.indirect => format!("indirect through {via}"),
            _ => return Err(PinListError::NotPinned { path: p.clone() }),
        };
        rows.push((cid.to_string(), label));
    }
    Ok(rows)
}

/// Errors of a reference walk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefsError<E> {
    /// A block could not be read or decoded.
    #[error(transparent)]
    Export(#[from] dag::export::ExportError),
    /// The callback failed.
    #[error("{0}")]
    Callback(E),
}

/// Walks the links under `root` depth-first in link order, like `ipfs refs`: each link
/// target is reported (the root is not); with `recursive` the walk descends; with
/// `unique` each CID is reported once (across calls sharing `seen`).
pub fn walk_refs<E>(
    store: &impl dag::BlockSource,
    root: Cid,
    recursive: bool,
    unique: bool,
    seen: &mut HashSet<Cid>,
    mut report: impl FnMut(&Cid) -> Result<(), E>,
) -> Result<(), RefsError<E>> {
    let mut stack = vec![(root, true)];
    while let Some((cid, is_root)) = stack.pop() {
        if !is_root {
            if unique && !seen.insert(cid) {
                continue;
            }
            report(&cid).map_err(RefsError::Callback)?;
            if !recursive {
                continue;
            }
        }
        let data = dag::export::get(store, &cid)?;
        let links = dag::codec::links(&cid, &data)
            .map_err(|source| dag::export::ExportError::Decode { cid, source })?;
        stack.extend(links.into_iter().rev().map(|c| (c, false)));
    }
    Ok(())
}
