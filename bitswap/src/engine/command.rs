//! The engine's side of the [`crate::Bitswap`] handle: the commands it sends (each query
//! with a `oneshot` reply), what a fetch session receives, and the answers to `stat` and
//! `ledger` queries.

use dag::{Block, Cid};
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

use crate::ledger::Ledger;

/// Counters for `bitswap stat`.
#[derive(Debug, Clone, Default)]
pub struct Stat {
    /// Blocks received (wanted or not).
    pub blocks_received: u64,
    /// Bytes of those blocks.
    pub data_received: u64,
    /// Blocks sent.
    pub blocks_sent: u64,
    /// Bytes of those blocks.
    pub data_sent: u64,
    /// Blocks read for a peer and then left unsent, because it cancelled them before a
    /// stream wrote them.
    pub blocks_withheld: u64,
    /// Blocks received that no session wanted any more.
    pub dup_blks_received: u64,
    /// Bytes of those.
    pub dup_data_received: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Peers disconnected for protocol violations.
    pub misbehaving_peers: u64,
    /// Ledger exchanges that agreed.
    pub ledger_agreed: u64,
    /// Ledger exchanges that disagreed (both sides reset).
    pub ledger_resets: u64,
    /// CIDs we want now.
    pub wantlist: Vec<Cid>,
    /// Peers BitSwap knows to be connected.
    pub peers: Vec<PeerId>,
    /// Peers with pending wants served by the scheduler.
    pub serving: usize,
    /// Active fetch sessions.
    pub sessions: usize,
    /// Entries in peers' wantlists with us (what they asked for and were not sent yet),
    /// all peers together.
    pub peer_wants: usize,
    /// Blocks and bytes each way per protocol version, one entry per
    /// [`Version::ALL`](crate::protocol::Version::ALL), oldest first.
    pub by_version: Vec<VersionStat>,
}

/// Blocks and bytes exchanged over one BitSwap protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionStat {
    /// The version.
    pub version: crate::protocol::Version,
    /// Blocks received on streams of this version.
    pub blocks_received: u64,
    /// Their bytes.
    pub data_received: u64,
    /// Blocks written on streams of this version.
    pub blocks_sent: u64,
    /// Their bytes.
    pub data_sent: u64,
}

/// A ledger as reported by `bitswap ledger`.
#[derive(Debug, Clone)]
pub struct LedgerReport {
    /// The peer.
    pub peer: PeerId,
    /// The ledger.
    pub ledger: Ledger,
    /// Its debt ratio.
    pub debt_ratio: f64,
    /// `P(send | r)`.
    pub send_probability: f64,
    /// Whether the peer takes part in ledger exchange (`None`: not known yet).
    pub exchanges: Option<bool>,
}

pub(crate) type SessionId = u64;

/// What a session's fetcher receives.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// A wanted block arrived (verified).
    Block(Block),
    /// Nobody connected has this CID and the DHT knows no provider.
    NotFound(Cid),
}

#[derive(Debug)]
pub(crate) enum Command {
    OpenSession {
        /// CIDs whose holders likely have what the session will want (a DAG walk's
        /// root): they are asked for blocks at once.
        hints: Vec<Cid>,
        reply: oneshot::Sender<(SessionId, mpsc::Receiver<Delivery>)>,
    },
    Want {
        session: SessionId,
        cids: Vec<Cid>,
    },
    CloseSession {
        session: SessionId,
    },
    Flush {
        reply: oneshot::Sender<()>,
    },
    Stat {
        reply: oneshot::Sender<Stat>,
    },
    Ledger {
        peer: PeerId,
        reply: oneshot::Sender<Option<LedgerReport>>,
    },
    Ledgers {
        reply: oneshot::Sender<Vec<LedgerReport>>,
    },
    Wantlist {
        peer: Option<PeerId>,
        reply: oneshot::Sender<Vec<Cid>>,
    },
    /// Blocks were stored outside BitSwap (a local add): look again for peers' kept wants.
    Recheck,
    Stop,
}
