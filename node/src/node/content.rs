//! Files in and out of a [`Node`]: [`Node::add`] (a stream of progress, then the roots),
//! [`Node::cat`] (a stream of bytes), [`Node::get`] (a tree written to disk) and
//! [`Node::ls`].
//!
//! Both streams are fed by a task on the blocking pool through a bounded channel (a few
//! pieces deep): a slow consumer slows the importer or exporter, a dropped stream stops
//! it, and an error midway arrives as the stream's last item, never as a short success.

use super::{Error, Event, Node};
use bytes::Bytes;
use dag::Cid;
use dag::export::{self, DirEntry, FileReader};
use dag::import::{Added, Importer, Params, TreeEntry};
use futures::{Stream, StreamExt};
use std::io::Read;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Pieces of content (each up to a block) queued ahead of a [`Content`] reader.
const CAT_DEPTH: usize = 8;
/// Events queued ahead of an [`AddStream`] reader.
const ADD_DEPTH: usize = 64;
/// Most directory entries [`Node::ls`] answers.
pub const MAX_LS_ENTRIES: usize = 1 << 20;

/// What [`Node::add`] imports.
pub enum AddInput {
    /// Bytes in memory, as a file named `name` ("" for none).
    Bytes {
        /// The content.
        data: Bytes,
        /// Its name (shown in events; a directory entry when wrapped).
        name: String,
    },
    /// A stream read to its end, as a file named `name`.
    Reader {
        /// The content.
        reader: Box<dyn Read + Send>,
        /// Its name.
        name: String,
    },
    /// A file, or a directory with everything below it, on the local disk.
    Path(PathBuf),
}

impl std::fmt::Debug for AddInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddInput::Bytes { data, name } => f
                .debug_struct("Bytes")
                .field("len", &data.len())
                .field("name", name)
                .finish(),
            AddInput::Reader { name, .. } => f.debug_struct("Reader").field("name", name).finish(),
            AddInput::Path(p) => f.debug_tuple("Path").field(p).finish(),
        }
    }
}

impl From<Bytes> for AddInput {
    fn from(data: Bytes) -> Self {
        AddInput::Bytes {
            data,
            name: String::new(),
        }
    }
}

impl From<Vec<u8>> for AddInput {
    fn from(data: Vec<u8>) -> Self {
        Bytes::from(data).into()
    }
}

impl From<&'static [u8]> for AddInput {
    fn from(data: &'static [u8]) -> Self {
        Bytes::from_static(data).into()
    }
}

impl From<PathBuf> for AddInput {
    fn from(path: PathBuf) -> Self {
        AddInput::Path(path)
    }
}

impl From<&Path> for AddInput {
    fn from(path: &Path) -> Self {
        AddInput::Path(path.to_path_buf())
    }
}

/// How [`Node::add`] imports (`ipfsd add`'s flags).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AddOptions {
    /// Chunker, layout, CID version, hash... (`None`: the node's `Import` config).
    pub params: Option<Params>,
    /// Pin the roots recursively (default true).
    pub pin: bool,
    /// Wrap the input in a directory (`-w`).
    pub wrap: bool,
    /// Only compute the CIDs; store nothing (`-n`).
    pub only_hash: bool,
    /// Report [`AddEvent::Progress`] as bytes are read.
    pub progress: bool,
}

impl Default for AddOptions {
    fn default() -> Self {
        AddOptions {
            params: None,
            pin: true,
            wrap: false,
            only_hash: false,
            progress: false,
        }
    }
}

impl AddOptions {
    /// Sets [`AddOptions::params`].
    pub fn params(mut self, params: Params) -> Self {
        self.params = Some(params);
        self
    }

    /// Sets [`AddOptions::pin`].
    pub fn pin(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Sets [`AddOptions::wrap`].
    pub fn wrap(mut self, wrap: bool) -> Self {
        self.wrap = wrap;
        self
    }

    /// Sets [`AddOptions::only_hash`].
    pub fn only_hash(mut self, only_hash: bool) -> Self {
        self.only_hash = only_hash;
        self
    }

    /// Sets [`AddOptions::progress`].
    pub fn progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }
}

