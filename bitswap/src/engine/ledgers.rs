//! The engine's ledger side: reports, the signed ledger exchange with ipfsd peers
//! ([`crate::exchange`]) and persistence.
//!
//! Data flow: on connect, the peer with the smaller ID opens an exchange
//! ([`Engine::start_exchange`]); an exchange a peer opens arrives as a stream
//! ([`Engine::on_ledger_stream`]). Both send the "settled" view (the ledger as it stood at
//! the last disconnect) and end as [`Internal::Exchanged`] ([`Engine::on_exchanged`]):
//! views that disagree reset the ledger. Ledgers changed by traffic are marked dirty and
//! saved in batches on the blocking pool at most every [`SAVE_EVERY`]
//! ([`Engine::save_ledgers`]), and all of them once more when the engine stops.

use std::time::{Duration, Instant};

use libp2p::PeerId;

use super::LedgerReport;
use super::{Engine, Internal};
use crate::exchange::{self, Outcome};
use crate::ledger::{Ledger, LedgerView};

/// Ledgers are saved at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(5);

impl Engine {
    pub(super) fn report(&self, peer: PeerId, l: &Ledger) -> LedgerReport {
        LedgerReport {
            peer,
            ledger: *l,
            debt_ratio: l.debt_ratio(),
            send_probability: l.send_probability(),
            exchanges: self.exchanges.get(&peer).copied(),
        }
    }

    /// Starts the exchange with a newly connected peer (if we open it).
    pub(super) fn start_exchange(&mut self, peer: PeerId) {
        if self.config.ledger_exchange && self.local < peer {
            let ours = self.settled_view(peer);
            let control = self.control.clone();
            let keypair = self.keypair.clone();
            let tx = self.internal_tx.clone();
            self.tasks.spawn(async move {
                let outcome = exchange::initiate(control, keypair, peer, ours).await;
                let _ = tx
                    .send(Internal::Exchanged {
                        peer,
                        ours,
                        outcome,
                    })
                    .await;
            });
        }
    }

    /// An exchange ended.
    pub(super) fn on_exchanged(&mut self, peer: PeerId, ours: LedgerView, outcome: Outcome) {
        match outcome {
            Outcome::Theirs(theirs) => {
                self.exchanges.insert(peer, true);
                if ours.agrees_with(&theirs) {
                    self.stat.agreed += 1;
                } else {
                    tracing::info!(%peer, ?ours, ?theirs, "ledger views disagree; resetting the ledger");
                    self.stat.resets += 1;
                    let l = self.ledgers.entry(peer).or_default();
                    l.reset();
                    if l.flagged() {
                        tracing::warn!(%peer, resets = l.resets, "peer keeps losing its ledger");
                    }
                    self.settled.insert(peer, LedgerView::default());
                    self.dirty.insert(peer);
                }
            }
            Outcome::Unsupported => {
                self.exchanges.insert(peer, false);
            }
            Outcome::Failed => {}
        }
    }

    fn settled_view(&self, peer: PeerId) -> LedgerView {
        self.settled.get(&peer).copied().unwrap_or_default()
    }

    pub(super) fn on_ledger_stream(&mut self, peer: PeerId, mut stream: libp2p::Stream) {
        let ours = self.settled_view(peer);
        let keypair = self.keypair.clone();
        let local = self.local;
        let tx = self.internal_tx.clone();
        self.tasks.spawn(async move {
            let Some(theirs) = exchange::read_request(&mut stream, &peer, &local).await else {
                return;
            };
            exchange::reply(stream, &keypair, &peer, &ours).await;
            let _ = tx
                .send(Internal::Exchanged {
                    peer,
                    ours,
                    outcome: Outcome::Theirs(theirs),
                })
                .await;
        });
    }

    /// Saves the dirty ledgers (at most every [`SAVE_EVERY`], one save at a time).
    pub(super) fn save_ledgers(&mut self, now: Instant) {
        if !self.saving
            && !self.dirty.is_empty()
            && now.duration_since(self.last_save) >= SAVE_EVERY
        {
            if let Some(db) = self.ledger_db.clone() {
                let rows: Vec<(PeerId, Ledger)> = self
                    .dirty
                    .drain()
                    .filter_map(|p| self.ledgers.get(&p).map(|l| (p, *l)))
                    .collect();
                self.saving = true;
                self.last_save = now;
                let tx = self.internal_tx.clone();
                self.tasks.spawn(async move {
                    let res = tokio::task::spawn_blocking(move || db.save(&rows)).await;
                    if let Ok(Err(e)) = res {
                        tracing::warn!(error = %e, "saving bitswap ledgers failed");
                    }
                    let _ = tx.send(Internal::Saved).await;
                });
            } else {
                self.dirty.clear();
            }
        }
    }

    /// Saves every ledger (the engine is stopping).
    pub(super) async fn save_all(&self) {
        for (peer, l) in &self.ledgers {
            if self.dirty.contains(peer) {
                tracing::trace!(%peer, sent = l.bytes_sent, "saving ledger");
            }
        }
        if let Some(db) = self.ledger_db.clone() {
            let rows: Vec<(PeerId, Ledger)> = self.ledgers.iter().map(|(p, l)| (*p, *l)).collect();
            let _ = tokio::task::spawn_blocking(move || db.save(&rows)).await;
        }
    }
}
