//! The DHT operations the network task runs: finding providers and peers, getting and
//! putting values, bootstrapping, and storing what peers send to this node.
//!
//! Data flow: a command from the loop becomes a [`Request`] started on each running DHT by
//! [`Task::start_query`] (a closest-peers lookup for the sweeping reprovider on the one DHT
//! it names; see [`super::query`] for how its results come back); with no
//! DHT running the caller is answered at once. Inbound `PUT_VALUE` and `ADD_PROVIDER`
//! requests reach [`Task::on_inbound`] from the query router: values are validated
//! against what the store holds ([`crate::net::validate`]), provider records are trimmed to
//! dialable addresses, and both go into the shared [`crate::net::records::Records`].

use super::peers::{MAX_ADDRS_PER_PEER, dialable};
use super::query::{Pending, Request};
use super::{Dht, Task};
use crate::net::provide::sweep::Closest;
use crate::net::{LookupStats, NetError, ProviderEvent, validate};
use libp2p::kad::store::RecordStore;
use libp2p::kad::{self, RecordKey};
use libp2p::{Multiaddr, PeerId};
use std::collections::HashSet;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

impl Task {
    pub(super) fn find_providers(
        &mut self,
        key: RecordKey,
        limit: usize,
        events: mpsc::Sender<ProviderEvent>,
    ) {
        let request = Request::FindProviders {
            events,
            seen: HashSet::new(),
            limit: limit.max(1),
            started: Instant::now(),
            stats: LookupStats::default(),
            counts: [(0, 0); 2],
        };
        if let Err(Request::FindProviders { events, .. }) =
            self.start_query(request, |k| Some(k.get_providers(key.clone())))
        {
            let _ = events.try_send(ProviderEvent::Done(LookupStats::default()));
        }
    }

    /// A lookup of the peers closest to `key` on `dht` alone (the sweeping reprovider).
    pub(super) fn closest_peers(
        &mut self,
        dht: Dht,
        key: Vec<u8>,
        reply: oneshot::Sender<Result<(Closest, Vec<Multiaddr>), NetError>>,
    ) {
        let Some(kad) = self.kad(dht) else {
            let _ = reply.send(Err(NetError::NoDht));
            return;
        };
        let q = kad.get_closest_peers(key);
        let id = self.id();
        self.queries.insert((dht, q), id);
        self.pending.insert(
            id,
            Pending::new(
                Request::ClosestPeers {
                    reply,
                    found: Closest::default(),
                },
                vec![(dht, q)],
            ),
        );
    }

    pub(super) fn find_peer(
        &mut self,
        peer: PeerId,
        reply: oneshot::Sender<Result<Vec<Multiaddr>, NetError>>,
    ) {
        if self.connections.contains_key(&peer) {
            let _ = reply.send(Ok(self.addresses_of(&peer)));
            return;
        }
        let request = Request::FindPeer {
            peer,
            reply,
            found: Vec::new(),
        };
        if let Err(Request::FindPeer { reply, .. }) =
            self.start_query(request, |k| Some(k.get_closest_peers(peer)))
        {
            let _ = reply.send(Err(NetError::NoDht));
        }
    }

    pub(super) fn get_value(
        &mut self,
        key: RecordKey,
        updates: Option<mpsc::Sender<Vec<u8>>>,
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
    ) {
        let request = Request::GetValue {
            key: key.clone(),
            reply,
            updates,
            best: None,
            answers: 0,
            holders: Vec::new(),
            stale: Vec::new(),
        };
        if let Err(Request::GetValue { reply, .. }) =
            self.start_query(request, |k| Some(k.get_record(key.clone())))
        {
            let _ = reply.send(Err(NetError::NoDht));
        }
    }

    pub(super) fn put_value(
        &mut self,
        key: RecordKey,
        value: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetError>>,
    ) {
        let existing = self.records.get(&key).map(|r| r.value.clone());
        if let Err(reason) = validate::value(&key, &value, existing.as_deref()) {
            let _ = reply.send(Err(NetError::BadRecord {
                key: validate::printable(&key),
                reason,
            }));
            return;
        }
        let mut record = kad::Record::new(key, value);
        record.publisher = Some(self.local);
        let request = Request::PutValue {
            reply,
            ok: false,
            error: None,
        };
        if let Err(Request::PutValue { reply, .. }) = self.start_query(request, |k| {
            k.put_record(record.clone(), kad::Quorum::One).ok()
        }) {
            let _ = reply.send(Err(NetError::NoDht));
        }
    }

    pub(super) fn bootstrap(&mut self, reply: oneshot::Sender<Result<(), NetError>>) {
        let request = Request::Bootstrap {
            reply: Some(reply),
            ok: false,
            error: None,
        };
        if let Err(Request::Bootstrap {
            reply: Some(reply), ..
        }) = self.start_query(request, |k| k.bootstrap().ok())
        {
            let _ = reply.send(Err(NetError::Dht {
                op: "bootstrap",
                reason: "no known peers".into(),
            }));
        }
    }

    pub(super) fn on_inbound(&mut self, request: kad::InboundRequest) {
        match request {
            kad::InboundRequest::PutRecord {
                source,
                record: Some(record),
                ..
            } => {
                let existing = self.records.get(&record.key).map(|r| r.value.clone());
                match validate::value(&record.key, &record.value, existing.as_deref()) {
                    Ok(()) => {
                        let mut store = self.records.clone();
                        if let Err(e) = store.put(record) {
                            tracing::debug!(%source, error = %e, "record not stored");
                        }
                    }
                    Err(reason) => {
                        tracing::debug!(%source, key = %validate::printable(&record.key), %reason, "record refused");
                        self.records_refused.0 += 1;
                        self.records_refused.1 =
                            Some(format!("{}: {reason}", validate::printable(&record.key)));
                    }
                }
            }
            kad::InboundRequest::AddProvider {
                record: Some(record),
            } => {
                if validate::provider_key(&record.key) {
                    let mut record = record;
                    record.addresses.retain(dialable);
                    record.addresses.truncate(MAX_ADDRS_PER_PEER);
                    let mut store = self.records.clone();
                    if let Err(e) = store.add_provider(record) {
                        tracing::debug!(error = %e, "provider record not stored");
                    }
                } else {
                    tracing::debug!(provider = %record.provider, "provider record with a key that is not a multihash refused");
                }
            }
            _ => {}
        }
    }
}
