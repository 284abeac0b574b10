//! The store writer: one thread that commits fetched blocks in batches (one write
//! transaction per batch) so the engine never waits on disk, and answers flush barriers
//! once everything queued before them is committed.

use std::sync::Arc;

use dag::Block;
use tokio::sync::{mpsc, oneshot};

use crate::Blockstore;

/// Blocks or bytes per committed batch, whichever fills first.
const BATCH_BLOCKS: usize = 256;
const BATCH_BYTES: usize = 32 << 20;

#[derive(Debug)]
pub(crate) enum Item {
    Block(Block),
    Flush(oneshot::Sender<()>),
}

/// Starts the thread; it ends when every sender is dropped.
pub(crate) fn spawn(store: Arc<dyn Blockstore>) -> std::io::Result<mpsc::Sender<Item>> {
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
                    let n = blocks.len();
                    if let Err(e) = store.put_many(blocks) {
                        tracing::warn!(error = %e, blocks = n, "storing fetched blocks failed");
                    }
                }
                for f in flushes {
                    let _ = f.send(());
                }
            }
        })?;
    Ok(tx)
}
