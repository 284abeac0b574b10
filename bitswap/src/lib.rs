//! BitSwap for ipfsd: the wire protocol (`/ipfs/bitswap/1.2.0`, 1.1.0, 1.0.0), a per-peer
//! ledger with the IPFS whitepaper's debt-ratio send strategy, and fetch sessions.
//!
//! Data flow:
//! - [`Bitswap::start`] spawns one engine task (the actor that owns every peer's state,
//!   the ledgers, the sessions and the upload scheduler), a task accepting inbound streams,
//!   and a store-writer thread. Callers hold the cloneable [`Bitswap`] handle.
//! - Inbound: each stream a peer opens gets a reader task that frames, decodes and checks
//!   messages (blocks verified against their CIDs, limits applied) and hands them to the
//!   engine; a peer sending garbage is disconnected through [`Routing::disconnect`].
//! - Serving: a peer's want-blocks queue up in the engine; each scheduling round the
//!   [`strategy::Scheduler`] decides whom to serve, the blocks are read on the blocking pool
//!   and written by that peer's writer task (one long-lived outbound stream per peer, which
//!   also carries our wants to it). Bytes in flight are bounded per peer and in total.
//! - Fetching: [`Bitswap::get`] and [`Bitswap::fetch_dag`] open a [`session::Session`]
//!   that picks peers (connected ones first, DHT providers through [`Routing`] when stuck);
//!   received blocks go to the sessions that want them and to the store writer.
//! - Ledgers (bytes and blocks each way per peer) are persisted in redb and compared with
//!   ipfsd peers on connect over `/ipfsd/ledger/1.0.0` ([`exchange`]).
//!
//! Nothing here knows the transport: outbound streams come from a
//! [`libp2p_stream::Control`], inbound ones from [`inbound::Behaviour`] in the node's swarm,
//! and connection events and provider lookups from the embedding node.

mod config;
mod engine;
mod error;
pub mod exchange;
mod fetch;
mod handle;
mod host;
pub mod inbound;
pub mod ledger;
mod net;
pub mod protocol;
pub mod session;
mod store;
pub mod strategy;

pub use config::Config;
pub use engine::{LedgerReport, Stat, VersionStat};
pub use error::Error;
pub use fetch::FetchStats;
pub use handle::{Bitswap, Task};
pub use host::{Parts, PeerEvent, PeerEvents, PeerEventsRx, Routing};
pub use ledger::{Ledger, LedgerDb, LedgerError};
pub use store::{Blockstore, RECENT_BYTES};
pub use strategy::Strategy;
