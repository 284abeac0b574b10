//! The block store seam and the store writer.
//!
//! [`Blockstore`] is what BitSwap needs from the node's block store. The store writer is
//! one thread that commits fetched blocks in batches (one write transaction per batch) so
//! the engine never waits on disk, and answers flush barriers once everything queued
//! before them is committed. Until a block is committed it sits in [`Pending`], where
//! fetches look before asking the network again.

use std::collections::HashMap;
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

/// Fetched blocks queued for the store and not yet committed (bounded by the queue).
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending(Arc<Mutex<HashMap<Cid, Bytes>>>);

impl Pending {
    pub(crate) fn insert(&self, cid: Cid, data: Bytes) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(cid, data);
        }
    }

    pub(crate) fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.0.lock().ok().and_then(|m| m.get(cid).cloned())
    }

    fn remove(&self, cids: &[Cid]) {
        if let Ok(mut m) = self.0.lock() {
            for c in cids {
                m.remove(c);
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
                    pending.remove(&cids);
                }
                for f in flushes {
                    let _ = f.send(());
                }
            }
        })?;
    Ok(tx)
}
