//! Pins: the DAG roots the store keeps through GC.
//!
//! A recursive pin keeps a whole DAG (its root and everything reachable through links), a
//! direct pin keeps one block. Pins live in the `pins` table and are changed in write
//! transactions that also check what they pin is present, so a committed recursive pin
//! always names a complete DAG. Indirect pins are not stored: they are found by walking the
//! recursive pins' DAGs.
//!
//! Keys: a pin is keyed by [`block::pin_key`] of its CID, so the CIDv0 and the CIDv1
//! (dag-pb) of one root are one pin; the record keeps the mode and whether the pin was
//! made as CIDv0, so listings show the CID as it was pinned. CIDs of other codecs stay
//! apart (they ask for different links to be followed). Stores written before this keyed
//! CIDv0 pins by their own bytes; [`migrate_pin_keys`] rewrites them once, on open.
//!
//! Links are read with [`crate::codec::links`] for every codec that has them (dag-pb,
//! dag-cbor, dag-json: [`Codec::has_links`]); raw, json, cbor and libp2p-key blocks are
//! leaves. Blocks of a codec ipfsd does not know are leaves too, but walks report them
//! ([`PinReport::unfollowed`], [`super::GcReport::unfollowed`]): links inside them, if any,
//! are not protected, and the user is told so instead of losing data silently.

use super::pack::Packs;
use super::{BlockTables, ImportGuard, PINS, ReadTables, Result, Store, StoreError, WriteTables};
use crate::Cid;
use crate::block;
use crate::codec::Codec;
use bytes::Bytes;
use redb::{ReadableTable, WriteTransaction};
use std::collections::HashSet;

/// How a CID is pinned (as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PinMode {
    /// The block and its whole DAG.
    Recursive,
    /// The block alone.
    Direct,
}

impl PinMode {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            PinMode::Recursive => 1,
            PinMode::Direct => 2,
        }
    }

    fn from_byte(b: u8) -> Result<Self> {
        match b & !AS_V0 {
            1 => Ok(PinMode::Recursive),
            2 => Ok(PinMode::Direct),
            _ => Err(StoreError::BadRecord { what: "pin" }),
        }
    }
}

/// Flag in a pin record: the pin was made with the CIDv0 of its (CIDv1 dag-pb) key.
const AS_V0: u8 = 0x80;

/// `meta` key set once every pin is keyed by [`block::pin_key`].
pub(crate) const PIN_KEYS_MIGRATED: &str = "pin_keys_normalised";

/// The stored record of a pin of `cid` in `mode`.
fn record(cid: &Cid, mode: PinMode) -> u8 {
    let v0 = if cid.version() == cid::Version::V0 {
        AS_V0
    } else {
        0
    };
    mode.to_byte() | v0
}

/// A pin as stored: its CID as pinned, and its mode.
pub(crate) fn decode_pin(key: &[u8], value: u8) -> Result<(Cid, PinMode)> {
    let bad = || StoreError::BadRecord { what: "pin" };
    let key = Cid::try_from(key).map_err(|_| bad())?;
    let cid = if value & AS_V0 != 0 {
        Cid::new_v0(*key.hash()).map_err(|_| bad())?
    } else {
        key
    };
    Ok((cid, PinMode::from_byte(value)?))
}

impl std::fmt::Display for PinMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PinMode::Recursive => "recursive",
            PinMode::Direct => "direct",
        })
    }
}

/// Why a CID is kept, from [`Store::pin_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinKind {
    /// Pinned recursively itself.
    Recursive,
    /// Pinned directly itself.
    Direct,
    /// Inside the DAG of a recursive pin.
    Indirect {
        /// That recursive pin.
        via: Cid,
    },
}

/// A problem found by [`Store::pin_verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinProblem {
    /// A block of the pinned DAG is not stored.
    Missing {
        /// The block.
        cid: Cid,
    },
    /// A block of the pinned DAG does not match its hash.
    Corrupt {
        /// The block.
        cid: Cid,
    },
    /// A dag-pb block of the pinned DAG cannot be decoded (its links are unknown).
    Undecodable {
        /// The block.
        cid: Cid,
    },
}

impl PinProblem {
    /// The block the problem is about.
    pub fn cid(&self) -> &Cid {
        match self {
            PinProblem::Missing { cid }
            | PinProblem::Corrupt { cid }
            | PinProblem::Undecodable { cid } => cid,
        }
    }

