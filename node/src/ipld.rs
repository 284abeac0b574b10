//! IPLD commands as one service for the RPC API and the offline CLI: `dag put` (decode in
//! one codec, store in another), `dag get` (a node, or a value inside one, in any codec),
//! `dag resolve`, `dag stat`, and the block making of `block put` for any codec and hash.
//!
//! Data flow:
//! - put: input bytes → [`codec::decode`] in the input codec (the strict decoder, so
//!   non-canonical dag-cbor is refused) → [`codec::encode`] in the store codec → hashed with
//!   the chosen function → [`Block::check_codec`] (the codec check any block from outside
//!   gets) →
//!   the caller stores (and pins, and announces) it.
//! - get / resolve: `<cid>[/path]` → [`dag::export::resolve_ipld`] over a [`BlockSource`]
//!   (the store, or the store then BitSwap) → the last block decoded → the rest of the
//!   path walked inside it → re-encoded in the output codec.
//! - stat: an iterative depth-first walk over [`codec::links`], one visited set per root
//!   and one across roots, so shared blocks are counted once in the summary.

use crate::path::PathError;
use dag::block::Block;
use dag::codec::{self, Codec, Ipld, Resolved};
use dag::export::{self, ExportError};
use dag::hash::{HashError, HashFn};
use dag::store::PinMode;
use dag::{BlockSource, Cid, Version};
use std::collections::HashSet;

/// The largest block `dag put` and `block put` make without `--allow-big-block`: what
/// peers exchange over BitSwap (Kubo's limit too).
pub const SOFT_BLOCK_LIMIT: usize = 1 << 20;

/// An IPLD command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpldError {
    /// A codec name is not one ipfsd knows, or not one this command can use.
    #[error("unsupported {role} codec {name:?} (expected one of: {expected})")]
    BadCodec {
        /// Which option (`input`, `store`, `output`, `cid`).
        role: &'static str,
        /// What was given.
        name: String,
        /// The names accepted.
        expected: &'static str,
    },
    /// The input is not valid (or not canonical) in the input codec.
    #[error("input is not valid {codec}: {source}")]
    Input {
        /// The input codec.
        codec: Codec,
        /// What the decoder said.
        source: dag::DecodeError,
    },
    /// The value cannot be written in the asked codec.
    #[error(transparent)]
    Encode(#[from] codec::EncodeError),
    /// The hash function cannot be used.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// `--mhlen` asks for a digest length the function does not produce.
    #[error("digest length {len} is not supported for {hash} (it makes {native}-byte digests)")]
    DigestLength {
        /// The function.
        hash: &'static str,
        /// The length asked for.
        len: usize,
        /// What the function produces.
        native: usize,
    },
    /// The block made is larger than peers exchange.
    #[error(
        "produced block is {size} bytes, over the {SOFT_BLOCK_LIMIT}-byte limit peers exchange \
         (pass --allow-big-block to store it anyway)"
    )]
    TooBig {
        /// Its size.
        size: usize,
    },
    /// The block made (or given) did not pass the block checks.
    #[error(transparent)]
    Block(#[from] dag::BlockError),
    /// The path is malformed.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Walking the path (or the DAG) failed: a missing block, no such field, ...
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A recursive pin after `dag put` needs a block the node links to that is not stored.
    #[error(
        "cannot pin {roots}: linked block {missing} is not stored (a recursive pin needs \
         every block the node links to)"
    )]
    PinIncomplete {
        /// The nodes being pinned.
        roots: String,
        /// The first block found missing.
        missing: Cid,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] dag::StoreError),
    /// The caller stopped a walk (its client went away).
    #[error("stopped")]
    Stopped,
    /// A block on the way cannot be read as IPLD data (its codec has no decoder).
    #[error("block {cid} is {codec}, which cannot be read as IPLD data")]
    NotDecodable {
        /// The block.
        cid: Cid,
        /// Its codec.
        codec: Codec,
    },
}

/// The codecs `dag put --input-codec` reads.
const INPUT_CODECS: &str = "dag-json, dag-cbor, json, cbor, raw";
/// The codecs `dag put --store-codec` and `dag get --output-codec` write.
const OUTPUT_CODECS: &str = "dag-cbor, dag-json, dag-pb, json, cbor, raw";

fn codec_named(
    role: &'static str,
    name: &str,
    expected: &'static str,
    ok: impl Fn(Codec) -> bool,
) -> Result<Codec, IpldError> {
    Codec::from_name(name)
        .filter(|c| ok(*c))
        .ok_or_else(|| IpldError::BadCodec {
            role,
            name: name.to_string(),
            expected,
        })
}

