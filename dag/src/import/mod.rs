//! The UnixFS importer: files, directories and symlinks in, a Merkle DAG out.
//!
//! Data flow: a reader is cut into chunks ([`crate::chunker`]), batches of chunks are hashed
//! in parallel on all cores while the next batch is read, and the resulting leaves are
//! folded into a balanced tree ([`file`]). Trees — walked from disk in name order (`dir`)
//! or uploaded as [`TreeEntry`] values in any order — go through one builder (`tree`) that
//! keeps directories as link lists and builds them at the end, each as one dag-pb node or as
//! a HAMT once it passes the size threshold. Every block
//! goes to a [`Sink`] (the store's batched writer, or [`Discard`] for `--only-hash`), so
//! nothing is held whole: memory is bounded by two batches plus the sink's buffer.

mod dir;
mod file;
mod tree;

pub use dir::{Walk, walk};
pub use tree::{PathProblem, TreeEntry};

use crate::block::{Block, Cid, Version};
use crate::chunker::DEFAULT_CHUNK_SIZE;
use crate::hamt::{DEFAULT_FANOUT, HamtError};
use crate::hash::{HashError, HashFn};
use std::io::Read;
use std::path::{Path, PathBuf};

/// How large a plain directory may get before it is sharded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HamtEstimation {
    /// Sum of link name and CID byte lengths (Kubo's legacy `links` estimate).
    LinkBytes,
    /// The exact serialized size of the plain directory block (`unixfs-v1-2025`).
    BlockBytes,
}

/// Import parameters. Every field changes the resulting CIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// CID version of dag-pb nodes. Raw leaves are always CIDv1.
    pub cid_version: Version,
    /// Hash function of every block (leaves, file nodes, directories, HAMT shards).
    /// Anything but sha2-256 needs CIDv1 ([`Params::set_hash`] applies Kubo's rule).
    pub hash: HashFn,
    /// Store file chunks as raw blocks instead of UnixFS-wrapped dag-pb leaves.
    pub raw_leaves: bool,
    /// Fixed chunk size in bytes.
    pub chunk_size: usize,
    /// Maximum links per internal file node (balanced layout width).
    pub max_links: usize,
    /// Directory size above which a HAMT is used (0 disables sharding).
    pub hamt_threshold: usize,
    /// How the directory size is measured against `hamt_threshold`.
    pub hamt_estimation: HamtEstimation,
    /// HAMT fanout.
    pub hamt_fanout: u64,
    /// Include names starting with '.' when walking directories.
    pub hidden: bool,
}

/// A named set of import parameters (IPIP-499).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Kubo's historical defaults: CIDv0, dag-pb leaves, 256 KiB chunks, 174 links.
    UnixfsV0_2015,
    /// CIDv1, raw leaves, 1 MiB chunks, 1024 links, HAMT by block size.
    UnixfsV1_2025,
}

impl Profile {
    /// Parses a profile name as Kubo spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "unixfs-v0-2015" | "legacy-cid-v0" => Some(Profile::UnixfsV0_2015),
            "unixfs-v1-2025" => Some(Profile::UnixfsV1_2025),
            _ => None,
        }
    }

    /// The parameters of this profile.
    pub fn params(self) -> Params {
        match self {
            Profile::UnixfsV0_2015 => Params::default(),
            Profile::UnixfsV1_2025 => Params {
                cid_version: Version::V1,
                raw_leaves: true,
                chunk_size: 1024 * 1024,
                max_links: 1024,
                hamt_estimation: HamtEstimation::BlockBytes,
                ..Params::default()
            },
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            cid_version: Version::V0,
            hash: HashFn::Sha2_256,
            raw_leaves: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_links: 174,
            hamt_threshold: 256 * 1024,
            hamt_estimation: HamtEstimation::LinkBytes,
            hamt_fanout: DEFAULT_FANOUT,
            hidden: false,
        }
    }
}

impl Params {
    /// Chooses the hash function as Kubo's `add --hash` does: a function other than
    /// sha2-256 needs CIDv1, so CIDv0 becomes CIDv1 unless the caller asked for CIDv0
    /// explicitly (`cid_version_set`: then it is an error, "CIDv0 only supports sha2-256"),
    /// and that switch to CIDv1 turns raw leaves on unless they were chosen explicitly
    /// (`raw_leaves_set`).
    pub fn set_hash(
        &mut self,
        hash: HashFn,
        cid_version_set: bool,
        raw_leaves_set: bool,
    ) -> Result<(), ImportError> {
        if hash != HashFn::Sha2_256 && self.cid_version == Version::V0 {
            if cid_version_set {
                return Err(ImportError::Params {
                    reason: "CIDv0 only supports sha2-256",
                });
            }
            self.cid_version = Version::V1;
            if !raw_leaves_set {
                self.raw_leaves = true;
            }
        }
        self.hash = hash;
        Ok(())
    }
}

