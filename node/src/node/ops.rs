//! The groups of [`Node`] operations: [`PinApi`], [`DagApi`], [`BlockApi`], [`NameApi`],
//! [`RoutingApi`] and [`SwarmApi`], each a borrowed view (`node.pin().add(..)`). The rules
//! shared by every front end live here: pinning fetches the whole DAG first and announces
//! it; publishing checks that the value resolves, with the configured default lifetime.

use super::{Error, Event, Node};
use crate::names::{PublishOptions, Published, ResolveOptions};
use crate::net::{PeerConn, Provider, provider_key};
use bytes::Bytes;
use dag::store::PinMode;
use dag::{Block, Cid};
use libp2p::{Multiaddr, PeerId};
use std::time::Duration;

/// Longest wait for one block while checking that a value to publish resolves.
pub const PUBLISH_RESOLVE_DEADLINE: Duration = Duration::from_secs(30);
/// Record TTL (how long resolvers may cache) when the caller gives none (Kubo's 5 min).
const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Pins (from [`Node::pin`]).
#[derive(Debug, Clone, Copy)]
pub struct PinApi<'a>(pub(super) &'a Node);

impl PinApi<'_> {
    /// Pins what `path` resolves to, recursively (with `recursive`) or only its block
    /// (which must be stored). Online, a recursive pin first fetches every block of the
    /// DAG the store lacks; the pinned DAG is then announced per `Provide.Strategy`.
    pub async fn add(&self, path: &str, recursive: bool) -> Result<Cid, Error> {
        let node = self.0;
        let target = node.ipfs_path(path).await?;
        let resolving = node.source();
        // The lease keeps what the fetch stores from GC until the pin has committed.
        let (cid, lease) = node
            .blocking(move || {
                let cid = crate::path::resolve(&resolving, &target)?;
                Ok((cid, resolving.store().lease(cid)))
            })
            .await?;
        let mode = if recursive {
            PinMode::Recursive
        } else {
            PinMode::Direct
        };
        if recursive && let Some(bs) = node.bitswap() {
            let stats = bs.fetch_dag(cid).await?;
            if stats.fetched > 0 {
                node.emit(Event::Fetched {
                    root: cid,
                    blocks: stats.fetched,
                    bytes: stats.bytes,
                });
            }
        }
        let store = node.store().clone();
        node.blocking(move || Ok(store.pin_add(&cid, mode)?))
            .await?;
        drop(lease);
        node.announce(vec![cid], true);
        node.emit(Event::Pinned { root: cid });
        Ok(cid)
    }

    /// Removes the pin on what `path` resolves to; answers how it was pinned.
    pub async fn rm(&self, path: &str) -> Result<(Cid, PinMode), Error> {
        let node = self.0;
        let target = node.ipfs_path(path).await?;
        let store = node.store().clone();
        node.blocking(move || {
            let cid = crate::path::resolve(&store, &target)?;
            Ok((cid, store.pin_rm(&cid)?))
        })
        .await
    }

    /// Every pin (recursive and direct roots).
    pub async fn ls(&self) -> Result<Vec<(Cid, PinMode)>, Error> {
        let store = self.0.store().clone();
        self.0.blocking(move || Ok(store.pins()?)).await
    }

    /// Checks that every pinned DAG is complete and every block reads back intact.
    pub async fn verify(&self) -> Result<Vec<dag::store::PinReport>, Error> {
        let store = self.0.store().clone();
        self.0.blocking(move || Ok(store.pin_verify()?)).await
    }
}

/// IPLD nodes (from [`Node::dag`]).
#[derive(Debug, Clone, Copy)]
pub struct DagApi<'a>(pub(super) &'a Node);