/// Parses `--input-codec`.
pub fn input_codec(name: &str) -> Result<Codec, IpldError> {
    codec_named("input", name, INPUT_CODECS, |c| {
        matches!(
            c,
            Codec::DagJson | Codec::DagCbor | Codec::Json | Codec::Cbor | Codec::Raw
        )
    })
}

/// Parses `--store-codec` (`role` "store") or `--output-codec` (`role` "output").
pub fn output_codec(role: &'static str, name: &str) -> Result<Codec, IpldError> {
    codec_named(role, name, OUTPUT_CODECS, Codec::is_decodable)
}

/// Parses `--hash` / `--mhtype`.
pub fn hash_named(name: &str) -> Result<HashFn, IpldError> {
    Ok(HashFn::from_name(name)?)
}

/// How `dag put` turns input into a block.
#[derive(Debug, Clone, Copy)]
pub struct PutOptions {
    /// What the input is in.
    pub input: Codec,
    /// What the block is stored as.
    pub store: Codec,
    /// The multihash function.
    pub hash: HashFn,
    /// Allow blocks over [`SOFT_BLOCK_LIMIT`].
    pub allow_big_block: bool,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions {
            input: Codec::DagJson,
            store: Codec::DagCbor,
            hash: HashFn::Sha2_256,
            allow_big_block: false,
        }
    }
}

/// The block `dag put` stores for one input object.
pub fn put_block(input: &[u8], opts: &PutOptions) -> Result<Block, IpldError> {
    let value = codec::decode(opts.input, input).map_err(|source| IpldError::Input {
        codec: opts.input,
        source,
    })?;
    let bytes = codec::encode(opts.store, &value)?;
    checked_block(
        bytes,
        Version::V1,
        opts.store.code(),
        opts.hash,
        None,
        opts.allow_big_block,
    )
}