/// Errors while importing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Reading input failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory being read (`<stdin>` for standard input).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A path is neither a file, a directory nor a symlink.
    #[error("{path}: unsupported file type")]
    Unsupported {
        /// The offending path.
        path: PathBuf,
    },
    /// A directory was given without recursion.
    #[error("{path} is a directory, use -r to add directories")]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A name is not valid UTF-8 and cannot be a UnixFS link name.
    #[error("{path}: file name is not valid UTF-8")]
    BadName {
        /// The path with the bad name.
        path: PathBuf,
    },
    /// A path in a tree being added is malformed or clashes with another entry.
    #[error("{path}: {problem}")]
    BadPath {
        /// The path as given ('/'-separated, relative to the import root).
        path: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// Invalid import parameters.
    #[error("invalid import parameters: {reason}")]
    Params {
        /// What is wrong.
        reason: &'static str,
    },
    /// A sharded directory could not be built.
    #[error(transparent)]
    Hamt(#[from] HamtError),
    /// A block could not be hashed with the chosen function (an identity "hash" of a
    /// block longer than an identity CID can carry).
    #[error("hashing with {hash}: {source}")]
    Hash {
        /// The hash function.
        hash: HashFn,
        /// Why.
        source: HashError,
    },
    /// The sink (block store) failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Hashes `data` into a block with `hash`, naming the function in the error.
fn encode(
    hash: HashFn,
    version: Version,
    codec: u64,
    data: bytes::Bytes,
) -> Result<Block, ImportError> {
    Block::encode_with(version, codec, hash, data)
        .map_err(|source| ImportError::Hash { hash, source })
}

/// Receives every block the importer makes, children before parents.
pub trait Sink {
    /// Takes one block.
    fn put(&mut self, block: Block) -> Result<(), ImportError>;
}

/// A sink that drops blocks (for `--only-hash`) but counts them.
#[derive(Debug, Default)]
pub struct Discard {
    /// Blocks seen.
    pub blocks: u64,
    /// Bytes seen.
    pub bytes: u64,
}

impl Sink for Discard {
    fn put(&mut self, block: Block) -> Result<(), ImportError> {
        self.blocks += 1;
        self.bytes += block.data().len() as u64;
        Ok(())
    }
}

impl Sink for crate::store::Writer {
    fn put(&mut self, block: Block) -> Result<(), ImportError> {
        Ok(crate::store::Writer::put(self, block)?)
    }
}

impl Sink for Vec<Block> {
    fn put(&mut self, block: Block) -> Result<(), ImportError> {
        self.push(block);
        Ok(())
    }
}

/// One added file, directory or symlink, reported as `ipfs add` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Path relative to the import root, '/'-separated ("" for unnamed stdin).
    pub path: String,
    /// Root CID of the entry.
    pub cid: Cid,
    /// Cumulative DAG size (what Kubo reports as `Size`).
    pub tsize: u64,
}

/// Something the importer reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// More input bytes were consumed.
    Progress {
        /// Total content bytes imported so far.
        bytes: u64,
    },
    /// An entry is complete. Files come in walk order, then directories in post-order,
    /// like Kubo's output.
    Added(&'a Added),
}

/// Imports files, directories and streams into a [`Sink`].
pub struct Importer<'a, S: Sink> {
    params: Params,
    sink: &'a mut S,
    on_event: Option<&'a mut dyn FnMut(Event<'_>)>,
    bytes: u64,
}

impl<S: Sink> std::fmt::Debug for Importer<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("params", &self.params)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl<'a, S: Sink> Importer<'a, S> {
    /// An importer with `params` writing into `sink`.
    pub fn new(params: Params, sink: &'a mut S) -> Result<Self, ImportError> {
        if params.chunk_size == 0 || params.chunk_size > crate::chunker::MAX_CHUNK_SIZE {
            return Err(ImportError::Params {
                reason: "chunk size must be between 1 byte and 2 MiB",
            });
        }
        if params.max_links < 2 {
            return Err(ImportError::Params {
                reason: "max links must be at least 2",
            });
        }
        if params.hash != HashFn::Sha2_256 && params.cid_version == Version::V0 {
            return Err(ImportError::Params {
                reason: "CIDv0 only supports sha2-256",
            });
        }
        if !crate::hamt::valid_fanout(params.hamt_fanout) {
            return Err(ImportError::Params {
                reason: "HAMT fanout must be a power of two between 8 and 1024",
            });
        }
        Ok(Importer {
            params,
            sink,
            on_event: None,
            bytes: 0,
        })
    }

