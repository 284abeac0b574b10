//! Operations shared by the offline CLI and the RPC API, so both behave the same.

use dag::import::Added;
use dag::store::{PinMode, Writer};
use dag::{Cid, Store, StoreError};
use std::collections::HashSet;

/// Ends an import: commits its blocks durably and, with `pin`, pins every root
/// recursively (the last one in the same transaction as the blocks).
pub fn finish_add(
    store: &Store,
    writer: Writer,
    roots: &[Added],
    pin: bool,
) -> Result<(), StoreError> {
    match (pin, roots.split_last()) {
        (true, Some((last, others))) => {
            writer.finish_and_pin(last.cid, PinMode::Recursive)?;
            let mut done = HashSet::from([last.cid]);
            for a in others {
                if done.insert(a.cid) {
                    store.pin_add(&a.cid, PinMode::Recursive)?;
                }
            }
        }
        _ => {
            writer.finish()?;
        }
    }
    Ok(())
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
    store: &Store,
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
        let links = dag::pb::links_of(&cid, &data)
            .map_err(|source| dag::export::ExportError::Decode { cid, source })?;
        stack.extend(links.into_iter().rev().map(|c| (c, false)));
    }
    Ok(())
}