/// One item of an [`AddStream`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddEvent {
    /// Content bytes read so far (with [`AddOptions::progress`]).
    Progress {
        /// The total.
        bytes: u64,
    },
    /// An entry is complete: files in walk order, then directories, the root last.
    /// Nothing is committed (or pinned) until the stream has ended without an error.
    Added(Added),
}

/// The progress of [`Node::add`]. Dropped before the end, the import commits and pins
/// nothing: bytes and readers stop at their next read, a local path is read to its end
/// and then discarded.
#[derive(Debug)]
pub struct AddStream {
    rx: mpsc::Receiver<Result<AddEvent, Error>>,
    ending: Ending,
}

/// Whether a stream's producer reached its end (set just before it stops sending): a
/// stream whose channel closes without it was cut off (the node stopped), and says so
/// with a last [`Error::Stopped`] instead of passing for complete.
#[derive(Debug, Default)]
struct Ending {
    done: Arc<AtomicBool>,
    reported: bool,
}

impl Ending {
    /// What the stream yields once its channel has closed.
    fn on_close<T>(&mut self) -> Option<Result<T, Error>> {
        if self.done.load(Ordering::Acquire) || self.reported {
            return None;
        }
        self.reported = true;
        Some(Err(Error::Stopped))
    }
}

/// Sends `item` from a blocking thread; gives up (`false`) when the reader is gone or the
/// node is cancelled, so a reader that holds a stream without reading it cannot keep the
/// producer alive past shutdown.
fn send<T: Send>(tx: &mpsc::Sender<T>, item: T, cancel: &CancellationToken) -> bool {
    tokio::runtime::Handle::current().block_on(async {
        tokio::select! {
            sent = tx.send(item) => sent.is_ok(),
            () = cancel.cancelled() => false,
        }
    })
}

impl AddStream {
    /// Waits for the import to end and answers the root: the last entry added.
    pub async fn root(mut self) -> Result<Added, Error> {
        let mut last = None;
        while let Some(item) = self.next().await {
            if let AddEvent::Added(a) = item? {
                last = Some(a);
            }
        }
        last.ok_or(Error::Stopped)
    }
}

impl Stream for AddStream {
    type Item = Result<AddEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(None) => Poll::Ready(self.ending.on_close()),
            other => other,
        }
    }
}

/// The bytes of a file from [`Node::cat`], piece by piece.
#[derive(Debug)]
pub struct Content {
    cid: Cid,
    size: u64,
    len: u64,
    rx: mpsc::Receiver<Result<Bytes, Error>>,
    ending: Ending,
}

impl Content {
    /// The file's CID.
    pub fn cid(&self) -> Cid {
        self.cid
    }

    /// The file's whole size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How many bytes this stream carries (the range asked for, within the file).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the stream carries no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the rest into one buffer (the caller accepts holding it all).
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0).min(64 << 20));
        while let Some(piece) = self.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out.into())
    }
}

impl Stream for Content {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(None) => Poll::Ready(self.ending.on_close()),
            other => other,
        }
    }
}

/// A reader that fails once the node is cancelled or the add stream is dropped, so the
/// import stops instead of running to the end of a long input.
struct Stoppable<R> {
    inner: R,
    cancel: CancellationToken,
    tx: mpsc::Sender<Result<AddEvent, Error>>,
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() || self.tx.is_closed() {
            return Err(std::io::Error::other("add cancelled"));
        }
        self.inner.read(buf)
    }
}

/// `range` as an offset and an optional length.
fn offset_length(range: &impl RangeBounds<u64>) -> (u64, Option<u64>) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => Some(e.saturating_add(1)),
        Bound::Excluded(&e) => Some(e),
        Bound::Unbounded => None,
    };
    (start, end.map(|e| e.saturating_sub(start)))
}