/// Stores what `dag put` made in one transaction and, with `pin`, pins each block
/// recursively in that same transaction: either everything is stored and pinned, or (a
/// linked block missing) nothing is.
pub fn store_blocks(store: &dag::Store, blocks: Vec<Block>, pin: bool) -> Result<(), IpldError> {
    let roots: Vec<Cid> = blocks.iter().map(|b| *b.cid()).collect();
    let mut writer = store.atomic_writer()?;
    for b in blocks {
        writer.put(b)?;
    }
    if !pin {
        writer.finish()?;
        return Ok(());
    }
    let pins: Vec<_> = roots.iter().map(|c| (*c, PinMode::Recursive)).collect();
    match writer.finish_and_pin_all(&pins) {
        Ok(_) => Ok(()),
        Err(dag::StoreError::MissingBlock { cid }) => Err(IpldError::PinIncomplete {
            roots: roots
                .iter()
                .map(Cid::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            missing: cid,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The block `block put` stores: `data` as it is, under a CID of `version` (CIDv0 only
/// for dag-pb and sha2-256, CIDv1 otherwise) and `codec`, hashed with `hash` (`mhlen`, when
/// given, must be the function's own length), checked like any block from outside (a
/// non-canonical dag-cbor block is refused).
pub fn checked_block(
    data: Vec<u8>,
    version: Version,
    codec: u64,
    hash: HashFn,
    mhlen: Option<usize>,
    allow_big_block: bool,
) -> Result<Block, IpldError> {
    if data.len() > SOFT_BLOCK_LIMIT && !allow_big_block {
        return Err(IpldError::TooBig { size: data.len() });
    }
    // Hashed once here; the codec is then checked as `Block::verified` would (re-hashing
    // bytes just hashed would only repeat the work).
    let block = Block::encode_with(version, codec, hash, data)?;
    if let Some(len) = mhlen {
        let native = block.cid().hash().size() as usize;
        if len != native && hash != HashFn::Identity {
            return Err(IpldError::DigestLength {
                hash: hash.name(),
                len,
                native,
            });
        }
    }
    block.check_codec()?;
    Ok(block)
}

/// What a path names: a block and the rest of the path inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The last block reached.
    pub cid: Cid,
    /// The path left inside it (`a/b`, empty when the path ends at the block).
    pub rem: String,
}

/// `dag resolve`: follows `<cid>[/path]` (or `/ipfs/<cid>[/path]`) across dag-pb, dag-cbor
/// and dag-json links, and checks that the rest exists inside the last block.
pub fn resolve(source: &impl BlockSource, input: &str) -> Result<Resolution, IpldError> {
    let (root, path) = crate::path::parse(input)?;
    let walked = export::resolve_ipld(source, &root, &path)?;
    if !walked.rem.is_empty() {
        // resolve_ipld stopped at a value inside the block: it exists.
        value_at(source, &walked.cid, &walked.rem, |_| Ok(()))?;
    }
    Ok(Resolution {
        cid: walked.cid,
        rem: walked.rem.join("/"),
    })
}

/// Decodes `cid` and hands `f` the value at `rem` inside it.
fn value_at<T>(
    source: &impl BlockSource,
    cid: &Cid,
    rem: &[String],
    f: impl FnOnce(&Ipld) -> Result<T, IpldError>,
) -> Result<T, IpldError> {
    let c = Codec::of(cid);
    if !c.is_decodable() {
        return Err(IpldError::NotDecodable {
            cid: *cid,
            codec: c,
        });
    }
    let data = export::get(source, cid)?;
    let node =
        codec::decode(c, &data).map_err(|source| ExportError::Decode { cid: *cid, source })?;
    match codec::resolve_in_node(&node, rem) {
        Ok(Resolved::Value(v)) => f(v),
        Ok(Resolved::Link { cid: link, .. }) => f(&Ipld::Link(link)),
        Err(e) => Err(ExportError::NoLink {
            cid: *cid,
            name: match e {
                codec::PathError::NoField { segment }
                | codec::PathError::NotContainer { segment, .. } => segment,
                _ => rem.join("/"),
            },
        }
        .into()),
    }
}

/// `dag get`: the node (or the value inside a node) that `<cid>[/path]` names, encoded in
/// `output`.
pub fn get(source: &impl BlockSource, input: &str, output: Codec) -> Result<Vec<u8>, IpldError> {
    let (root, path) = crate::path::parse(input)?;
    let walked = export::resolve_ipld(source, &root, &path)?;
    value_at(source, &walked.cid, &walked.rem, |v| {
        Ok(codec::encode(output, v)?)
    })
}

/// One root's share of `dag stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagStat {
    /// The root.
    pub cid: Cid,
    /// Bytes of the distinct blocks under it (itself included).
    pub size: u64,
    /// How many distinct blocks.
    pub blocks: u64,
}

/// What `dag stat` reports: per root, and over all roots with shared blocks counted once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatSummary {
    /// Distinct blocks over all roots.
    pub unique_blocks: u64,
    /// Bytes of those distinct blocks.
    pub total_size: u64,
    /// Bytes summed root by root (a block under two roots counts twice).
    pub redundant_size: u64,
    /// Per root, in the order given (the root being walked last, while in progress).
    pub dags: Vec<DagStat>,
}

impl StatSummary {
    /// Bytes that appear under more than one root.
    pub fn shared_size(&self) -> u64 {
        self.redundant_size - self.total_size
    }

    /// Summed size over distinct size (1 when nothing is shared; 0 for nothing at all).
    pub fn ratio(&self) -> f64 {
        if self.total_size == 0 {
            0.0
        } else {
            self.redundant_size as f64 / self.total_size as f64
        }
    }
}

/// How often (in blocks) `dag stat` reports progress.
pub const STAT_PROGRESS_EVERY: u64 = 256;

/// `dag stat`: walks every root's DAG (without recursion), counting each block once per
/// root and once overall; `progress` sees the running summary every
/// [`STAT_PROGRESS_EVERY`] blocks and may stop the walk ([`IpldError::Stopped`]) by
/// answering `false` (the client went away).
pub fn stat(
    source: &impl BlockSource,
    roots: &[Cid],
    mut progress: impl FnMut(&StatSummary) -> bool,
) -> Result<StatSummary, IpldError> {
    let mut summary = StatSummary::default();
    let mut all = HashSet::new();
    let mut walked = 0u64;
    for root in roots {
        summary.dags.push(DagStat {
            cid: *root,
            size: 0,
            blocks: 0,
        });
        let mut seen = HashSet::from([*root]);
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            let data = export::get(source, &cid)?;
            let size = data.len() as u64;
            let links =
                codec::links(&cid, &data).map_err(|source| ExportError::Decode { cid, source })?;
            if let Some(d) = summary.dags.last_mut() {
                d.size += size;
                d.blocks += 1;
            }
            summary.redundant_size += size;
            if all.insert(cid) {
                summary.unique_blocks += 1;
                summary.total_size += size;
            }
            // Reversed, so children are visited in link order.
            for l in links.into_iter().rev() {
                if seen.insert(l) {
                    stack.push(l);
                }
            }
            walked += 1;
            if walked.is_multiple_of(STAT_PROGRESS_EVERY) && !progress(&summary) {
                return Err(IpldError::Stopped);
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