    /// What is wrong, without the CID ("missing block", ...).
    pub fn what(&self) -> &'static str {
        match self {
            PinProblem::Missing { .. } => "missing block",
            PinProblem::Corrupt { .. } => "corrupt block",
            PinProblem::Undecodable { .. } => "undecodable block",
        }
    }
}

impl std::fmt::Display for PinProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.what(), self.cid())
    }
}

/// The health of one pin, from [`Store::pin_verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PinReport {
    /// The pinned CID.
    pub cid: Cid,
    /// Its mode.
    pub mode: PinMode,
    /// Everything wrong with its DAG (empty when healthy).
    pub problems: Vec<PinProblem>,
    /// Blocks of its DAG in a codec ipfsd cannot follow ([`Codec::follows_links`] is
    /// false): kept as leaves, so whatever they link to is not protected by this pin.
    /// Not a problem of the DAG as stored, but worth telling the user.
    pub unfollowed: Vec<Cid>,
}

impl PinReport {
    /// True when the pinned DAG is complete and every block hashes right.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a DAG walk found at one node.
pub(crate) enum Visit<'a> {
    /// The block is not stored.
    Missing,
    /// The block is stored; its bytes when they were read (always for dag-pb and when the
    /// walk asked for data).
    Present(Option<&'a Bytes>),
}

/// Walks the DAG under `root` depth-first, pre-order, each CID once (tracked in `seen`,
/// shared across walks). `f` answers the children to descend into (usually
/// [`children`]'s answer), or `None` to stop there. With `need_data` every block's bytes
/// are read; otherwise only blocks of codecs with links ([`Codec::has_links`]: dag-pb,
/// dag-cbor, dag-json) are read, and the others only looked up.
pub(crate) fn walk<T: BlockTables>(
    tables: &T,
    root: Cid,
    need_data: bool,
    seen: &mut HashSet<Cid>,
    mut f: impl FnMut(&Cid, Visit<'_>) -> Result<Option<Vec<Cid>>>,
) -> Result<()> {
    let mut stack = vec![root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let data = if let Some(inline) = block::identity_data(&cid) {
            Some(Bytes::copy_from_slice(inline))
        } else if need_data || Codec::of(&cid).has_links() {
            tables.read(&cid.hash().to_bytes())?
        } else {
            match tables.block_size(&cid.hash().to_bytes())? {
                Some(_) => {
                    if let Some(kids) = f(&cid, Visit::Present(None))? {
                        stack.extend(kids.into_iter().rev());
                    }
                }
                None => {
                    f(&cid, Visit::Missing)?;
                }
            }
            continue;
        };
        let kids = match &data {
            Some(data) => f(&cid, Visit::Present(Some(data)))?,
            None => f(&cid, Visit::Missing)?,
        };
        if let Some(kids) = kids {
            stack.extend(kids.into_iter().rev());
        }
    }
    Ok(())
}

/// The links of a block met on a walk (none when its bytes were not needed: a codec
/// without links).
///
/// Links are only ever taken from bytes that hash to the block's CID: a block whose bytes
/// changed on disk (one flipped bit in a link) would otherwise send a walk to the wrong
/// blocks, and GC would delete the right ones. Such a block answers
/// [`StoreError::Corrupt`] (or [`StoreError::Unverifiable`] for a hash function this node
/// cannot check), before any decoding.
pub(crate) fn children(cid: &Cid, data: Option<&Bytes>) -> Result<Vec<Cid>> {
    match data {
        Some(data) => {
            super::check(cid, data)?;
            crate::codec::links(cid, data)
                .map_err(|source| StoreError::Decode { cid: *cid, source })
        }
        None => Ok(Vec::new()),
    }
}

/// Checks that what `cid` pins in `mode` is present, then records the pin, inside `txn`.
pub(crate) fn pin_in_txn(
    txn: &WriteTransaction,
    packs: &Packs,
    cid: &Cid,
    mode: PinMode,
) -> Result<()> {
    let key = block::pin_key(cid).to_bytes();
    let mut pins = txn.open_table(PINS)?;
    let existing = pins
        .get(key.as_slice())?
        .map(|g| PinMode::from_byte(g.value()))
        .transpose()?;
    match (existing, mode) {
        (Some(PinMode::Recursive), PinMode::Direct) => {
            return Err(StoreError::AlreadyPinnedRecursively { cid: *cid });
        }
        (Some(old), new) if old == new => return Ok(()),
        _ => {}
    }
    let tables = WriteTables::open(txn, packs)?;
    match mode {
        PinMode::Direct => {
            if block::identity_data(cid).is_none()
                && tables.block_size(&cid.hash().to_bytes())?.is_none()
            {
                return Err(StoreError::MissingBlock { cid: *cid });
            }
        }
        PinMode::Recursive => {
            walk(
                &tables,
                *cid,
                false,
                &mut HashSet::new(),
                |c, visit| match visit {
                    Visit::Missing => Err(StoreError::MissingBlock { cid: *c }),
                    Visit::Present(data) => children(c, data).map(Some),
                },
            )?;
        }
    }
    pins.insert(key.as_slice(), record(cid, mode))?;
    Ok(())
}

/// Rewrites pins keyed by their CIDv0 bytes (stores written before pins were keyed by
/// [`block::pin_key`]) under their CIDv1 dag-pb key, remembering they were pinned as
/// CIDv0; a root pinned under both spellings becomes one pin (recursive wins). Marks the
/// store migrated. Answers how many records were rewritten.
pub(crate) fn migrate_pin_keys(txn: &WriteTransaction) -> Result<usize> {
    let mut pins = txn.open_table(PINS)?;
    let mut legacy = Vec::new();
    for entry in pins.iter()? {
        let (key, value) = entry?;
        let cid = Cid::try_from(key.value()).map_err(|_| StoreError::BadRecord { what: "pin" })?;
        if cid.version() == cid::Version::V0 {
            legacy.push((
                key.value().to_vec(),
                cid,
                PinMode::from_byte(value.value())?,
            ));
        }
    }
    for (old, cid, mode) in &legacy {
        pins.remove(old.as_slice())?;
        let key = block::pin_key(cid).to_bytes();
        let existing = pins
            .get(key.as_slice())?
            .map(|g| PinMode::from_byte(g.value()))
            .transpose()?;
        if existing == Some(PinMode::Recursive) || (existing.is_some() && *mode == PinMode::Direct)
        {
            continue;
        }
        pins.insert(key.as_slice(), record(cid, *mode))?;
    }
    txn.open_table(super::META)?.insert(PIN_KEYS_MIGRATED, 1)?;
    Ok(legacy.len())
}

impl Store {
    /// Pins `cid`. A recursive pin requires the whole DAG to be stored (the first missing
    /// block is reported as [`StoreError::MissingBlock`]) and replaces a direct pin of the
    /// same CID; a direct pin requires the block. Pinning again is a no-op.
    pub fn pin_add(&self, cid: &Cid, mode: PinMode) -> Result<()> {
        self.run(|| {
            let _guard = self.import_guard();
            let txn = self.write_txn()?;
            pin_in_txn(&txn, &self.inner.packs, cid, mode)?;
            self.commit(txn)?;
            Ok(())
        })
    }

    /// Like [`Store::pin_add`], for a caller already holding an [`ImportGuard`] (e.g. an
    /// import that stored the blocks and now pins the root).
    pub fn pin_add_guarded(&self, _guard: &ImportGuard, cid: &Cid, mode: PinMode) -> Result<()> {
        self.run(|| {
            let txn = self.write_txn()?;
            pin_in_txn(&txn, &self.inner.packs, cid, mode)?;
            self.commit(txn)?;
            Ok(())
        })
    }

    /// Unpins `cid` (whatever its mode) and answers the mode it had. A CID only pinned
    /// inside another pin's DAG is refused with [`StoreError::PinnedIndirectly`]; one not
    /// pinned at all with [`StoreError::NotPinned`].
    pub fn pin_rm(&self, cid: &Cid) -> Result<PinMode> {
        self.run(|| {
            let txn = self.write_txn()?;
            let removed = {
                let mut pins = txn.open_table(PINS)?;
                pins.remove(block::pin_key(cid).to_bytes().as_slice())?
                    .map(|g| g.value())
            };
            match removed {
                Some(mode) => {
                    let mode = PinMode::from_byte(mode)?;
                    self.commit(txn)?;
                    Ok(mode)
                }
                None => {
                    txn.abort()?;
                    match self.pin_status(cid)? {
                        Some(PinKind::Indirect { via }) => {
                            Err(StoreError::PinnedIndirectly { cid: *cid, via })
                        }
                        _ => Err(StoreError::NotPinned { cid: *cid }),
                    }
                }
            }
        })
    }

    /// Every pin (direct and recursive roots), each CID as it was pinned, in key order.
    pub fn pins(&self) -> Result<Vec<(Cid, PinMode)>> {
        self.run(|| {
            let tables = ReadTables::open(&self.inner)?;
            read_pins(&tables)
        })
    }

    /// Everything reachable from recursive pins, excluding the recursive roots themselves
    /// (blocks missing from the store are left out).
    pub fn indirect_pins(&self) -> Result<Vec<Cid>> {
        self.run(|| {
            let tables = ReadTables::open(&self.inner)?;
            let pins = read_pins(&tables)?;
            let roots: HashSet<Cid> = pins
                .iter()
                .filter(|(_, m)| *m == PinMode::Recursive)
                .map(|(c, _)| *c)
                .collect();
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (root, mode) in &pins {
                if *mode != PinMode::Recursive {
                    continue;
                }
                walk(&tables, *root, false, &mut seen, |c, visit| match visit {
                    Visit::Missing => Ok(None),
                    Visit::Present(data) => {
                        if !roots.contains(c) {
                            out.push(*c);
                        }
                        children(c, data).map(Some)
                    }
                })?;
            }
            Ok(out)
        })
    }

    /// Whether and how `cid` is pinned. Indirect pins are matched by multihash (a CIDv1 of a
    /// block linked as CIDv0 is found too); this walks the recursive pins' DAGs.
    pub fn pin_status(&self, cid: &Cid) -> Result<Option<PinKind>> {
        self.run(|| {
            let tables = ReadTables::open(&self.inner)?;
            let pins = read_pins(&tables)?;
            let key = block::pin_key(cid);
            if let Some((_, mode)) = pins.iter().find(|(c, _)| block::pin_key(c) == key) {
                return Ok(Some(match mode {
                    PinMode::Recursive => PinKind::Recursive,
                    PinMode::Direct => PinKind::Direct,
                }));
            }
            for (root, mode) in &pins {
                if *mode != PinMode::Recursive {
                    continue;
                }
                let mut found = false;
                // A fresh `seen` per root, so the answer names a root whose DAG holds `cid`.
                walk(&tables, *root, false, &mut HashSet::new(), |c, visit| {
                    if found {
                        return Ok(None);
                    }
                    if c.hash() == cid.hash() && c != root {
                        found = true;
                        return Ok(None);
                    }
                    match visit {
                        Visit::Missing => Ok(None),
                        // An undecodable node hides its links: skip it rather than fail a query.
                        Visit::Present(data) => Ok(children(c, data).ok()),
                    }
                })?;
                if found {
                    return Ok(Some(PinKind::Indirect { via: *root }));
                }
            }
            Ok(None)
        })
    }

    /// Checks every pin: its DAG complete, every block hashing right. One report per pin.
    pub fn pin_verify(&self) -> Result<Vec<PinReport>> {
        self.run(|| {
            let tables = ReadTables::open(&self.inner)?;
            let mut reports = Vec::new();
            for (cid, mode) in read_pins(&tables)? {
                let mut problems = Vec::new();
                let mut unfollowed = Vec::new();
                walk(&tables, cid, true, &mut HashSet::new(), |c, visit| {
                    let data = match visit {
                        Visit::Missing => {
                            problems.push(PinProblem::Missing { cid: *c });
                            return Ok(None);
                        }
                        Visit::Present(data) => data,
                    };
                    // `children` verifies the bytes before decoding them.
                    match children(c, data) {
                        Ok(_) if mode == PinMode::Direct => Ok(None),
                        Ok(kids) => {
                            if !Codec::of(c).follows_links() {
                                unfollowed.push(*c);
                            }
                            Ok(Some(kids))
                        }
                        Err(StoreError::Corrupt { .. } | StoreError::Unverifiable { .. }) => {
                            problems.push(PinProblem::Corrupt { cid: *c });
                            Ok(None)
                        }
                        Err(_) => {
                            problems.push(PinProblem::Undecodable { cid: *c });
                            Ok(None)
                        }
                    }
                })?;
                reports.push(PinReport {
                    cid,
                    mode,
                    problems,
                    unfollowed,
                });
            }
            Ok(reports)
        })
    }
}

pub(crate) fn read_pins(tables: &ReadTables<'_>) -> Result<Vec<(Cid, PinMode)>> {
    let mut out = Vec::new();
    for entry in tables.pins.iter()? {
        let (key, value) = entry?;
        out.push(decode_pin(key.value(), value.value())?);
    }
    Ok(out)
}
