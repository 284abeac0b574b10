//! Fetches driven by the caller's task: one block ([`get`]) or a whole DAG ([`dag()`]).
//!
//! Data flow: the walker keeps up to `fetch_window` CIDs wanted through its session, in
//! depth-first order (so a file's leading bytes arrive first); blocks already in the store
//! are walked without fetching; every arriving block's dag-pb links are queued ahead of
//! later siblings. When nothing is left it waits for the store writer to commit, so the
//! DAG is readable from the store once this returns.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use dag::{Block, Cid};
use tokio::sync::mpsc;

use crate::engine::{Delivery, SessionId};
use crate::error::Error;
use crate::handle::Bitswap;

/// How a DAG fetch went.
#[derive(Debug, Clone, Default)]
pub struct FetchStats {
    /// Blocks fetched from peers.
    pub fetched: u64,
    /// Bytes of those.
    pub bytes: u64,
    /// Blocks found in the store.
    pub local: u64,
    /// Wall time.
    pub duration: Duration,
}

impl Bitswap {
    /// One block: from the store, else from peers (verified and stored).
    pub async fn get(&self, cid: Cid) -> Result<Block, Error> {
        get(self, cid).await
    }

    /// Fetches the whole DAG under `root` into the store (blocks already held are walked,
    /// not fetched). Only dag-pb links are followed.
    pub async fn fetch_dag(&self, root: Cid) -> Result<FetchStats, Error> {
        dag(self, root).await
    }
}

/// Closes the session however the fetch ends.
struct Guard<'a> {
    bs: &'a Bitswap,
    id: SessionId,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let bs = self.bs.clone();
        let id = self.id;
        tokio::spawn(async move { bs.close_session(id).await });
    }
}

fn store_error(e: dag::StoreError) -> Error {
    Error::Store(Box::new(e))
}

async fn get(bs: &Bitswap, cid: Cid) -> Result<Block, Error> {
    if let Some(data) = dag::block::identity_data(&cid) {
        return Ok(Block::trusted(cid, bytes::Bytes::copy_from_slice(data)));
    }
    // Pending first: a block leaves it only once committed, so checking the store after
    // it cannot miss a block in between.
    if let Some(data) = bs.pending(&cid) {
        return Ok(Block::trusted(cid, data));
    }
    let store = bs.store().clone();
    let local = tokio::task::spawn_blocking(move || store.get(&cid))
        .await
        .map_err(|_| Error::Stopped)?
        .map_err(store_error)?;
    if let Some(data) = local {
        return Ok(Block::trusted(cid, data));
    }
    let (id, mut rx) = bs.open_session(Vec::new()).await?;
    let _guard = Guard { bs, id };
    bs.want(id, vec![cid]).await?;
    let idle = bs.config().fetch_idle_timeout;
    loop {
        match tokio::time::timeout(idle, rx.recv()).await {
            Ok(Some(Delivery::Block(b))) if *b.cid() == cid => return Ok(b),
            Ok(Some(Delivery::NotFound(c))) if c == cid => return Err(Error::NotFound { cid }),
            Ok(Some(_)) => continue,
            Ok(None) => return Err(Error::Stopped),
            Err(_) => return Err(Error::Timeout { cid }),
        }
    }
}

/// Links to follow in a block, in any codec `dag::codec` understands (raw, plain json/cbor
/// and unknown codecs are leaves).
fn links(block: &Block) -> Result<Vec<Cid>, Error> {
    dag::codec::links(block.cid(), block.data()).map_err(|source| Error::Decode {
        cid: *block.cid(),
        source,
    })
}

async fn dag(bs: &Bitswap, root: Cid) -> Result<FetchStats, Error> {
    let started = Instant::now();
    let mut stats = FetchStats::default();
    let window = bs.config().fetch_window.max(1);
    let idle = bs.config().fetch_idle_timeout;
    let mut pending: VecDeque<Cid> = VecDeque::from([root]);
    let mut outstanding: HashSet<Cid> = HashSet::new();
    let mut seen: HashSet<Cid> = HashSet::from([root]);
    let mut session: Option<(SessionId, mpsc::Receiver<Delivery>, Guard<'_>)> = None;
    loop {
        // Fill the window: local blocks are walked here, missing ones wanted.
        while outstanding.len() < window && !pending.is_empty() {
            let take = (window - outstanding.len()).min(pending.len()).min(256);
            let batch: Vec<Cid> = pending.drain(..take).collect();
            let store = bs.store().clone();
            let fetcher = bs.clone();
            let checked = tokio::task::spawn_blocking(move || {
                let mut out = Vec::with_capacity(batch.len());
                for cid in batch {
                    if dag::block::identity_data(&cid).is_some() {
                        out.push((cid, Ok(Some(None))));
                        continue;
                    }
                    // Raw leaves need only an existence check; nodes are read to walk on.
                    // (Blocks just fetched may still be on their way to the store.)
                    let r = if let Some(d) = fetcher.pending(&cid) {
                        Ok(Some((cid.codec() != dag::block::RAW).then_some(d)))
                    } else if cid.codec() == dag::block::RAW {
                        store.size(&cid).map(|s| s.map(|_| None))
                    } else {
                        store.get(&cid).map(|d| d.map(Some))
                    };
                    out.push((cid, r));
                }
                out
            })
            .await
            .map_err(|_| Error::Stopped)?;
            let mut want = Vec::new();
            let mut children_front: Vec<Cid> = Vec::new();
            for (cid, r) in checked {
                match r.map_err(store_error)? {
                    Some(data) => {
                        stats.local += 1;
                        if let Some(data) = data {
                            for c in links(&Block::trusted(cid, data))? {
                                if seen.insert(c) {
                                    children_front.push(c);
                                }
                            }
                        }
                    }
                    None => want.push(cid),
                }
            }
            for c in children_front.into_iter().rev() {
                pending.push_front(c);
            }
            if !want.is_empty() {
                if session.is_none() {
                    // The root's holders (the session that fetched it, if it was fetched)
                    // are asked for its links at once, without a want-have round trip.
                    let (id, rx) = bs.open_session(vec![root]).await?;
                    session = Some((id, rx, Guard { bs, id }));
                }
                if let Some((id, _, _)) = &session {
                    outstanding.extend(want.iter().copied());
                    bs.want(*id, want).await?;
                }
            }
        }
        if outstanding.is_empty() {
            break;
        }
        let Some((_, rx, _)) = session.as_mut() else {
            break;
        };
        let block = match tokio::time::timeout(idle, rx.recv()).await {
            Ok(Some(Delivery::Block(b))) => b,
            Ok(Some(Delivery::NotFound(cid))) if outstanding.contains(&cid) => {
                return Err(Error::NotFound { cid });
            }
            Ok(Some(Delivery::NotFound(_))) => continue,
            Ok(None) => return Err(Error::Stopped),
            Err(_) => {
                let cid = outstanding.iter().next().copied().unwrap_or(root);
                return Err(Error::Timeout { cid });
            }
        };
        if !outstanding.remove(block.cid()) {
            continue;
        }
        stats.fetched += 1;
        stats.bytes += block.data().len() as u64;
        let mut kids = Vec::new();
        for c in links(&block)? {
            if seen.insert(c) {
                kids.push(c);
            }
        }
        for c in kids.into_iter().rev() {
            pending.push_front(c);
        }
    }
    if stats.fetched > 0 {
        bs.flush().await?;
    }
    stats.duration = started.elapsed();
    Ok(stats)
}
