//! Pending-query bookkeeping: each caller's request (find providers, find a peer,
//! get/put a value, provide one key, bootstrap) runs as one Kademlia query per running DHT
//! (WAN and LAN), and is answered once the last of them ends.
//!
//! Data flow: [`Task::start_query`] registers the queries under a request id;
//! [`Task::on_kad`] routes each `OutboundQueryProgressed` event to its request, where
//! [`Task::on_progress`] folds the step in (providers streamed to the caller as found,
//! the best `/ipns/` value chosen with [`crate::net::validate::compare`], which stops the
//! lookup once enough have answered). When the request's last query ends,
//! [`Task::finish`] answers the caller; an `/ipns/` lookup then also sends the best record
//! to peers that held an older one, and a provide reports back to the provide queue.

use super::peers::without_p2p;
use super::{Dht, Task};
use crate::net::provide::sweep::Closest;
use crate::net::records::Records;
use crate::net::{LookupStats, NetError, Provider, ProviderEvent, validate};
use libp2p::kad::store::RecordStore;
use libp2p::kad::{self, GetProvidersOk, GetRecordOk, QueryId, QueryResult, RecordKey};
use libp2p::{Multiaddr, PeerId};
use std::collections::HashSet;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// One caller's request; it may run as a query on each DHT.
pub(super) enum Request {
    FindProviders {
        events: mpsc::Sender<ProviderEvent>,
        seen: HashSet<PeerId>,
        limit: usize,
        started: Instant,
        stats: LookupStats,
        /// (requests, successes) of the WAN and the LAN query, summed into `stats`.
        counts: [(u32, u32); 2],
    },
    FindPeer {
        peer: PeerId,
        reply: oneshot::Sender<Result<Vec<Multiaddr>, NetError>>,
        found: Vec<Multiaddr>,
    },
    GetValue {
        key: RecordKey,
        reply: oneshot::Sender<Result<Vec<u8>, NetError>>,
        updates: Option<mpsc::Sender<Vec<u8>>>,
        best: Option<Vec<u8>>,
        /// Valid answers so far (an `/ipns/` lookup stops at `IPNS_QUORUM`).
        answers: usize,
        /// Who answered the best value so far (stale should a better one turn up).
        holders: Vec<(Dht, PeerId)>,
        /// Peers that answered something older or invalid, or nothing although among
        /// the closest: they get the best value when the lookup ends.
        stale: Vec<(Dht, PeerId)>,
    },
    PutValue {
        reply: oneshot::Sender<Result<(), NetError>>,
        ok: bool,
        error: Option<String>,
    },
    Provide {
        job: u64,
        ok: bool,
    },
    ClosestPeers {
        reply: oneshot::Sender<Result<(Closest, Vec<Multiaddr>), NetError>>,
        found: Closest,
    },
    Bootstrap {
        reply: Option<oneshot::Sender<Result<(), NetError>>>,
        ok: bool,
        error: Option<String>,
    },
}

pub(super) struct Pending {
    request: Request,
    queries: Vec<(Dht, QueryId)>,
}

impl Pending {
    pub(super) fn new(request: Request, queries: Vec<(Dht, QueryId)>) -> Pending {
        Pending { request, queries }
    }
}

impl Task {
    /// Starts `start` on each running DHT; registers them under a new request.
    pub(super) fn start_query(
        &mut self,
        request: Request,
        mut start: impl FnMut(&mut kad::Behaviour<Records>) -> Option<QueryId>,
    ) -> Result<u64, Request> {
        let id = self.id();
        let mut queries = Vec::new();
        for dht in [Dht::Wan, Dht::Lan] {
            if let Some(kad) = self.kad(dht)
                && let Some(q) = start(kad)
            {
                queries.push((dht, q));
            }
        }
        if queries.is_empty() {
            return Err(request);
        }
        for q in &queries {
            self.queries.insert(*q, id);
        }
        self.pending.insert(id, Pending { request, queries });
        Ok(id)
    }

