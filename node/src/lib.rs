//! ipfsd's node layer: it composes the lower crates into a running node.
//!
//! The repository ([`repo::Repo`]: config file plus block store) and its typed
//! configuration ([`config::Config`]); the network ([`net`]: libp2p swarm and Kademlia
//! DHT); BitSwap wired to both ([`content`]); the daemon ([`daemon`]) serving the RPC API
//! ([`api`]) and the HTTP gateway ([`gateway`]). `dag`, `bitswap` and `ipns` never depend on this crate.

#![allow(missing_docs)] // lead curates node's public surface (issue 16)

pub mod api;
pub mod cidfmt;
pub mod config;
pub mod content;
pub mod daemon;
pub mod gateway;
pub mod identity;
pub mod ipld;
pub mod keystore;
pub mod names;
pub mod net;
pub mod ops;
pub mod path;
pub mod repo;
pub mod serve;

pub use config::Config;
pub use repo::{Repo, RepoError};

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
