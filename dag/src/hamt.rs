//! HAMT-sharded UnixFS directories: hashing, building and lookup.
//!
//! Keys are hashed with murmur3-x64-64 (the first 64 bits of murmur3-x64-128, big-endian),
//! and each level consumes `log2(fanout)` bits from the most significant end. A slot holds
//! either one entry (link name = uppercase hex slot index ‖ entry name) or a child shard
//! (link name = the bare hex index). This is the layout Kubo (boxo) and Helia both write,
//! so the same entries always give the same root CID.

use crate::block::{Block, Cid, DAG_PB, Version};
use crate::hash::HashFn;
use crate::pb::{Link, Node};
use crate::unixfs::{Data, DataType};
use bytes::Bytes;
use std::collections::BTreeMap;

/// Multihash code of murmur3-x64-64, stored in a shard's `hashType`.
pub const HASH_MURMUR3: u64 = 0x22;
/// Default fanout (Kubo and Helia).
pub const DEFAULT_FANOUT: u64 = 256;

/// The 64-bit key hash used to place `name` in a shard.
pub fn hash_name(name: &[u8]) -> [u8; 8] {
    let mut cursor = name;
    // Reading from a slice cannot fail.
    let h = murmur3::murmur3_x64_128(&mut cursor, 0).unwrap_or_default();
    (h as u64).to_be_bytes()
}

/// Bits per level for a fanout (a power of two, 8..=1024).
pub fn valid_fanout(fanout: u64) -> bool {
    fanout.is_power_of_two() && (8..=1024).contains(&fanout)
}

fn bits_per_level(fanout: u64) -> u32 {
    fanout.trailing_zeros()
}

/// How many shard levels a HAMT of `fanout` can have: each level consumes `log2(fanout)`
/// bits of the 64-bit hash, so a shard below level `ceil(64 / log2(fanout))` (8 levels at
/// the default fanout of 256, 22 at the smallest, 8) has no hash bits left to place
/// anything and makes the whole HAMT invalid. Readers refuse deeper shards, which also
/// bounds every walk of a (possibly hostile) sharded directory.
pub fn max_levels(fanout: u64) -> u32 {
    64u32.div_ceil(bits_per_level(fanout).max(1))
}

/// Slot index of `hash` at `depth`, or `None` once the 64 hash bits are used up.
pub fn slot_index(hash: &[u8; 8], depth: u32, fanout: u64) -> Option<usize> {
    let bits = bits_per_level(fanout);
    let start = depth.checked_mul(bits)?;
    if start + bits > 64 {
        return None;
    }
    let v = u64::from_be_bytes(*hash);
    Some(((v << start) >> (64 - bits)) as usize)
}

/// Width of the hex prefix in link names for `fanout`.
pub fn prefix_len(fanout: u64) -> usize {
    format!("{:X}", fanout.saturating_sub(1)).len()
}

fn prefix(index: usize, fanout: u64) -> String {
    format!("{:0width$X}", index, width = prefix_len(fanout))
}

/// One directory entry to place in a shard.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Entry name.
    pub name: String,
    /// Target CID.
    pub cid: Cid,
    /// Cumulative size of the target DAG.
    pub tsize: u64,
}

enum Slot {
    Entry(Entry, [u8; 8]),
    Shard(Shard),
}

#[derive(Default)]
struct Shard {
    slots: BTreeMap<usize, Slot>,
}

/// A sharded directory could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HamtError {
    /// Two names share all 64 hash bits (astronomically unlikely) or repeat.
    #[error("cannot place entry {name:?} in HAMT: hash exhausted or duplicate name")]
    Exhausted {
        /// The entry that could not be placed.
        name: String,
    },
    /// A shard node could not be hashed with the chosen function.
    #[error("cannot hash HAMT shard: {0}")]
    Hash(#[from] crate::hash::HashError),
}

impl Shard {
    fn insert(
        &mut self,
        entry: Entry,
        hash: [u8; 8],
        depth: u32,
        fanout: u64,
    ) -> Result<(), HamtError> {
        let Some(idx) = slot_index(&hash, depth, fanout) else {
            return Err(HamtError::Exhausted { name: entry.name });
        };
        match self.slots.remove(&idx) {
            None => {
                self.slots.insert(idx, Slot::Entry(entry, hash));
            }
            Some(Slot::Shard(mut child)) => {
                child.insert(entry, hash, depth + 1, fanout)?;
                self.slots.insert(idx, Slot::Shard(child));
            }
            Some(Slot::Entry(existing, existing_hash)) => {
                if existing.name == entry.name {
                    return Err(HamtError::Exhausted { name: entry.name });
                }
                let mut child = Shard::default();
                child.insert(existing, existing_hash, depth + 1, fanout)?;
                child.insert(entry, hash, depth + 1, fanout)?;
                self.slots.insert(idx, Slot::Shard(child));
            }
        }
        Ok(())
    }

