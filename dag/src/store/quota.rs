//! The storage quota: a limit on the bytes of blocks the store holds, and a watermark
//! below it at which the owner is told to collect garbage.
//!
//! Data flow: the owner (the node, from `Datastore.StorageMax` and
//! `Datastore.StorageGCWatermark`) sets a [`Quota`] with [`Store::set_quota`]. Every
//! insert of a new block checks, inside its write transaction, that the committed total
//! (the `meta` counter, exact: redb has one writer at a time) plus what the transaction
//! added stays within [`Quota::max`]; a block that does not fit is refused with
//! [`StoreError::QuotaExceeded`](super::StoreError::QuotaExceeded). After each commit
//! that added bytes and left the total at or above [`Quota::watermark`], the writing
//! thread calls [`Quota::on_watermark`] with the new total (the node wakes its GC task).
//!
//! With [`Quota::gc_at_limit`] (the daemon's `--enable-gc`), a batched [`super::Writer`]
//! whose next block would pass the limit commits what it has, runs a GC itself and tries
//! the block once more: an add fails only when it does not fit even after GC. Its own
//! blocks are safe from that GC: a batched writer registers every block it stores (see
//! module `lease`). What a failed add stored stays, unpinned, for GC.

use super::{Inner, Store};
use std::sync::{Arc, PoisonError, RwLock};

/// Called with the store's new total (bytes of blocks) after a write that left it at or
/// above the watermark. Runs on the writing thread: it must only signal, never block.
pub type WatermarkHook = Arc<dyn Fn(u64) + Send + Sync>;

/// A storage limit (see the module docs).
#[derive(Clone)]
#[non_exhaustive]
pub struct Quota {
    /// Most bytes of blocks the store holds (the sum of block sizes, `DataSize`).
    pub max: u64,
    /// At or above this total, writes call [`Quota::on_watermark`].
    pub watermark: u64,
    /// Whether a batched writer that hits [`Quota::max`] runs a GC and retries once
    /// before failing.
    pub gc_at_limit: bool,
    /// Told the total after writes at or above the watermark.
    pub on_watermark: Option<WatermarkHook>,
}

impl Quota {
    /// A limit of `max` bytes with the watermark at `watermark_percent` of it (clamped to
    /// 100), no GC at the limit and no hook.
    pub fn new(max: u64, watermark_percent: u8) -> Quota {
        let percent = u128::from(watermark_percent.min(100));
        let watermark = u64::try_from(u128::from(max) * percent / 100).unwrap_or(max);
        Quota {
            max,
            watermark,
            gc_at_limit: false,
            on_watermark: None,
        }
    }

    /// With GC at the limit on or off.
    pub fn gc_at_limit(mut self, on: bool) -> Quota {
        self.gc_at_limit = on;
        self
    }

    /// With a watermark hook.
    pub fn on_watermark(mut self, hook: WatermarkHook) -> Quota {
        self.on_watermark = Some(hook);
        self
    }
}

impl std::fmt::Debug for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quota")
            .field("max", &self.max)
            .field("watermark", &self.watermark)
            .field("gc_at_limit", &self.gc_at_limit)
            .field("on_watermark", &self.on_watermark.is_some())
            .finish()
    }
}

/// The quota slot of a store.
#[derive(Default)]
pub(crate) struct QuotaSlot(RwLock<Option<Quota>>);

impl QuotaSlot {
    pub(crate) fn get(&self) -> Option<Quota> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, quota: Option<Quota>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = quota;
    }
}

impl Inner {
    /// The byte limit for inserts, if any.
    pub(crate) fn limit(&self) -> Option<u64> {
        self.quota.get().map(|q| q.max)
    }

    /// Tells the hook about `total` if it is at or above the watermark.
    pub(crate) fn wrote(&self, total: Option<u64>) {
        let (Some(total), Some(q)) = (total, self.quota.get()) else {
            return;
        };
        if total >= q.watermark
            && let Some(hook) = &q.on_watermark
        {
            hook(total);
        }
    }
}

impl Store {
    /// Sets (or, with `None`, lifts) the storage quota. Applies to writes from now on;
    /// blocks already stored stay even when they exceed it.
    pub fn set_quota(&self, quota: Option<Quota>) {
        self.inner.quota.set(quota);
    }

    /// The storage quota, if one is set.
    pub fn quota(&self) -> Option<Quota> {
        self.inner.quota.get()
    }
}
