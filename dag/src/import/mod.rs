//! The UnixFS importer: files, directories and symlinks in, a Merkle DAG out.
//!
//! Data flow: a reader is cut into chunks ([`crate::chunker`]), batches of chunks are hashed
//! in parallel on all cores while the next batch is read, and the resulting leaves are
//! folded into a balanced tree ([`file`]). Directories are walked in name order and built as
//! one dag-pb node, or as a HAMT once they pass the size threshold ([`dir`]). Every block
//! goes to a [`Sink`] (the store's batched writer, or [`Discard`] for `--only-hash`), so
//! nothing is held whole: memory is bounded by two batches plus the sink's buffer.

mod dir;
mod file;

use crate::block::{Block, Cid, Version};
use crate::chunker::DEFAULT_CHUNK_SIZE;
use crate::hamt::{DEFAULT_FANOUT, HamtError};
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

/// Errors while importing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Reading input failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory being read ("<stdin>" for standard input).
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
    /// Invalid import parameters.
    #[error("invalid import parameters: {reason}")]
    Params {
        /// What is wrong.
        reason: &'static str,
    },
    /// A sharded directory could not be built.
    #[error(transparent)]
    Hamt(#[from] HamtError),
    /// The sink (block store) failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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
    /// reported under its base name.
    pub fn add_path(&mut self, path: &Path, recursive: bool) -> Result<Added, ImportError> {
        let name = match path.file_name() {
            Some(n) => n
                .to_str()
                .ok_or_else(|| ImportError::BadName {
                    path: path.to_path_buf(),
                })?
                .to_string(),
            None => String::new(),
        };
        let meta = std::fs::symlink_metadata(path).map_err(|source| ImportError::Io {
            path: path.into(),
            source,
        })?;
        if meta.is_dir() {
            if !recursive {
                return Err(ImportError::IsDirectory {
                    path: path.to_path_buf(),
                });
            }
            let mut dirs = Vec::new();
            let root = self.dir(path, &name, &mut dirs)?;
            for d in &dirs {
                self.emit_added(d);
            }
            Ok(root)
        } else {
            let (cid, tsize) = self.entry(path, &meta)?;
            let added = Added {
                path: name,
                cid,
                tsize,
            };
            self.emit_added(&added);
            Ok(added)
        }
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