    /// Reports progress and finished entries to `f`.
    pub fn on_event(mut self, f: &'a mut dyn FnMut(Event<'_>)) -> Self {
        self.on_event = Some(f);
        self
    }

    /// Imports one stream as a file named `name` ("" when it has none).
    pub fn add_reader(
        &mut self,
        reader: impl Read + Send,
        name: &str,
    ) -> Result<Added, ImportError> {
        let (cid, tsize) = self.file(
            reader,
            Path::new(if name.is_empty() { "<stdin>" } else { name }),
        )?;
        let added = Added {
            path: name.to_string(),
            cid,
            tsize,
        };
        self.emit_added(&added);
        Ok(added)
    }

    /// Imports a file, symlink or (with `recursive`) directory tree from disk. The root is
    /// reported under its base name (a directory without one, like `.`, as "" with its
    /// entries at the top level). Same as [`Self::add_paths`] with one path, no wrapping.
    pub fn add_path(&mut self, path: &Path, recursive: bool) -> Result<Added, ImportError> {
        let mut roots = self.add_paths(&[path.to_path_buf()], recursive, false)?;
        // One path gives one root; a directory without a base name gives the unnamed one.
        roots.pop().ok_or_else(|| ImportError::BadPath {
            path: path.display().to_string(),
            problem: PathProblem::NoName,
        })
    }

    /// Imports several files, symlinks or (with `recursive`) directory trees from disk, like
    /// `ipfs add [-r] [-w] PATH...`. Each is added under its base name, walked in name order
    /// with hidden names skipped unless [`Params::hidden`]; files are reported as they
    /// complete, then directories in post-order. Returns one root per path in order, or with
    /// `wrap` one unnamed directory (path "") holding them all. Base names must differ.
    pub fn add_paths(
        &mut self,
        paths: &[PathBuf],
        recursive: bool,
        wrap: bool,
    ) -> Result<Vec<Added>, ImportError> {
        let (walk, unnamed) = dir::walk(paths, recursive, wrap, self.params.hidden)?;
        let mut tree = tree::DirTree::new();
        for item in walk {
            let (entry, source) = item?;
            self.tree_entry(&mut tree, entry, Some(&source))?;
        }
        tree.finish(self, wrap || unnamed)
    }

    /// Imports a tree sent as entries with '/'-separated relative paths (the RPC API's
    /// multipart `add`), giving the same CIDs and events as [`Self::add_paths`] on the same
    /// tree on disk.
    ///
    /// Files and symlinks are imported and reported as they arrive; directories are kept as
    /// link lists and built when `entries` ends, deepest first, then reported in post-order
    /// with children in name order. Entries may come in any order (the CIDs do not depend on
    /// it), and parents implied by a child's path are created. Paths must be relative, with
    /// no empty, `.` or `..` components, and no name may be used twice in a directory
    /// ([`ImportError::BadPath`]). The first `Err` item stops the import and is returned.
    ///
    /// Returns the top-level entries in arrival order, or with `wrap` a single unnamed
    /// directory (path "") holding them, reported last, like `ipfs add -w`.
    pub fn add_tree<R: Read + Send>(
        &mut self,
        entries: impl IntoIterator<Item = Result<TreeEntry<R>, ImportError>>,
        wrap: bool,
    ) -> Result<Vec<Added>, ImportError> {
        let mut tree = tree::DirTree::new();
        for entry in entries {
            self.tree_entry(&mut tree, entry?, None)?;
        }
        tree.finish(self, wrap)
    }

    /// Hashes `data` into a block with the import's hash function.
    fn block(&self, version: Version, codec: u64, data: Vec<u8>) -> Result<Block, ImportError> {
        encode(self.params.hash, version, codec, data.into())
    }

    fn emit_added(&mut self, added: &Added) {
        if let Some(f) = self.on_event.as_mut() {
            f(Event::Added(added));
        }
    }

    fn progress(&mut self, n: u64) {
        self.bytes += n;
        let bytes = self.bytes;
        if let Some(f) = self.on_event.as_mut() {
            f(Event::Progress { bytes });
        }
    }
}
