//! A block source built from one fuzz input, for harnesses that walk a DAG.
//!
//! The input is a list of blocks separated by [`BLOCK_SEP`]. Each block answers to its real
//! CIDs (dag-pb v0/v1 and raw v1), so seeds made from real DAGs resolve as they would in a
//! store; a CID the input does not hold answers with block `digest[0] % n`, so mutated
//! links still lead somewhere (and cycles, wrong codecs and bytes that do not match their
//! CID, as a corrupt store or a lying peer would hand them out, are reachable).

use bytes::Bytes;
use dag::block::{DAG_PB, RAW, cid_of};
use dag::{BlockSource, Cid, SourceError, Version};
use std::collections::HashMap;

/// Separates the blocks of a multi-block input.
pub const BLOCK_SEP: &[u8] = b"~BLK";

/// Splits `data` at every [`BLOCK_SEP`].
pub fn split_blocks(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(BLOCK_SEP.len()).position(|w| w == BLOCK_SEP) {
        out.push(&rest[..i]);
        rest = &rest[i + BLOCK_SEP.len()..];
    }
    out.push(rest);
    out
}

/// Joins blocks with [`BLOCK_SEP`] (the inverse of [`split_blocks`], for seeds).
pub fn join_blocks<'a>(blocks: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, b) in blocks.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(BLOCK_SEP);
        }
        out.extend_from_slice(b);
    }
    out
}

/// Blocks of one fuzz input.
#[derive(Debug)]
pub struct FuzzSource {
    blocks: Vec<Bytes>,
    by_cid: HashMap<Cid, usize>,
}

impl FuzzSource {
    /// The blocks of `data` (at most `max` of them).
    pub fn parse(data: &[u8], max: usize) -> Self {
        let blocks: Vec<Bytes> = split_blocks(data)
            .into_iter()
            .take(max)
            .map(Bytes::copy_from_slice)
            .collect();
        let mut by_cid = HashMap::new();
        for (i, b) in blocks.iter().enumerate() {
            for cid in [
                cid_of(Version::V0, DAG_PB, b),
                cid_of(Version::V1, DAG_PB, b),
                cid_of(Version::V1, RAW, b),
            ] {
                by_cid.entry(cid).or_insert(i);
            }
        }
        FuzzSource { blocks, by_cid }
    }

    /// The dag-pb CIDv1 of the first block: where walks start.
    pub fn root(&self) -> Cid {
        cid_of(
            Version::V1,
            DAG_PB,
            self.blocks.first().map_or(&[][..], |b| &b[..]),
        )
    }
}

impl BlockSource for FuzzSource {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, SourceError> {
        if let Some(&i) = self.by_cid.get(cid) {
            return Ok(self.blocks[i].clone());
        }
        let n = self.blocks.len();
        match cid.hash().digest().first() {
            Some(&d) if n > 0 => Ok(self.blocks[usize::from(d) % n].clone()),
            _ => Err(SourceError::NotFound { cid: *cid }),
        }
    }
}

/// A store of verified blocks (what an importer wrote), for round-trip checks.
#[derive(Debug, Default)]
pub struct MapSource(pub HashMap<Cid, Bytes>);

impl BlockSource for MapSource {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, SourceError> {
        self.0
            .get(cid)
            .cloned()
            .ok_or(SourceError::NotFound { cid: *cid })
    }
}