impl Node {
    /// Imports `input` (bytes, a reader, or a local file or directory) as UnixFS. The
    /// stream reports progress and each entry; once it ends without an error the blocks
    /// are committed, the roots pinned (unless [`AddOptions::pin`] is false) and
    /// announced per `Provide.Strategy`. [`AddStream::root`] waits for the root.
    ///
    /// ```no_run
    /// # async fn demo(node: node::Node) -> Result<(), node::Error> {
    /// let added = node.add(b"hello\n".to_vec(), Default::default()).root().await?;
    /// println!("added {}", added.cid);
    /// # Ok(()) }
    /// ```
    pub fn add(&self, input: impl Into<AddInput>, options: AddOptions) -> AddStream {
        let (tx, rx) = mpsc::channel(ADD_DEPTH);
        let node = self.clone();
        let input = input.into();
        let ending = Ending::default();
        let done = ending.done.clone();
        self.inner.tasks.spawn_blocking(move || {
            let out = tx.clone();
            let cancel = node.inner.cancel.clone();
            match node.import(input, options, tx) {
                Ok(()) => done.store(true, Ordering::Release),
                // The error is the stream's end, when it could be delivered.
                Err(e) => done.store(send(&out, Err(e), &cancel), Ordering::Release),
            }
        });
        AddStream { rx, ending }
    }

