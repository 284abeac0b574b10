//! ipfsd as a library: an IPFS node inside your process.
//!
//! [`Node`] is the whole node behind one cheap, cloneable handle: a content-addressed
//! block store (on disk in a repository, or in memory), a libp2p swarm with the Kademlia
//! DHT, BitSwap block exchange, and IPNS names. The `ipfsd` daemon, its RPC API and its HTTP
//! gateway are thin layers over the same type, so an app that embeds a `Node` gets the
//! behaviour the CLI has: adds and pins announced to the DHT, names published only once
//! their value resolves, content missing from the store fetched from peers.
//!
//! ```
//! use node::{AddOptions, Node};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), node::Error> {
//! // In memory, offline: nothing touches the disk or the network.
//! let node = Node::builder().in_memory().offline().spawn().await?;
//! let added = node.add(b"hello world\n".to_vec(), AddOptions::default()).root().await?;
//! assert_eq!(added.cid.to_string(), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
//!
//! let text = node.cat(&format!("/ipfs/{}", added.cid), ..).await?.bytes().await?;
//! assert_eq!(&text[..], b"hello world\n");
//! node.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Networked nodes are built the same way with `.listen(..)` and `.bootstrap(..)` (see the
//! `share` example: two nodes in one process find, fetch and name content), and
//! [`gateway::router`] serves a node's content inside any axum app (the `gateway` example).
//!
//! The modules: the repository ([`repo::Repo`]: config file plus block store) and its
//! configuration ([`config::Config`]); identities ([`identity`]) and the keystore
//! ([`keystore`]); IPNS ([`names`]); the daemon ([`daemon`]) serving the RPC API ([`api`])
//! and the HTTP gateway ([`gateway`]). The package is `ipfsd-node`; the library is named
//! `node` because the workspace's crates are all `ipfsd-*` packages used under their short
//! names (`dag`, `bitswap`, `ipns`, `node`). `dag`, `bitswap` and `ipns` never depend on
//! this crate.
//!
//! Modules marked as plumbing ([`net`], [`ops`], [`path`], [`ipld`], [`cidfmt`],
//! [`content`]) are public for the `ipfsd` CLI and the workspace's tests; an app should
//! reach the same functions through [`Node`].

pub mod api;
pub mod cidfmt;
pub mod config;
pub mod content;
pub mod daemon;
pub mod diag;
pub mod gateway;
pub mod identity;
pub mod ipld;
pub mod keystore;
pub mod log;
pub mod metrics;
pub mod names;
pub mod net;
mod node;
pub mod ops;
pub mod path;
pub mod pool;
pub mod repo;
mod serve;

pub use config::Config;
pub use node::{
    AddEvent, AddInput, AddOptions, AddStream, BlockApi, Content, DagApi, Error, Event,
    MAX_LS_ENTRIES, NameApi, Node, NodeBuilder, PinApi, Publish, RoutingApi, SwarmApi,
};
pub use repo::{Repo, RepoError};
/// The token that stops a [`daemon::Daemon`] and the tracker a [`Node`]'s tasks run on.
pub use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// What `ipfsd id` reports offline (Kubo's shape): no addresses or protocols, which the
/// running daemon adds (`/api/v0/id`).
pub fn identity_json(identity: &identity::Identity) -> serde_json::Value {
    serde_json::json!({
        "ID": identity.peer_id().to_string(),
        "PowDifficulty": identity.difficulty(),
        "PublicKey": identity.public_key_base64(),
        "Addresses": [],
        "AgentVersion": format!("ipfsd/{}", env!("CARGO_PKG_VERSION")),
        "Protocols": [],
    })
}
