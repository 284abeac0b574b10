//! Fixed-size chunking of a byte stream, as `--chunker size-N` does.
//!
//! A chunker only cuts; hashing happens in the importer so it can run on several cores.

use bytes::Bytes;
use std::io::{self, Read};

/// The default chunk size (256 KiB), Kubo's and the `unixfs-v0-2015` profile's.
pub const DEFAULT_CHUNK_SIZE: usize = 256 * 1024;
/// The largest chunk size accepted (Kubo's limit): larger blocks are not exchanged by peers.
pub const MAX_CHUNK_SIZE: usize = 2 * 1024 * 1024;

/// Cuts a reader into chunks of exactly `size` bytes (the last one may be shorter).
#[derive(Debug)]
pub struct FixedSize<R> {
    reader: R,
    size: usize,
    done: bool,
    emitted: bool,
    head: usize,
    tail: usize,
}

/// A chunk read into a buffer with free room before and after it, so a block format can
/// wrap it in place (see [`FixedSize::with_room`]).
#[derive(Debug)]
pub struct Chunk {
    /// The buffer: `head` free bytes, then the chunk, with capacity for the tail room.
    pub buf: Vec<u8>,
    /// Where the chunk starts in `buf`.
    pub head: usize,
}

impl Chunk {
    /// The chunk's bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.head..]
    }
}

impl<R: Read> FixedSize<R> {
    /// A chunker over `reader`; `size` must be between 1 and [`MAX_CHUNK_SIZE`].
    pub fn new(reader: R, size: usize) -> Self {
        Self::with_room(reader, size, 0, 0)
    }

    /// Like [`FixedSize::new`], reserving `head` bytes before and `tail` bytes after each
    /// chunk in its buffer ([`FixedSize::next_buf`]).
    pub fn with_room(reader: R, size: usize, head: usize, tail: usize) -> Self {
        FixedSize {
            reader,
            size: size.clamp(1, MAX_CHUNK_SIZE),
            done: false,
            emitted: false,
            head,
            tail,
        }
    }

    /// The next chunk, or `None` at the end. An empty input yields one empty chunk, because
    /// an empty file is still one (empty) leaf.
    pub fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        Ok(self.next_buf()?.map(|c| Bytes::from(c.buf).slice(c.head..)))
    }

    /// The next chunk in a buffer with the configured free room around it.
    pub fn next_buf(&mut self) -> io::Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(self.head + self.size + self.tail);
        buf.resize(self.head, 0);
        // `take` + `read_to_end` fills the buffer without zeroing it first.
        (&mut self.reader)
            .take(self.size as u64)
            .read_to_end(&mut buf)?;
        let filled = buf.len() - self.head;
        if filled < self.size {
            self.done = true;
            if filled == 0 && self.emitted {
                return Ok(None);
            }
        }
        self.emitted = true;
        Ok(Some(Chunk {
            buf,
            head: self.head,
        }))
    }
}

/// Parses a `--chunker` value: `size-N` (Kubo's syntax) or a bare number of bytes.
pub fn parse_chunker(spec: &str) -> Option<usize> {
    let n = spec
        .strip_prefix("size-")
        .unwrap_or(spec)
        .parse::<usize>()
        .ok()?;
    (1..=MAX_CHUNK_SIZE).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(len: usize, size: usize) -> Vec<usize> {
        let data = vec![7u8; len];
        let mut c = FixedSize::new(&data[..], size);
        let mut out = Vec::new();
        while let Some(chunk) = c.next_chunk().ok().flatten() {
            out.push(chunk.len());
        }
        out
    }

    #[test]
    fn cuts_exactly() {
        assert_eq!(sizes(0, 4), vec![0]);
        assert_eq!(sizes(3, 4), vec![3]);
        assert_eq!(sizes(4, 4), vec![4]);
        assert_eq!(sizes(5, 4), vec![4, 1]);
        assert_eq!(sizes(8, 4), vec![4, 4]);
    }

    #[test]
    fn chunker_syntax() {
        assert_eq!(parse_chunker("size-262144"), Some(262144));
        assert_eq!(parse_chunker("1024"), Some(1024));
        assert_eq!(parse_chunker("size-0"), None);
        assert_eq!(parse_chunker("rabin"), None);
        assert_eq!(parse_chunker("size-99999999"), None);
    }
}