    /// The import behind [`Node::add`], on a blocking thread.
    fn import(
        &self,
        input: AddInput,
        options: AddOptions,
        tx: mpsc::Sender<Result<AddEvent, Error>>,
    ) -> Result<(), Error> {
        let params = options
            .params
            .unwrap_or_else(|| self.settings().import.clone());
        let cancel = self.inner.cancel.clone();
        let cancel_events = cancel.clone();
        let events = tx.clone();
        let progress = options.progress;
        let mut on_event = |e: dag::import::Event<'_>| {
            let item = match e {
                dag::import::Event::Progress { bytes } if progress => AddEvent::Progress { bytes },
                dag::import::Event::Progress { .. } => return,
                dag::import::Event::Added(a) => AddEvent::Added(a.clone()),
            };
            // A dropped stream is noticed by the reader (or before the commit).
            send(&events, Ok(item), &cancel_events);
        };
        let stoppable = |reader: Box<dyn Read + Send>| Stoppable {
            inner: reader,
            cancel: cancel.clone(),
            tx: tx.clone(),
        };
        let roots = if options.only_hash {
            let mut discard = dag::import::Discard::default();
            let mut importer = Importer::new(params, &mut discard)?.on_event(&mut on_event);
            add_input(&mut importer, input, options.wrap, &stoppable)?
        } else {
            let store = self.store().clone();
            let mut writer = store.writer()?;
            let roots = {
                let mut importer = Importer::new(params, &mut writer)?.on_event(&mut on_event);
                add_input(&mut importer, input, options.wrap, &stoppable)?
            };
            if cancel.is_cancelled() {
                return Err(Error::Stopped);
            }
            if tx.is_closed() {
                return Ok(()); // the caller went away: nothing is committed
            }
            crate::ops::finish_add(writer, &roots, options.pin)?;
            self.announce(roots.iter().map(|a| a.cid).collect(), options.pin);
            roots
        };
        if let Some(root) = roots.last() {
            self.emit(Event::Added { root: root.cid });
            if options.pin && !options.only_hash {
                self.emit(Event::Pinned { root: root.cid });
            }
        }
        Ok(())
    }

    /// Streams the bytes of the file at `path` (`/ipfs/…`, `/ipns/…` or a CID, with a
    /// path below) within `range` (`..` for all). Blocks the store lacks are fetched
    /// from peers as they are needed, and the rest of the file is prefetched meanwhile.
    /// Fails before the first byte when the path does not resolve to a file.
    pub async fn cat(&self, path: &str, range: impl RangeBounds<u64>) -> Result<Content, Error> {
        let target = self.ipfs_path(path).await?;
        let (offset, length) = offset_length(&range);
        let source = self.source();
        let cancel = self.inner.cancel.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (tx, rx) = mpsc::channel(CAT_DEPTH);
        let ending = Ending::default();
        let done = ending.done.clone();
        self.inner.tasks.spawn_blocking(move || {
            let opened = crate::path::resolve(&source, &target)
                .map_err(Error::from)
                .and_then(|cid| {
                    let reader = FileReader::open(&source, &cid, offset, length)?;
                    source.prefetch(cid);
                    Ok((cid, reader))
                });
            let mut reader = match opened {
                Ok((cid, reader)) => {
                    if ready_tx
                        .send(Ok((cid, reader.size(), reader.remaining())))
                        .is_err()
                    {
                        return;
                    }
                    reader
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            loop {
                let item = match reader.next_piece() {
                    Ok(Some(piece)) => Ok(piece),
                    Ok(None) => {
                        done.store(true, Ordering::Release);
                        return;
                    }
                    Err(_) if cancel.is_cancelled() => return,
                    Err(e) => Err(e.into()),
                };
                let failed = item.is_err();
                if !send(&tx, item, &cancel) {
                    return;
                }
                if failed {
                    // The error is the stream's last item.
                    done.store(true, Ordering::Release);
                    return;
                }
            }
        });
        let (cid, size, len) = ready_rx.await.map_err(|_| Error::Stopped)??;
        Ok(Content {
            cid,
            size,
            len,
            rx,
            ending,
        })
    }

    /// Writes the file, directory tree or symlink at `path` to `dest` on the local disk
    /// (fetching what the store lacks). Never writes outside `dest`.
    pub async fn get(&self, path: &str, dest: impl Into<PathBuf>) -> Result<Cid, Error> {
        let target = self.ipfs_path(path).await?;
        let dest = dest.into();
        let source = self.source();
        self.blocking(move || {
            let cid = crate::path::resolve(&source, &target)?;
            source.prefetch(cid);
            export::write_tree(&source, &cid, &dest)?;
            Ok(cid)
        })
        .await
    }

    /// The entries of the directory at `path`, in name order (at most
    /// [`MAX_LS_ENTRIES`]; more is an error).
    pub async fn ls(&self, path: &str) -> Result<Vec<DirEntry>, Error> {
        let target = self.ipfs_path(path).await?;
        let source = self.source();
        self.blocking(move || {
            let cid = crate::path::resolve(&source, &target)?;
            let (entries, truncated) = export::list_limited(&source, &cid, MAX_LS_ENTRIES)?;
            if truncated {
                return Err(Error::Invalid(format!(
                    "{target} has more than {MAX_LS_ENTRIES} entries"
                )));
            }
            Ok(entries)
        })
        .await
    }
}

/// Feeds one [`AddInput`] to `importer`.
fn add_input<S: dag::import::Sink>(
    importer: &mut Importer<'_, S>,
    input: AddInput,
    wrap: bool,
    stoppable: &dyn Fn(Box<dyn Read + Send>) -> Stoppable<Box<dyn Read + Send>>,
) -> Result<Vec<Added>, dag::import::ImportError> {
    let file = |name: String, reader: Box<dyn Read + Send>| {
        let path = if name.is_empty() {
            "file".to_string()
        } else {
            name
        };
        std::iter::once(Ok(TreeEntry::File {
            path,
            reader: stoppable(reader),
        }))
    };
    match input {
        AddInput::Path(path) => {
            if wrap {
                importer.add_paths(&[path], true, true)
            } else {
                Ok(vec![importer.add_path(&path, true)?])
            }
        }
        AddInput::Bytes { data, name } => {
            let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(data));
            if wrap {
                importer.add_tree(file(name, reader), true)
            } else {
                Ok(vec![importer.add_reader(stoppable(reader), &name)?])
            }
        }
        AddInput::Reader { reader, name } => {
            if wrap {
                importer.add_tree(file(name, reader), true)
            } else {
                Ok(vec![importer.add_reader(stoppable(reader), &name)?])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::offset_length;

    #[test]
    fn ranges() {
        assert_eq!(offset_length(&(..)), (0, None));
        assert_eq!(offset_length(&(5..)), (5, None));
        assert_eq!(offset_length(&(5..10)), (5, Some(5)));
        assert_eq!(offset_length(&(5..=10)), (5, Some(6)));
        assert_eq!(offset_length(&(..10)), (0, Some(10)));
        let (start, end) = (10, 5);
        assert_eq!(offset_length(&(start..end)), (10, Some(0)));
    }
}
