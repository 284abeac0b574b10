//! Per-peer ledgers (IPFS whitepaper §3.4): bytes and blocks exchanged each way, the
//! debt ratio `r = bytes_sent / (bytes_recv + 1)` and the send probability
//! `P(send | r) = 1 − 1/(1 + exp(6 − 3r))`, plus their redb persistence.
//!
//! Data flow: the engine updates a [`Ledger`] for every block written to or verified from a
//! peer, asks it for `r` each scheduling round, and hands dirty ledgers to [`LedgerDb`] in
//! batches (on the blocking pool). The views exchanged with ipfsd peers on connect are
//! [`LedgerView`]s, compared here ([`LedgerView::agrees_with`]); their signing and framing
//! live in [`crate::exchange`], which uses this module (never the other way round).
//! Everything here except `LedgerDb` is pure.

use std::path::Path;

use libp2p::PeerId;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

/// After this many resets a peer is flagged (it keeps "losing" its ledger).
pub const FLAG_AFTER_RESETS: u32 = 3;

/// `r = bytes_sent / (bytes_recv + 1)`.
pub fn debt_ratio(bytes_sent: u64, bytes_recv: u64) -> f64 {
    bytes_sent as f64 / (bytes_recv as f64 + 1.0)
}

/// `P(send | r) = 1 − 1/(1 + exp(6 − 3r))`: ≈ 0.9975 at r = 0, 0.5 at r = 2, → 0 as r grows.
pub fn send_probability(r: f64) -> f64 {
    if r.is_nan() {
        return 0.0;
    }
    // exp overflows to +inf for very negative r (never: r ≥ 0) and underflows to 0 for
    // huge r, where the result is exactly 0 — never NaN.
    let e = (6.0 - 3.0 * r).exp();
    if e.is_infinite() {
        return 1.0;
    }
    (1.0 - 1.0 / (1.0 + e)).clamp(0.0, 1.0)
}

/// One side's ledger with one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Block bytes sent to the peer.
    pub bytes_sent: u64,
    /// Block bytes received from the peer.
    pub bytes_recv: u64,
    /// Blocks sent.
    pub blocks_sent: u64,
    /// Blocks received.
    pub blocks_recv: u64,
    /// First exchange (Unix seconds).
    pub first_exchange: Option<u64>,
    /// Last exchange (Unix seconds).
    pub last_exchange: Option<u64>,
    /// Times the ledger was reset because the two views disagreed.
    pub resets: u32,
}

/// One side's view of the shared ledger, as exchanged on connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerView {
    /// Bytes this side sent.
    pub bytes_sent: u64,
    /// Bytes this side received.
    pub bytes_recv: u64,
    /// Blocks this side sent.
    pub blocks_sent: u64,
    /// Blocks this side received.
    pub blocks_recv: u64,
}

impl LedgerView {
    /// Fixed encoding: four big-endian u64.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, v) in [
            self.bytes_sent,
            self.bytes_recv,
            self.blocks_sent,
            self.blocks_recv,
        ]
        .into_iter()
        .enumerate()
        {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// Whether `theirs` (the other side's view of the same ledger) mirrors this one: my
    /// bytes/blocks sent are its received and vice versa.
    pub fn agrees_with(&self, theirs: &LedgerView) -> bool {
        self.bytes_sent == theirs.bytes_recv
            && self.bytes_recv == theirs.bytes_sent
            && self.blocks_sent == theirs.blocks_recv
            && self.blocks_recv == theirs.blocks_sent
    }

    /// Decodes [`LedgerView::to_bytes`]; `None` unless exactly 32 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 32 {
            return None;
        }
        let at = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(b[i * 8..i * 8 + 8].try_into().ok()?))
        };
        Some(LedgerView {
            bytes_sent: at(0)?,
            bytes_recv: at(1)?,
            blocks_sent: at(2)?,
            blocks_recv: at(3)?,
        })
    }
}

impl Ledger {
    /// `r` for this peer.
    pub fn debt_ratio(&self) -> f64 {
        debt_ratio(self.bytes_sent, self.bytes_recv)
    }

    /// `P(send | r)` for this peer.
    pub fn send_probability(&self) -> f64 {
        send_probability(self.debt_ratio())
    }