    pub(super) fn on_kad(&mut self, dht: Dht, ev: kad::Event) {
        match ev {
            kad::Event::InboundRequest { request } => self.on_inbound(request),
            kad::Event::OutboundQueryProgressed {
                id,
                result,
                stats,
                step,
                ..
            } => {
                let Some(&req) = self.queries.get(&(dht, id)) else {
                    return;
                };
                self.on_progress(req, dht, id, result, &stats);
                if step.last {
                    self.queries.remove(&(dht, id));
                    let finished = match self.pending.get_mut(&req) {
                        Some(p) => {
                            p.queries.retain(|q| *q != (dht, id));
                            p.queries.is_empty()
                        }
                        None => false,
                    };
                    if finished && let Some(p) = self.pending.remove(&req) {
                        self.finish(p.request);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_progress(
        &mut self,
        req: u64,
        dht: Dht,
        id: QueryId,
        result: QueryResult,
        stats: &kad::QueryStats,
    ) {
        // Addresses are looked up before the request is borrowed.
        let found_providers: Vec<Provider> = match &result {
            QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders { providers, .. })) => {
                let ps: Vec<PeerId> = providers.iter().copied().collect();
                ps.into_iter()
                    .map(|peer| Provider {
                        addrs: self.addresses_of(&peer),
                        peer,
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let Some(pending) = self.pending.get_mut(&req) else {
            return;
        };
        let mut stop = false;
        match (&mut pending.request, result) {
            (
                Request::FindProviders {
                    events,
                    seen,
                    limit,
                    started,
                    stats: s,
                    counts,
                },
                _,
            ) => {
                counts[dht as usize] = (stats.num_requests(), stats.num_successes());
                s.requests = counts.iter().map(|c| c.0).sum();
                s.successes = counts.iter().map(|c| c.1).sum();
                for p in found_providers {
                    if seen.len() < *limit && seen.insert(p.peer) {
                        s.first.get_or_insert_with(|| started.elapsed());
                        if events.try_send(ProviderEvent::Found(p)).is_err() {
                            stop = true;
                        }
                    }
                }
                if seen.len() >= *limit || events.is_closed() {
                    stop = true;
                }
            }
            (Request::FindPeer { peer, found, .. }, QueryResult::GetClosestPeers(r)) => {
                let peers = match r {
                    Ok(ok) => ok.peers,
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                };
                if let Some(info) = peers.into_iter().find(|p| p.peer_id == *peer) {
                    for a in info.addrs.into_iter().map(without_p2p) {
                        if !found.contains(&a) {
                            found.push(a);
                        }
                    }
                    stop = !found.is_empty();
                }
            }
            (
                Request::GetValue {
                    key,
                    best,
                    updates,
                    answers,
                    holders,
                    stale,
                    ..
                },
                QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(peer_record))),
            ) => {
                let value = peer_record.record.value;
                // `None`: this node's own store.
                let from = peer_record.peer.map(|p| (dht, p));
                match validate::compare(key, &value, best.as_deref()) {
                    Ok(order) => {
                        *answers += 1;
                        match order {
                            std::cmp::Ordering::Greater => {
                                stale.append(holders);
                                holders.extend(from);
                                if let Some(u) = updates {
                                    let _ = u.try_send(value.clone());
                                }
                                *best = Some(value);
                            }
                            std::cmp::Ordering::Equal => holders.extend(from),
                            std::cmp::Ordering::Less => stale.extend(from),
                        }
                        // A non-IPNS value is immutable: the first valid one will do.
                        stop = !validate::is_ipns(key) || *answers >= crate::net::IPNS_QUORUM;
                    }
                    Err(reason) => {
                        tracing::debug!(peer = ?from, key = %validate::printable(key), %reason, "invalid value in a lookup");
                        stale.extend(from);
                    }
                }
            }
            (
                Request::GetValue { stale, .. },
                QueryResult::GetRecord(Ok(GetRecordOk::FinishedWithNoAdditionalRecord {
                    cache_candidates,
                })),
            ) => stale.extend(cache_candidates.into_values().map(|p| (dht, p))),
            (Request::PutValue { ok, error, .. }, QueryResult::PutRecord(r)) => match r {
                Ok(_) => *ok = true,
                Err(e) => *error = Some(e.to_string()),
            },
            (Request::Provide { ok, .. }, QueryResult::StartProviding(Ok(_))) => *ok = true,
            (Request::ClosestPeers { found, .. }, QueryResult::GetClosestPeers(r)) => {
                let (peers, complete) = match r {
                    Ok(ok) => (ok.peers, true),
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => (peers, false),
                };
                found.peers = peers.into_iter().map(|p| p.peer_id).collect();
                found.complete = complete;
                found.requests = stats.num_requests();
            }
            (Request::Bootstrap { ok, error, .. }, QueryResult::Bootstrap(r)) => match r {
                Ok(_) => *ok = true,
                Err(e) => *error = Some(e.to_string()),
            },
            _ => {}
        }
        if stop {
            let queries = pending.queries.clone();
            for (dht, q) in queries {
                if let Some(k) = self.kad(dht)
                    && let Some(mut query) = k.query_mut(&q)
                {
                    query.finish();
                }
            }
        }
        let _ = id;
    }

    /// After an `/ipns/` lookup: sends the best record to the peers that answered an older
    /// one (or none, among the closest), and replaces an older copy in this node's store.
    fn correct_stale(
        &mut self,
        key: &RecordKey,
        value: &[u8],
        holders: &[(Dht, PeerId)],
        mut stale: Vec<(Dht, PeerId)>,
    ) {
        let local_old = self.records.get(key).map(|r| r.value.clone());
        if let Some(old) = local_old
            && validate::compare(key, value, Some(&old)) == Ok(std::cmp::Ordering::Greater)
        {
            let mut store = self.records.clone();
            if let Err(e) = store.put(kad::Record::new(key.clone(), value.to_vec())) {
                tracing::debug!(error = %e, "newer record not stored");
            }
        }
        stale.sort_unstable();
        stale.dedup();
        stale.retain(|p| !holders.contains(p) && p.1 != self.local);
        for dht in [Dht::Wan, Dht::Lan] {
            let peers: Vec<PeerId> = stale.iter().filter(|p| p.0 == dht).map(|p| p.1).collect();
            if peers.is_empty() {
                continue;
            }
            tracing::debug!(key = %validate::printable(key), peers = peers.len(), "sending the newest record to peers holding older ones");
            if let Some(kad) = self.kad(dht) {
                let record = kad::Record::new(key.clone(), value.to_vec());
                kad.put_record_to(record, peers.into_iter(), kad::Quorum::One);
            }
        }
    }

    fn finish(&mut self, request: Request) {
        match request {
            Request::FindProviders {
                events,
                started,
                mut stats,
                ..
            } => {
                stats.duration = started.elapsed();
                let _ = events.try_send(ProviderEvent::Done(stats));
            }
            Request::FindPeer { peer, reply, found } => {
                let result = if found.is_empty() {
                    let known = if self.connections.contains_key(&peer) {
                        self.addresses_of(&peer)
                    } else {
                        Vec::new()
                    };
                    if known.is_empty() {
                        Err(NetError::NotFound {
                            what: format!("peer {peer}"),
                        })
                    } else {
                        Ok(known)
                    }
                } else {
                    Ok(found)
                };
                let _ = reply.send(result);
            }
            Request::GetValue {
                key,
                reply,
                best,
                holders,
                stale,
                ..
            } => {
                if let Some(value) = &best
                    && validate::is_ipns(&key)
                {
                    self.correct_stale(&key, value, &holders, stale);
                }
                let _ = reply.send(best.ok_or_else(|| NetError::NotFound {
                    what: format!("value for {}", validate::printable(&key)),
                }));
            }
            Request::PutValue { reply, ok, error } => {
                let _ = reply.send(if ok {
                    Ok(())
                } else {
                    Err(NetError::Dht {
                        op: "put",
                        reason: error.unwrap_or_else(|| "no peer stored the record".into()),
                    })
                });
            }
            Request::Provide { job, ok } => self.provide_done(job, ok),
            Request::ClosestPeers { reply, found } => {
                let addrs = self.swarm.external_addresses().cloned().collect();
                let _ = reply.send(Ok((found, addrs)));
            }
            Request::Bootstrap { reply, ok, error } => {
                if let Some(reply) = reply {
                    let _ = reply.send(if ok {
                        Ok(())
                    } else {
                        Err(NetError::Dht {
                            op: "bootstrap",
                            reason: error.unwrap_or_else(|| "no peer answered".into()),
                        })
                    });
                }
            }
        }
    }
}
