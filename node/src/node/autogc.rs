//! Automatic garbage collection (`ipfsd daemon --enable-gc`): a task that runs GC every
//! `Datastore.GCPeriod` and whenever writes take the store past the watermark
//! (`Datastore.StorageGCWatermark` percent of `Datastore.StorageMax`).
//!
//! Data flow: the task sets the store's quota with a watermark hook; the store calls the
//! hook on the writing thread after each commit that leaves the total at or above the
//! watermark, and the hook only stores the total in a `watch` channel (never blocks). The
//! task wakes on the channel or its timer, asks the pure [`Policy`] whether that total
//! calls for a GC, and runs [`dag::Store::gc_until`] on the blocking pool, stopped by the
//! node's cancellation, so shutdown never waits for a whole GC. Adds go on meanwhile
//! (the store keeps what adds in progress have written); a batched add that reaches the
//! limit itself runs a GC first (the quota's GC at the limit) and fails only if it still
//! does not fit.

use crate::config::DatastoreSettings;
use dag::Store;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// When a write at or above the watermark calls for a GC. Pure: the task feeds it the
/// totals it is told and the total each GC left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    watermark: u64,
    /// Growth since the last GC that calls for another while still above the watermark.
    slack: u64,
    /// The total the last GC left.
    after_last: Option<u64>,
}

impl Policy {
    pub(crate) fn new(settings: &DatastoreSettings) -> Policy {
        let quota = settings.quota(true);
        Policy {
            watermark: quota.watermark,
            // Half the room between the watermark and the limit (at least 1 MiB), so a
            // store kept above the watermark by pinned content is not collected on
            // every write.
            slack: ((quota.max - quota.watermark) / 2).max(1 << 20),
            after_last: None,
        }
    }

    /// Whether a write that left `total` bytes calls for a GC: at or above the
    /// watermark, and either no GC ran yet, something was freed since (the total is
    /// below what the last GC left), or it grew by the slack since.
    pub(crate) fn on_write(&self, total: u64) -> bool {
        total >= self.watermark
            && self
                .after_last
                .is_none_or(|last| total < last || total >= last.saturating_add(self.slack))
    }

    /// Records what a GC left.
    pub(crate) fn collected(&mut self, total: Option<u64>) {
        self.after_last = total;
    }
}

/// Why a GC runs.
#[derive(Debug, Clone, Copy)]
enum Reason {
    Period,
    Watermark,
}

/// Starts the automatic GC task on `tasks` (see the module docs); it ends when `cancel`
/// is cancelled, leaving the store its quota without the hook. Its runs count in
/// `metrics` as the API's do.
pub(crate) fn spawn(
    store: Store,
    settings: DatastoreSettings,
    tasks: &TaskTracker,
    cancel: CancellationToken,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let (tx, mut rx) = watch::channel(0u64);
    store.set_quota(Some(settings.quota(true).on_watermark(Arc::new(
        move |total| {
            tx.send_replace(total);
        },
    ))));
    let blocking = tasks.clone();
    tasks.spawn(async move {
        let mut policy = Policy::new(&settings);
        let period = settings.gc_period;
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let reason = tokio::select! {
                _ = cancel.cancelled() => break,
                _ = timer.tick() => Reason::Period,
                changed = rx.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let total = *rx.borrow_and_update();
                    if !policy.on_write(total) {
                        continue;
                    }
                    Reason::Watermark
                }
            };
            let gc_store = store.clone();
            let stop = cancel.clone();
            let ran = blocking
                .spawn_blocking(move || {
                    let report = gc_store.gc_until(&|| stop.is_cancelled());
                    (report, gc_store.stat().map(|s| s.total_size).ok())
                })
                .await;
            match ran {
                Ok((Ok(report), total)) => {
                    metrics.gc_done(report.removed.len() as u64);
                    tracing::info!(
                        ?reason,
                        removed = report.removed.len(),
                        freed = report.freed_bytes,
                        stopped = report.stopped,
                        total,
                        "automatic gc"
                    );
                    policy.collected(total);
                }
                Ok((Err(e), total)) => {
                    tracing::error!(?reason, error = %e, "automatic gc failed");
                    policy.collected(total);
                }
                Err(e) => tracing::error!(error = %e, "automatic gc task failed"),
            }
            // A GC just ran: the next periodic one is a period from now.
            timer.reset();
        }
        store.set_quota(Some(settings.quota(false)));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: u64, percent: u8) -> Policy {
        let settings = crate::config::Config::default()
            .with("Datastore.StorageMax", serde_json::json!(max))
            .and_then(|c| c.with("Datastore.StorageGCWatermark", serde_json::json!(percent)))
            .expect("config")
            .datastore_settings()
            .expect("settings");
        Policy::new(&settings)
    }

    #[test]
    fn gc_at_the_watermark_then_again_only_after_growth_or_a_drop() {
        const MB: u64 = 1_000_000;
        let mut p = policy(200 * MB, 90);
        assert!(!p.on_write(179 * MB));
        assert!(p.on_write(180 * MB), "first crossing");
        // The GC freed enough: below the watermark, nothing to do until it is crossed.
        p.collected(Some(40 * MB));
        assert!(!p.on_write(100 * MB));
        assert!(p.on_write(181 * MB));
        // Pinned content keeps the store above the watermark: not on every write...
        p.collected(Some(185 * MB));
        assert!(!p.on_write(186 * MB));
        assert!(!p.on_write(194 * MB));
        // ...but after half the room to the limit, or once something was freed.
        assert!(p.on_write(195 * MB));
        assert!(p.on_write(182 * MB));
        // A failed GC that left no total: the next crossing tries again.
        p.collected(None);
        assert!(p.on_write(180 * MB));
    }

    #[test]
    fn the_slack_is_at_least_a_mebibyte() {
        let mut p = policy(1000, 100);
        p.collected(Some(1000));
        assert!(!p.on_write(1001));
        assert!(p.on_write(1000 + (1 << 20)));
    }
}