    /// Encodes this shard and its children (children first, into `out`); returns the
    /// root block and its cumulative size.
    fn build(
        self,
        version: Version,
        hash: HashFn,
        fanout: u64,
        out: &mut Vec<Block>,
    ) -> Result<(Cid, u64), HamtError> {
        let mut bitfield = vec![0u8; (fanout / 8) as usize];
        let mut links = Vec::with_capacity(self.slots.len());
        let mut children_size = 0u64;
        for (idx, slot) in self.slots {
            let byte = bitfield.len() - 1 - idx / 8;
            bitfield[byte] |= 1 << (idx % 8);
            let link = match slot {
                Slot::Entry(e, _) => {
                    Link::new(e.cid, format!("{}{}", prefix(idx, fanout), e.name), e.tsize)
                }
                Slot::Shard(child) => {
                    let (cid, tsize) = child.build(version, hash, fanout, out)?;
                    Link::new(cid, prefix(idx, fanout), tsize)
                }
            };
            children_size += link.tsize.unwrap_or(0);
            links.push(link);
        }
        // The bitfield is written as a minimal big-endian integer (leading zero bytes
        // dropped), as Go's big.Int-backed bitfield and the JS importer both do.
        let first = bitfield
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bitfield.len());
        let data = Data {
            data: Bytes::copy_from_slice(&bitfield[first..]),
            hash_type: Some(HASH_MURMUR3),
            fanout: Some(fanout),
            ..Data::new(DataType::HamtShard)
        };
        let node = Node {
            links,
            data: Some(Bytes::from(data.encode())),
        };
        let block = Block::encode_with(version, DAG_PB, hash, node.encode())?;
        let cid = *block.cid();
        let size = block.data().len() as u64 + children_size;
        out.push(block);
        Ok((cid, size))
    }
}

/// Builds a sharded directory from its entries, hashing with sha2-256. Returns every block
/// (root last) and the root's cumulative size.
pub fn build(
    entries: Vec<Entry>,
    version: Version,
    fanout: u64,
) -> Result<(Vec<Block>, u64), HamtError> {
    build_with(entries, version, HashFn::Sha2_256, fanout)
}

/// [`build`] with every shard hashed by `hash`.
pub fn build_with(
    entries: Vec<Entry>,
    version: Version,
    hash: HashFn,
    fanout: u64,
) -> Result<(Vec<Block>, u64), HamtError> {
    let mut root = Shard::default();
    for e in entries {
        let hash = hash_name(e.name.as_bytes());
        root.insert(e, hash, 0, fanout)?;
    }
    let mut blocks = Vec::new();
    let (_, size) = root.build(version, hash, fanout, &mut blocks)?;
    Ok((blocks, size))
}

/// Where a lookup of `name` goes next inside a shard node: the link to follow and whether
/// it is an entry (done) or a child shard (descend with `depth + 1`).
pub fn lookup<'a>(node: &'a Node, name: &str, depth: u32, fanout: u64) -> Option<(&'a Link, bool)> {
    let idx = slot_index(&hash_name(name.as_bytes()), depth, fanout)?;
    let pre = prefix(idx, fanout);
    node.links.iter().find_map(|l| {
        let lname = l.name_str();
        let rest = lname.strip_prefix(pre.as_str())?;
        if rest.is_empty() {
            Some((l, false))
        } else if rest == name {
            Some((l, true))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_known_values() {
        // murmur3_x64_128("", seed 0) is all zeros.
        assert_eq!(hash_name(b""), [0; 8]);
        assert_ne!(hash_name(b"a"), hash_name(b"b"));
    }

    #[test]
    fn slot_bits_from_the_top() {
        let h = [0xAB, 0xCD, 0, 0, 0, 0, 0, 0];
        assert_eq!(slot_index(&h, 0, 256), Some(0xAB));
        assert_eq!(slot_index(&h, 1, 256), Some(0xCD));
        assert_eq!(slot_index(&h, 0, 16), Some(0xA));
        assert_eq!(slot_index(&h, 1, 16), Some(0xB));
        assert_eq!(slot_index(&h, 8, 256), None);
        assert_eq!(prefix_len(256), 2);
        assert_eq!(prefix(10, 256), "0A");
        assert_eq!(max_levels(256), 8);
        assert_eq!(max_levels(8), 22);
        assert_eq!(max_levels(1024), 7);
        // Every level max_levels allows but the last has a full slot index.
        assert!(slot_index(&h, max_levels(256) - 1, 256).is_some());
    }

    #[test]
    fn build_then_lookup_finds_every_entry() {
        let file = Block::encode(Version::V1, crate::block::RAW, &b"x"[..]);
        let entries: Vec<Entry> = (0..2000)
            .map(|i| Entry {
                name: format!("file-{i}"),
                cid: *file.cid(),
                tsize: 1,
            })
            .collect();
        let (blocks, _) = build(entries, Version::V0, 256).expect("build");
        let by_cid: std::collections::HashMap<Cid, Node> = blocks
            .iter()
            .map(|b| (*b.cid(), Node::decode(b.data()).expect("decodes")))
            .collect();
        let root = blocks.last().expect("root");
        for i in (0..2000).step_by(37) {
            let name = format!("file-{i}");
            let mut node = &by_cid[root.cid()];
            let mut depth = 0;
            loop {
                let (link, is_entry) = lookup(node, &name, depth, 256).expect("found");
                if is_entry {
                    assert_eq!(link.cid, *file.cid());
                    break;
                }
                node = &by_cid[&link.cid];
                depth += 1;
            }
        }
        assert!(lookup(&by_cid[root.cid()], "missing", 0, 256).is_none_or(|(_, e)| !e));
    }
}