impl DagApi<'_> {
    /// Stores one node given in `options.input` (dag-json by default) as
    /// `options.store` (dag-cbor by default); with `pin`, pins it recursively (every
    /// block it links to must then be stored). Announced like an add.
    pub async fn put(
        &self,
        input: impl Into<Bytes>,
        options: crate::ipld::PutOptions,
        pin: bool,
    ) -> Result<Cid, Error> {
        let node = self.0;
        let input = input.into();
        let store = node.store().clone();
        let cid = node
            .blocking(move || {
                let block = crate::ipld::put_block(&input, &options)?;
                let cid = *block.cid();
                crate::ipld::store_blocks(&store, vec![block], pin)?;
                Ok(cid)
            })
            .await?;
        node.announce(vec![cid], pin);
        Ok(cid)
    }

    /// The node or value `path` names, encoded in `output` (e.g. dag-json).
    pub async fn get(&self, path: &str, output: dag::codec::Codec) -> Result<Vec<u8>, Error> {
        let node = self.0;
        let target = node.ipfs_path(path).await?;
        let source = node.source();
        node.blocking(move || Ok(crate::ipld::get(&source, &target, output)?))
            .await
    }

    /// Where `path` leads: the last block's CID and the path left inside it.
    pub async fn resolve(&self, path: &str) -> Result<crate::ipld::Resolution, Error> {
        let node = self.0;
        let target = node.ipfs_path(path).await?;
        let source = node.source();
        node.blocking(move || Ok(crate::ipld::resolve(&source, &target)?))
            .await
    }
}

/// Raw blocks (from [`Node::block`]).
#[derive(Debug, Clone, Copy)]
pub struct BlockApi<'a>(pub(super) &'a Node);

impl BlockApi<'_> {
    /// The bytes of block `cid`, from the store or (online) a peer; checked against the
    /// CID either way.
    pub async fn get(&self, cid: &Cid) -> Result<Bytes, Error> {
        let source = self.0.source();
        let cid = *cid;
        self.0
            .blocking(move || Ok(dag::export::get(&source, &cid)?))
            .await
    }

    /// Stores `block` (already hashed: [`Block::encode_with`]); announced like an add.
    pub async fn put(&self, block: Block) -> Result<Cid, Error> {
        let cid = *block.cid();
        let store = self.0.store().clone();
        self.0.blocking(move || Ok(store.put(block)?)).await?;
        self.0.announce(vec![cid], false);
        Ok(cid)
    }

    /// Whether the store holds block `cid` (never asks the network).
    pub async fn has(&self, cid: &Cid) -> Result<bool, Error> {
        let store = self.0.store().clone();
        let cid = *cid;
        self.0.blocking(move || Ok(store.has(&cid)?)).await
    }

    /// Deletes block `cid` from the store (a pinned block is refused); answers whether
    /// it was there.
    pub async fn rm(&self, cid: &Cid) -> Result<bool, Error> {
        let store = self.0.store().clone();
        let cid = *cid;
        self.0.blocking(move || Ok(store.delete(&cid)?)).await
    }
}

/// How [`NameApi::publish`] publishes; `Publish::default()` is `ipfsd name publish`'s
/// defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Publish {
    /// The key (`self`, another key's name, or its IPNS name); `None`: `self`.
    pub key: Option<String>,
    /// How long the record stays valid (`None`: `Ipns.RecordLifetime`, 24 h by default).
    pub lifetime: Option<Duration>,
    /// How long resolvers may cache it (`None`: 5 min).
    pub ttl: Option<Duration>,
    /// The sequence number (`None`: the next).
    pub sequence: Option<u64>,
    /// Keep the record locally when the network is absent or the DHT put fails.
    pub allow_offline: bool,
    /// Skip the check that the value resolves (Kubo's `--resolve=false`).
    pub no_resolve: bool,
}

impl Publish {
    /// Sets [`Publish::key`].
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets [`Publish::lifetime`].
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Sets [`Publish::ttl`].
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets [`Publish::sequence`].
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.sequence = Some(sequence);
        self
    }

    /// Sets [`Publish::allow_offline`].
    pub fn allow_offline(mut self, allow: bool) -> Self {
        self.allow_offline = allow;
        self
    }

    /// Sets [`Publish::no_resolve`].
    pub fn no_resolve(mut self, skip: bool) -> Self {
        self.no_resolve = skip;
        self
    }
}

/// IPNS (from [`Node::names`]).
#[derive(Debug, Clone, Copy)]
pub struct NameApi<'a>(pub(super) &'a Node);

