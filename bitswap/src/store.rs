//! The block store seam and the store writer.
//!
//! [`Blockstore`] is what BitSwap needs from the node's block store. The store writer is
//! one thread that commits fetched blocks in batches (one write transaction per batch) so
//! the engine never waits on disk, and answers flush barriers once everything queued
//! before them is committed. Until a block is committed it sits in [`Pending`], where
//! fetches look before asking the network again; the last [`RECENT_BYTES`] committed stay
//! there too, for readers following a fetch.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dag::Cid;

use dag::Block;
use tokio::sync::{mpsc, oneshot};

/// Where BitSwap reads the blocks it serves and stores the blocks it fetches.
/// Calls block (they run on the blocking pool or the store thread).
pub trait Blockstore: Send + Sync + 'static {
    /// The block's bytes, if held.
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, dag::StoreError>;
    /// The block's size, if held.
    fn size(&self, cid: &Cid) -> Result<Option<u64>, dag::StoreError>;
    /// Stores verified blocks.
    fn put_many(&self, blocks: Vec<Block>) -> Result<(), dag::StoreError>;
}

impl Blockstore for dag::Store {
    fn get(&self, cid: &Cid) -> Result<Option<Bytes>, dag::StoreError> {
        dag::Store::get(self, cid)
    }
    fn size(&self, cid: &Cid) -> Result<Option<u64>, dag::StoreError> {
        dag::Store::size(self, cid)
    }
    fn put_many(&self, blocks: Vec<Block>) -> Result<(), dag::StoreError> {
        dag::Store::put_many(self, blocks).map(|_| ())
    }
}

impl std::fmt::Debug for dyn Blockstore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blockstore")
    }
}

/// Blocks or bytes per committed batch, whichever fills first.
const BATCH_BLOCKS: usize = 256;
const BATCH_BYTES: usize = 32 << 20;

#[derive(Debug)]
pub(crate) enum Item {
    Block(Block),
    Flush(oneshot::Sender<()>),
}

/// How many bytes of fetched blocks stay in memory after the store has committed them
/// (the newest; see [`crate::Bitswap::received`]).
pub const RECENT_BYTES: usize = 32 << 20;

/// Fetched blocks queued for the store and not yet committed (bounded by the queue), and
/// the most recently committed ones, up to [`RECENT_BYTES`]: a request reading a DAG as it
/// arrives (`cat` of a file being fetched) gets the bytes just received instead of reading
/// them back from the store.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending(Arc<Mutex<Held>>);

#[derive(Debug, Default)]
struct Held {
    queued: HashMap<Cid, Bytes>,
    recent: HashMap<Cid, Bytes>,
    /// `recent`'s CIDs, oldest commit first.
    order: VecDeque<Cid>,
    recent_bytes: usize,
}

impl Pending {
    pub(crate) fn insert(&self, cid: Cid, data: Bytes) {
        if let Ok(mut h) = self.0.lock() {
            h.queued.insert(cid, data);
        }
    }

    /// A queued block (the store has not committed it yet).
    pub(crate) fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.0.lock().ok().and_then(|h| h.queued.get(cid).cloned())
    }

    /// A queued or recently committed block.
    pub(crate) fn get_recent(&self, cid: &Cid) -> Option<Bytes> {
        let h = self.0.lock().ok()?;
        h.queued.get(cid).or_else(|| h.recent.get(cid)).cloned()
    }

    /// The blocks are committed: they leave the queue for the recent ones, whose oldest
    /// are let go beyond [`RECENT_BYTES`].
    fn committed(&self, cids: &[Cid]) {
        let Ok(mut h) = self.0.lock() else { return };
        for c in cids {
            let Some(data) = h.queued.remove(c) else {
                continue;
            };
            let len = data.len();
            if h.recent.insert(*c, data).is_none() {
                h.order.push_back(*c);
                h.recent_bytes += len;
            }
        }
        while h.recent_bytes > RECENT_BYTES {
            let Some(old) = h.order.pop_front() else {
                break;
            };
            if let Some(d) = h.recent.remove(&old) {
                h.recent_bytes -= d.len();
            }
        }
    }
}

/// Starts the thread; it ends when every sender is dropped.
pub(crate) fn spawn(
    store: Arc<dyn Blockstore>,
    pending: Pending,
) -> std::io::Result<mpsc::Sender<Item>> {
    let (tx, mut rx) = mpsc::channel::<Item>(1024);
    std::thread::Builder::new()
        .name("bitswap-store".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut blocks = Vec::new();
                let mut flushes = Vec::new();
                let mut bytes = 0;
                let mut next = Some(first);
                while let Some(item) = next.take() {
                    match item {
                        Item::Block(b) => {
                            bytes += b.data().len();
                            blocks.push(b);
                        }
                        Item::Flush(reply) => flushes.push(reply),
                    }
                    if blocks.len() >= BATCH_BLOCKS || bytes >= BATCH_BYTES {
                        break;
                    }
                    next = rx.try_recv().ok();
                }
                if !blocks.is_empty() {
                    let cids: Vec<Cid> = blocks.iter().map(|b| *b.cid()).collect();
                    if let Err(e) = store.put_many(blocks) {
                        tracing::warn!(error = %e, blocks = cids.len(), "storing fetched blocks failed");
                    }
                    pending.committed(&cids);
                }
                for f in flushes {
                    let _ = f.send(());
                }
            }
        })?;
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(n: u32, len: usize) -> (Cid, Bytes) {
        let mut data = vec![0u8; len];
        data[..4].copy_from_slice(&n.to_be_bytes());
        let b = Block::encode(dag::Version::V1, dag::block::RAW, data);
        (*b.cid(), b.data().clone())
    }

    #[test]
    fn committed_blocks_stay_readable_up_to_the_recent_budget() {
        let p = Pending::default();
        let quarter = RECENT_BYTES / 4;
        let blocks: Vec<_> = (0..6).map(|n| block(n, quarter)).collect();
        for (cid, data) in &blocks {
            p.insert(*cid, data.clone());
        }
        // Queued: both views see it.
        assert_eq!(p.get(&blocks[0].0).as_ref(), Some(&blocks[0].1));
        p.committed(&blocks.iter().map(|b| b.0).collect::<Vec<_>>());
        // Committed: no longer queued, still recent while the budget holds it.
        assert_eq!(p.get(&blocks[0].0), None);
        let held: Vec<bool> = blocks
            .iter()
            .map(|(c, _)| p.get_recent(c).is_some())
            .collect();
        assert_eq!(held, [false, false, true, true, true, true]);
        assert_eq!(p.get_recent(&blocks[5].0).as_ref(), Some(&blocks[5].1));
    }

    #[test]
    fn queued_blocks_are_never_let_go_and_a_recommit_is_counted_once() {
        let p = Pending::default();
        let half = RECENT_BYTES / 2;
        let (a, da) = block(1, half);
        let (b, db) = block(2, half);
        let (q, dq) = block(3, RECENT_BYTES);
        p.insert(q, dq.clone());
        for _ in 0..3 {
            // The same block fetched and committed again takes its room once.
            p.insert(a, da.clone());
            p.committed(&[a]);
        }
        p.insert(b, db);
        p.committed(&[b]);
        assert!(
            p.get_recent(&a).is_some(),
            "a and b fit the budget together"
        );
        assert!(p.get_recent(&b).is_some());
        // Commits push out the oldest recent blocks, never a queued one.
        let (c, dc) = block(4, half);
        p.insert(c, dc);
        p.committed(&[c]);
        assert!(p.get_recent(&a).is_none());
        assert_eq!(p.get(&q).as_ref(), Some(&dq));
    }
}