    fn touch(&mut self, now: u64) {
        let now = now.max(1);
        self.first_exchange.get_or_insert(now);
        self.last_exchange = Some(now);
    }

    /// One block of `bytes` sent.
    pub fn record_sent(&mut self, bytes: u64, now_unix: u64) {
        self.bytes_sent = self.bytes_sent.saturating_add(bytes);
        self.blocks_sent = self.blocks_sent.saturating_add(1);
        self.touch(now_unix);
    }

    /// One block of `bytes` received.
    pub fn record_recv(&mut self, bytes: u64, now_unix: u64) {
        self.bytes_recv = self.bytes_recv.saturating_add(bytes);
        self.blocks_recv = self.blocks_recv.saturating_add(1);
        self.touch(now_unix);
    }

    /// Back to zero (the views disagreed); counts the reset.
    pub fn reset(&mut self) {
        *self = Ledger {
            resets: self.resets.saturating_add(1),
            ..Ledger::default()
        };
    }

    /// This side's view.
    pub fn view(&self) -> LedgerView {
        LedgerView {
            bytes_sent: self.bytes_sent,
            bytes_recv: self.bytes_recv,
            blocks_sent: self.blocks_sent,
            blocks_recv: self.blocks_recv,
        }
    }

    /// Whether the other side's view mirrors ours.
    pub fn agrees_with(&self, theirs: &LedgerView) -> bool {
        self.view().agrees_with(theirs)
    }

    /// Whether the peer keeps losing its ledger.
    pub fn flagged(&self) -> bool {
        self.resets >= FLAG_AFTER_RESETS
    }

    const ENCODED: usize = 1 + 8 * 6 + 4;

    fn encode(&self) -> [u8; Self::ENCODED] {
        let mut out = [0u8; Self::ENCODED];
        out[0] = 1;
        let fields = [
            self.bytes_sent,
            self.bytes_recv,
            self.blocks_sent,
            self.blocks_recv,
            self.first_exchange.unwrap_or(0),
            self.last_exchange.unwrap_or(0),
        ];
        for (i, v) in fields.into_iter().enumerate() {
            out[1 + i * 8..9 + i * 8].copy_from_slice(&v.to_le_bytes());
        }
        out[49..53].copy_from_slice(&self.resets.to_le_bytes());
        out
    }

    fn decode(b: &[u8]) -> Option<Ledger> {
        if b.len() != Self::ENCODED || b[0] != 1 {
            return None;
        }
        let u = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b[1 + i * 8..9 + i * 8].try_into().ok()?))
        };
        let opt = |v: u64| (v != 0).then_some(v);
        Some(Ledger {
            bytes_sent: u(0)?,
            bytes_recv: u(1)?,
            blocks_sent: u(2)?,
            blocks_recv: u(3)?,
            first_exchange: opt(u(4)?),
            last_exchange: opt(u(5)?),
            resets: u32::from_le_bytes(b[49..53].try_into().ok()?),
        })
    }
}

const LEDGERS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("ledgers");

/// Ledgers persisted in their own redb file. Calls block.
#[derive(Debug)]
pub struct LedgerDb {
    db: redb::Database,
}

/// The ledger database failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Opening or reading the database failed.
    #[error("ledger database {path}: {source}")]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: Box<redb::Error>,
    },
    /// A read or write failed.
    #[error("ledger database: {0}")]
    Db(#[from] Box<redb::Error>),
}

fn db_err(e: impl Into<redb::Error>) -> LedgerError {
    LedgerError::Db(Box::new(e.into()))
}

impl LedgerDb {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<LedgerDb, LedgerError> {
        let db = redb::Database::create(path).map_err(|e| LedgerError::Open {
            path: path.to_path_buf(),
            source: Box::new(e.into()),
        })?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(LEDGERS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(LedgerDb { db })
    }

    /// Every stored ledger (undecodable rows are skipped with a warning).
    pub fn load_all(&self) -> Result<Vec<(PeerId, Ledger)>, LedgerError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(LEDGERS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            match (PeerId::from_bytes(k.value()), Ledger::decode(v.value())) {
                (Ok(peer), Some(l)) => out.push((peer, l)),
                _ => tracing::warn!("skipping an undecodable ledger row"),
            }
        }
        Ok(out)
    }

