//! The provide queue: keys waiting to be announced on the DHTs, and the provide
//! statistics (`stats provide`, `stats reprovide`).
//!
//! Data flow: `Provide` commands (a batch with a reply, or background keys from the
//! reprovider and `add`) queue keys here; after every command or event the loop calls
//! [`Task::pump_provides`], which starts at most [`MAX_PROVIDE_IN_FLIGHT`] announcements
//! as `Provide` requests (see [`super::query`]). Each one ends in [`Task::provide_done`],
//! which counts it and, for a batch, answers the caller once all of its keys are done.
//! The reprovider reports its runs through `Reprovide` commands ([`Task::on_reprovide`]).

use super::Task;
use super::query::Request;
use crate::net::{NetError, ProvideStats, RunReport};
use libp2p::kad::RecordKey;
use tokio::sync::oneshot;

/// Announcements running at once.
const MAX_PROVIDE_IN_FLIGHT: usize = 16;
/// Keys waiting to be announced at most; more are dropped (the reprovider covers them).
const MAX_PROVIDE_QUEUE: usize = 1 << 18;

pub(super) struct Batch {
    remaining: usize,
    failed: usize,
    reply: oneshot::Sender<Result<(), NetError>>,
}

impl Task {
    pub(super) fn queue_provides(
        &mut self,
        keys: Vec<RecordKey>,
        reply: Option<oneshot::Sender<Result<(), NetError>>>,
    ) {
        let batch = reply.map(|reply| {
            let id = self.id();
            self.batches.insert(
                id,
                Batch {
                    remaining: keys.len(),
                    failed: 0,
                    reply,
                },
            );
            id
        });
        if let Some(b) = batch
            && keys.is_empty()
            && let Some(batch) = self.batches.remove(&b)
        {
            let _ = batch.reply.send(Ok(()));
            return;
        }
        for key in keys {
            if batch.is_none() && self.provide_queue.len() >= MAX_PROVIDE_QUEUE {
                self.stats.dropped += 1;
                continue;
            }
            self.provide_queue.push_back((key, batch));
        }
    }

    pub(super) fn pump_provides(&mut self) {
        while self.provide_jobs < MAX_PROVIDE_IN_FLIGHT {
            let Some((key, batch)) = self.provide_queue.pop_front() else {
                return;
            };
            let job = batch.unwrap_or(0);
            let request = Request::Provide { job, ok: false };
            match self.start_query(request, |k| k.start_providing(key.clone()).ok()) {
                Ok(_) => self.provide_jobs += 1,
                Err(_) => {
                    // No DHT: keep the record locally so we answer for it, count a failure.
                    self.stats.failed_provides += 1;
                    self.batch_step(job, false);
                }
            }
        }
    }

    pub(super) fn provide_done(&mut self, job: u64, ok: bool) {
        self.provide_jobs = self.provide_jobs.saturating_sub(1);
        self.stats.total_provides += 1;
        if !ok {
            self.stats.failed_provides += 1;
        }
        self.batch_step(job, ok);
    }

    fn batch_step(&mut self, job: u64, ok: bool) {
        let Some(b) = self.batches.get_mut(&job) else {
            return;
        };
        b.remaining = b.remaining.saturating_sub(1);
        if !ok {
            b.failed += 1;
        }
        if b.remaining == 0
            && let Some(b) = self.batches.remove(&job)
        {
            let result = if b.failed == 0 {
                Ok(())
            } else {
                Err(NetError::Dht {
                    op: "provide",
                    reason: format!("{} announcement(s) reached no peer", b.failed),
                })
            };
            let _ = b.reply.send(result);
        }
    }

    pub(super) fn provide_stats(&self) -> ProvideStats {
        let mut s = self.stats.clone();
        s.queued = self.provide_queue.len();
        s.in_flight = self.provide_jobs;
        let now = std::time::Instant::now();
        s.last_reprovide_ago = s
            .last_reprovide_at
            .map(|at| now.saturating_duration_since(at));
        s.refresh(now);
        s
    }

    pub(super) fn on_reprovide(&mut self, report: RunReport) {
        self.stats.apply(&report, std::time::Instant::now());
    }
}