impl NameApi<'_> {
    /// Signs and publishes a record pointing the key's name at `value` (`/ipfs/…`,
    /// `/ipns/…` or a CID). Unless [`Publish::no_resolve`], the value must resolve first
    /// (its last block read from the store or a peer), so a name never points at content
    /// nobody can find.
    pub async fn publish(&self, value: &str, options: Publish) -> Result<Published, Error> {
        let node = self.0;
        let lifetime = options
            .lifetime
            .unwrap_or(node.settings().ipns.record_lifetime);
        if lifetime.is_zero() {
            return Err(Error::Invalid("the lifetime must be above zero".into()));
        }
        let normalized = crate::names::normalize_value(value)?;
        if !options.no_resolve {
            let target = node.ipfs_path(&normalized).await?;
            let source = node.source().with_deadline(PUBLISH_RESOLVE_DEADLINE);
            node.blocking(move || {
                let cid = crate::path::resolve(&source, &target)?;
                // The path's last block too (resolving a bare CID reads nothing).
                dag::export::load(&source, &cid)?;
                Ok(())
            })
            .await?;
        }
        let publish = PublishOptions {
            key: options
                .key
                .unwrap_or_else(|| crate::keystore::SELF.to_string()),
            lifetime,
            ttl: options.ttl.unwrap_or(DEFAULT_TTL),
            sequence: options.sequence,
            allow_offline: options.allow_offline,
        };
        let published = node.naming().publish(value, &publish).await?;
        node.emit(Event::Published {
            name: published.name.to_string(),
            value: published.value.clone(),
        });
        Ok(published)
    }

    /// What `name` (`/ipns/<name>[/path]` or a bare name) points at, following
    /// `/ipns/` values to an `/ipfs/` path.
    pub async fn resolve(&self, name: &str) -> Result<String, Error> {
        self.resolve_with(
            name,
            ResolveOptions {
                recursive: true,
                nocache: false,
            },
        )
        .await
    }

    /// [`NameApi::resolve`] with explicit options (one hop only, or skipping the cache).
    pub async fn resolve_with(&self, name: &str, options: ResolveOptions) -> Result<String, Error> {
        Ok(self.0.naming().resolve(name, options, None).await?)
    }
}

/// The DHT (from [`Node::routing`]); every call fails with [`Error::Offline`] offline.
#[derive(Debug, Clone, Copy)]
pub struct RoutingApi<'a>(pub(super) &'a Node);

impl RoutingApi<'_> {
    /// Up to `limit` peers that announced they provide `cid` (this node included if it
    /// does).
    pub async fn find_providers(&self, cid: &Cid, limit: usize) -> Result<Vec<Provider>, Error> {
        let net = self.0.network()?;
        Ok(net.find_providers(provider_key(cid), limit).await?.0)
    }

    /// The addresses of `peer`.
    pub async fn find_peer(&self, peer: PeerId) -> Result<Vec<Multiaddr>, Error> {
        Ok(self.0.network()?.find_peer(peer).await?)
    }

    /// Announces that this node provides `cid`, waiting until the announcement is done.
    pub async fn provide(&self, cid: &Cid) -> Result<(), Error> {
        Ok(self.0.network()?.provide(vec![provider_key(cid)]).await?)
    }
}

/// Connections (from [`Node::swarm`]); every call fails with [`Error::Offline`] offline.
#[derive(Debug, Clone, Copy)]
pub struct SwarmApi<'a>(pub(super) &'a Node);

impl SwarmApi<'_> {
    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerConn>, Error> {
        Ok(self.0.network()?.peers().await?)
    }

    /// Dials `addr` (ending in `/p2p/<peer ID>`); answers the peer once connected.
    pub async fn connect(&self, addr: Multiaddr) -> Result<PeerId, Error> {
        Ok(self.0.network()?.connect(addr).await?)
    }

    /// Closes every connection to `peer`; answers whether there was one.
    pub async fn disconnect(&self, peer: PeerId) -> Result<bool, Error> {
        Ok(self.0.network()?.disconnect(peer).await?)
    }
}