    /// One peer's ledger.
    pub fn get(&self, peer: &PeerId) -> Result<Option<Ledger>, LedgerError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(LEDGERS).map_err(db_err)?;
        let key = peer.to_bytes();
        Ok(table
            .get(key.as_slice())
            .map_err(db_err)?
            .and_then(|v| Ledger::decode(v.value())))
    }

    /// Writes ledgers in one transaction.
    pub fn save(&self, entries: &[(PeerId, Ledger)]) -> Result<(), LedgerError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(LEDGERS).map_err(db_err)?;
            for (peer, l) in entries {
                let key = peer.to_bytes();
                table
                    .insert(key.as_slice(), l.encode().as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert!((send_probability(0.0) - 0.997_527).abs() < 1e-5);
        assert!((send_probability(2.0) - 0.5).abs() < 1e-12);
        assert!(send_probability(4.0) < 0.003);
        assert_eq!(send_probability(1e300), 0.0);
        assert_eq!(send_probability(f64::INFINITY), 0.0);
        assert_eq!(debt_ratio(0, 0), 0.0);
        assert_eq!(debt_ratio(10, 4), 2.0);
    }

    proptest! {
        #[test]
        fn probability_is_bounded_and_non_increasing(a in 0.0f64..1e6, b in 0.0f64..1e6) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let (p, q) = (send_probability(lo), send_probability(hi));
            prop_assert!((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&q));
            prop_assert!(p >= q);
        }

        #[test]
        fn ledgers_roundtrip(s in any::<u64>(), r in any::<u64>(), bs in any::<u64>(), br in any::<u64>(),
                             f in 1u64.., l in 1u64.., resets in any::<u32>()) {
            let led = Ledger { bytes_sent: s, bytes_recv: r, blocks_sent: bs, blocks_recv: br,
                               first_exchange: Some(f), last_exchange: Some(l), resets };
            prop_assert_eq!(Ledger::decode(&led.encode()), Some(led));
            prop_assert_eq!(LedgerView::from_bytes(&led.view().to_bytes()), Some(led.view()));
        }
    }

    #[test]
    fn recording_reset_and_flagging() {
        let mut l = Ledger::default();
        l.record_sent(100, 50);
        l.record_recv(40, 60);
        assert_eq!(
            (l.bytes_sent, l.bytes_recv, l.blocks_sent, l.blocks_recv),
            (100, 40, 1, 1)
        );
        assert_eq!((l.first_exchange, l.last_exchange), (Some(50), Some(60)));
        assert!(l.agrees_with(&LedgerView {
            bytes_sent: 40,
            bytes_recv: 100,
            blocks_sent: 1,
            blocks_recv: 1
        }));
        assert!(!l.agrees_with(&l.view()));
        for _ in 0..FLAG_AFTER_RESETS {
            assert!(!l.flagged());
            l.reset();
        }
        assert!(l.flagged());
        assert_eq!(l.bytes_sent, 0);
        assert_eq!(l.first_exchange, None);
    }

    #[test]
    fn views_agree_when_mirrored() {
        let view = |a: u64, b: u64| LedgerView {
            bytes_sent: a,
            bytes_recv: b,
            blocks_sent: a / 10,
            blocks_recv: b / 10,
        };
        assert!(view(100, 7).agrees_with(&view(7, 100)));
        assert!(!view(100, 7).agrees_with(&view(7, 99)));
        assert!(LedgerView::default().agrees_with(&LedgerView::default()));
    }

    #[test]
    fn database_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.redb");
        let (p, q) = (PeerId::random(), PeerId::random());
        let mut l = Ledger::default();
        l.record_sent(7, 100);
        {
            let db = LedgerDb::open(&path).unwrap();
            db.save(&[(p, l), (q, Ledger::default())]).unwrap();
            l.record_recv(9, 101);
            db.save(&[(p, l)]).unwrap();
        }
        let db = LedgerDb::open(&path).unwrap();
        let mut all = db.load_all().unwrap();
        all.sort_by_key(|(peer, _)| *peer != p);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], (p, l));
        assert_eq!(db.get(&q).unwrap(), Some(Ledger::default()));
        assert_eq!(db.get(&PeerId::random()).unwrap(), None);
    }
}
