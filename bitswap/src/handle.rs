//! The [`Bitswap`] handle: a cheap clone holding the engine's command sender, the block
//! store and the not-yet-committed blocks. Each call sends one [`Command`] (with a
//! `oneshot` reply for queries) to the engine task; fetches ([`crate::fetch`]) use the
//! crate-internal session calls here. [`Task`] is the engine's join handle.

use std::sync::Arc;

use bytes::Bytes;
use dag::Cid;
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::engine::{self, Command, Delivery, LedgerReport, SessionId, Stat};
use crate::error::Error;
use crate::host::Parts;
use crate::store::{self, Blockstore};

/// The handle on a running BitSwap (cheap to clone).
#[derive(Debug, Clone)]
pub struct Bitswap {
    tx: mpsc::Sender<Command>,
    store: Arc<dyn Blockstore>,
    pending: store::Pending,
    config: Arc<Config>,
}

/// The running engine, to wait for after [`Bitswap::stop`].
#[derive(Debug)]
pub struct Task(tokio::task::JoinHandle<()>);

impl Task {
    /// Waits until the engine stopped and its ledgers are saved.
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

impl Bitswap {
    /// Starts the engine and begins accepting BitSwap streams.
    pub async fn start(config: Config, parts: Parts) -> Result<(Bitswap, Task), Error> {
        let config = Arc::new(config);
        let store = parts.store.clone();
        let pending = store::Pending::default();
        let (tx, join) = engine::spawn(config.clone(), parts, pending.clone()).await?;
        Ok((
            Bitswap {
                tx,
                store,
                pending,
                config,
            },
            Task(join),
        ))
    }

    async fn ask<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(f(reply)).await.map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Counters.
    pub async fn stat(&self) -> Result<Stat, Error> {
        self.ask(|reply| Command::Stat { reply }).await
    }

    /// One peer's ledger.
    pub async fn ledger(&self, peer: PeerId) -> Result<Option<LedgerReport>, Error> {
        self.ask(|reply| Command::Ledger { peer, reply }).await
    }

    /// Every ledger.
    pub async fn ledgers(&self) -> Result<Vec<LedgerReport>, Error> {
        self.ask(|reply| Command::Ledgers { reply }).await
    }

    /// Our wantlist, or (with `peer`) what that peer wants from us.
    pub async fn wantlist(&self, peer: Option<PeerId>) -> Result<Vec<Cid>, Error> {
        self.ask(|reply| Command::Wantlist { peer, reply }).await
    }

    /// Blocks were stored outside BitSwap (a local `add`, `block put`, …): peers that
    /// asked for blocks we lacked then get them now (their kept wants are looked up again
    /// in the store). Never waits: a full command queue drops the call, and a recheck
    /// already under way runs once more when it ends.
    pub fn recheck_kept_wants(&self) {
        let _ = self.tx.try_send(Command::Recheck);
    }

    /// Stops the engine (ledgers are saved; wait on the [`Task`]).
    pub async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }

    /// Opens a session; peers that recently held one of `hints` (delivered it or said
    /// HAVE) are taken to hold what it will want.
    pub(crate) async fn open_session(
        &self,
        hints: Vec<Cid>,
    ) -> Result<(SessionId, mpsc::Receiver<Delivery>), Error> {
        self.ask(|reply| Command::OpenSession { hints, reply })
            .await
    }

    pub(crate) async fn want(&self, session: SessionId, cids: Vec<Cid>) -> Result<(), Error> {
        self.tx
            .send(Command::Want { session, cids })
            .await
            .map_err(|_| Error::Stopped)
    }

    pub(crate) async fn close_session(&self, session: SessionId) {
        let _ = self.tx.send(Command::CloseSession { session }).await;
    }

    pub(crate) async fn flush(&self) -> Result<(), Error> {
        self.ask(|reply| Command::Flush { reply }).await
    }

    pub(crate) fn store(&self) -> &Arc<dyn Blockstore> {
        &self.store
    }

    /// A fetched block not yet committed to the store.
    pub(crate) fn pending(&self, cid: &Cid) -> Option<Bytes> {
        self.pending.get(cid)
    }

    /// A block fetched moments ago, still in memory: queued for the store, or among the
    /// last [`crate::RECENT_BYTES`] committed. Its bytes were verified on receipt.
    /// A reader following a fetch (the exporter behind `cat`) looks here before the
    /// store, so what just arrived is not read back from disk.
    pub fn received(&self, cid: &Cid) -> Option<Bytes> {
        self.pending.get_recent(cid)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }
}
