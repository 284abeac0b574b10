//! Reading a UnixFS file: [`FileReader`] streams a byte range, walking the file DAG with
//! an explicit stack (at most one node per level, 64 levels) and skipping whole subtrees
//! by `blocksizes` when seeking; leaves are read ahead and verified in parallel.

use super::*;

/// Deepest file DAG the reader follows (guards against hostile DAGs).
const MAX_DEPTH: usize = 64;

/// Streams a byte range of a UnixFS file as a sequence of `Bytes` pieces.
pub struct FileReader<'s, S: BlockSource> {
    source: &'s S,
    /// Per level: the (child CID, content size) pairs not yet visited.
    stack: Vec<std::vec::IntoIter<(Cid, u64)>>,
    /// The root, already loaded by `open`.
    root: Option<Entry>,
    /// Bytes still to skip before output starts.
    skip: u64,
    /// Bytes still to produce.
    remaining: u64,
    size: u64,
    /// Blocks fetched ahead of use, in the order they will be visited.
    ahead: std::collections::VecDeque<(Cid, Result<Entry, ExportError>)>,
}

/// How many sibling blocks are fetched (and verified) in parallel ahead of the reader.
const READ_AHEAD: usize = 8;

impl<S: BlockSource> std::fmt::Debug for FileReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("size", &self.size)
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<'s, S: BlockSource> FileReader<'s, S> {
    /// Opens the file at `cid` for reading `length` bytes (or to the end) from `offset`.
    pub fn open(
        source: &'s S,
        cid: &Cid,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Self, ExportError> {
        let entry = load(source, cid)?;
        match entry.kind() {
            Kind::File => {}
            Kind::Directory => return Err(ExportError::IsDirectory { cid: *cid }),
            _ => {
                return Err(ExportError::Invalid {
                    cid: *cid,
                    reason: "not a file",
                });
            }
        }
        let size = entry.filesize();
        let offset = offset.min(size);
        let remaining = length.map_or(size - offset, |l| l.min(size - offset));
        Ok(FileReader {
            source,
            stack: vec![vec![(*cid, size)].into_iter()],
            root: Some(entry),
            skip: offset,
            remaining,
            size,
            ahead: std::collections::VecDeque::new(),
        })
    }

    /// Total size of the file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes this reader will still produce.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The next piece of the range, `None` when it is complete.
    pub fn next_piece(&mut self) -> Result<Option<Bytes>, ExportError> {
        while self.remaining > 0 {
            let Some(level) = self.stack.last_mut() else {
                return Err(ExportError::Invalid {
                    cid: Cid::default(),
                    reason: "file DAG shorter than its size",
                });
            };
            let Some((cid, size)) = level.next() else {
                self.stack.pop();
                continue;
            };
            if self.skip >= size && size > 0 {
                self.skip -= size;
                continue;
            }
            let entry = match self.root.take() {
                Some(root) => root,
                None => self.fetch(cid, size)?,
            };
            let data = match entry {
                Entry::Raw(bytes) => bytes,
                Entry::Pb(node, Some(d)) if matches!(d.kind, DataType::File | DataType::Raw) => {
                    if !node.links.is_empty() {
                        if d.blocksizes.len() != node.links.len() {
                            return Err(ExportError::Invalid {
                                cid,
                                reason: "blocksizes do not match links",
                            });
                        }
                        if self.stack.len() >= MAX_DEPTH {
                            return Err(ExportError::Invalid {
                                cid,
                                reason: "file DAG too deep",
                            });
                        }
                        let children: Vec<_> =
                            node.links.iter().map(|l| l.cid).zip(d.blocksizes).collect();
                        self.stack.push(children.into_iter());
                    }
                    d.data
                }
                _ => {
                    return Err(ExportError::Invalid {
                        cid,
                        reason: "file contains a non-file node",
                    });
                }
            };
            let len = data.len() as u64;
            if self.skip >= len {
                self.skip -= len;
                continue;
            }
            let start = self.skip as usize;
            let end = (self.skip + self.remaining).min(len) as usize;
            self.skip = 0;
            self.remaining -= (end - start) as u64;
            return Ok(Some(data.slice(start..end)));
        }
        Ok(None)
    }

    /// Loads `cid` (of content size `size`), fetching the siblings the range will need next
    /// in parallel on the way, so block reads and hash checks use every core.
    fn fetch(&mut self, cid: Cid, size: u64) -> Result<Entry, ExportError> {
        if let Some((ahead_cid, entry)) = self.ahead.pop_front() {
            if ahead_cid == cid {
                return entry;
            }
            self.ahead.clear();
        }
        let mut batch = vec![cid];
        let mut needed = size.saturating_sub(self.skip);
        if let Some(level) = self.stack.last() {
            for (next, next_size) in level.as_slice() {
                if batch.len() == READ_AHEAD || needed >= self.remaining {
                    break;
                }
                batch.push(*next);
                needed += next_size;
            }
        }
        if batch.len() == 1 {
            return load(self.source, &cid);
        }
        let source = self.source;
        let mut loaded: Vec<_> = batch
            .into_par_iter()
            .map(|c| (c, load(source, &c)))
            .collect();
        let first = loaded.remove(0).1;
        self.ahead.extend(loaded);
        first
    }

    /// Writes the rest of the range to `out`; returns the bytes written.
    pub fn copy_to(mut self, out: &mut impl io::Write) -> Result<u64, ExportError> {
        let mut n = 0;
        while let Some(piece) = self.next_piece()? {
            out.write_all(&piece).map_err(|source| ExportError::Io {
                path: "<output>".into(),
                source,
            })?;
            n += piece.len() as u64;
        }
        Ok(n)
    }
}
