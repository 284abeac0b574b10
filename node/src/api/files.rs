//! File commands: add (multipart upload), cat, get (tar), ls, refs.

use super::{ApiError, ApiState, Args, Sink, SinkWriter, blocking, stream_body};
use crate::content::Source;
use crate::path;
use axum::extract::multipart::Field;
use axum::extract::{Multipart, State};
use axum::response::Response;
use bytes::Bytes;
use dag::export::{self, FileReader, Kind};
use dag::import::{Event, Importer, Profile, TreeEntry};
use dag::{Cid, Version};
use serde_json::json;
use std::collections::VecDeque;
use std::io::Read;
use tokio::sync::mpsc;

/// Chunks of one uploaded file in flight between the request and the importer.
const CHUNK_DEPTH: usize = 64;

/// A sync `Read` over chunks sent from an async task (a multipart field being received).
pub(crate) struct ChanReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    cur: Bytes,
}

impl ChanReader {
    fn new(rx: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Self {
        ChanReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for ChanReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

use super::upload::malformed;

/// Pumps a field's bytes into `tx`; a transport error reaches the reader as an I/O error,
/// so a truncated upload never imports as a shorter file.
async fn pump(
    field: &mut Field<'_>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), ApiError> {
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if tx.send(Ok(chunk)).await.is_err() {
                    // The consumer stopped (it reports why); the rest is read and dropped.
                    return Ok(());
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => {
                let _ = tx
                    .send(Err(std::io::Error::other(format!("upload failed: {e}"))))
                    .await;
                return Err(malformed(e));
            }
        }
    }
}

/// One multipart part as the importer sees it.
enum Part {
    File {
        path: String,
        rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    },
    Dir {
        path: String,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// The path of a part from its `filename` (none: ""), percent-decoded as Kubo's clients
/// encode it, leading '/' dropped. The importer checks what is left.
pub fn part_path(file_name: Option<&str>) -> String {
    let raw = file_name.unwrap_or("");
    let decoded: String =
        form_urlencoded::parse(format!("p={}", raw.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    decoded.trim_start_matches('/').to_string()
}

/// Import parameters from the request's flags, on top of the config's defaults.
fn import_params(s: &ApiState, args: &Args) -> Result<dag::import::Params, ApiError> {
    let profile = args.get("profile");
    let mut p = match profile {
        Some(name) => Profile::from_name(name)
            .ok_or_else(|| ApiError::bad_request(format!("unknown profile {name:?}")))?
            .params(),
        // Parsed once, when the config loaded.
        None => s.node.settings().import.clone(),
    };
    if let Some(v) = args.number("cid-version")? {
        p.cid_version = match v {
            0 => Version::V0,
            1 => Version::V1,
            _ => return Err(ApiError::bad_request("cid-version must be 0 or 1")),
        };
        if args.get("raw-leaves").is_none() {
            p.raw_leaves = v == 1;
        }
    }
    if args.get("raw-leaves").is_some() {
        p.raw_leaves = args.flag("raw-leaves", false)?;
    }
    if let Some(c) = args.get("chunker") {
        p.chunk_size = dag::chunker::parse_chunker(c).ok_or_else(|| {
            ApiError::bad_request(format!("invalid chunker {c:?}: expected size-N"))
        })?;
    }
    if let Some(name) = args.get("hash") {
        let hash =
            dag::HashFn::from_name(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
        // Raw leaves chosen by the flag or by the config (not by the version default).
        let raw_leaves_set = args.get("raw-leaves").is_some()
            || (profile.is_none() && s.node.config().import.raw_leaves.is_some());
        p.set_hash(hash, args.get("cid-version").is_some(), raw_leaves_set)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    Ok(p)
}

/// Sends events to the client without ever blocking the importer on a client that is
/// still uploading: what does not fit in the stream waits in a backlog, bounded by the
/// number of entries in the upload.
struct Events<'a> {
    sink: &'a Sink,
    backlog: VecDeque<serde_json::Value>,
}

impl Events<'_> {
    fn push(&mut self, v: serde_json::Value) {
        self.backlog.push_back(v);
        while let Some(front) = self.backlog.pop_front() {
            match self.sink.try_json(front) {
                Ok(None) => {}
                Ok(Some(back)) => {
                    self.backlog.push_front(back);
                    return;
                }
                Err(super::Gone) => return,
            }
        }
    }
}

pub(crate) async fn add(
    State(s): State<ApiState>,
    args: Args,
    mut mp: Multipart,
) -> Result<Response, ApiError> {
    let params = import_params(&s, &args)?;
    let only_hash = args.flag("only-hash", false)?;
    let pin = args.flag("pin", true)?;
    let wrap = args.flag("wrap-with-directory", false)?;
    let progress = args.flag("progress", false)?;
    let quieter = args.flag("quieter", false)?;
    let (entry_tx, mut entry_rx) = mpsc::channel::<Part>(1);
    // Set once the whole body was read; checked before anything is committed or pinned.
    let complete = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let completed = complete.clone();

    // The request side: parts go to the importer one by one, file bytes as they arrive.
    let reader = tokio::spawn(async move {
        while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
            let path = part_path(field.file_name());
            let ctype = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            let part = match ctype.as_str() {
                "application/x-directory" => Part::Dir { path },
                "application/symlink" => {
                    let mut target = Vec::new();
                    while let Some(c) = field.chunk().await.map_err(malformed)? {
                        target.extend_from_slice(&c);
                        if target.len() > 4096 {
                            return Err(ApiError::bad_request("symlink target too long"));
                        }
                    }
                    let target = String::from_utf8(target)
                        .map_err(|_| ApiError::bad_request("symlink target is not UTF-8"))?;
                    Part::Symlink { path, target }
                }
                _ => {
                    let (tx, rx) = mpsc::channel(CHUNK_DEPTH);
                    if entry_tx.send(Part::File { path, rx }).await.is_err() {
                        drop(field);
                        super::upload::drain(&mut mp).await;
                        return Ok(());
                    }
                    pump(&mut field, tx).await?;
                    continue;
                }
            };
            if entry_tx.send(part).await.is_err() {
                // The import failed (it reports why): read the rest so the client hears it.
                drop(field);
                super::upload::drain(&mut mp).await;
                return Ok(());
            }
        }
        // Before the entries end (entry_tx drops with this task), so the importer sees it.
        completed.store(true, std::sync::atomic::Ordering::Release);
        Ok::<(), ApiError>(())
    });

    let store = s.node.store().clone();
    let announce_to = s.clone();
    let (sink, rx) = super::stream_channel();
    let import = tokio::task::spawn_blocking(move || {
        let mut events = Events {
            sink: &sink,
            backlog: VecDeque::new(),
        };
        let mut on_event = |e: Event<'_>| match e {
            Event::Progress { bytes } if progress => {
                events.push(json!({ "Name": "", "Bytes": bytes }))
            }
            Event::Progress { .. } => {}
            Event::Added(a) if !quieter => {
                let name = if a.path.is_empty() {
                    a.cid.to_string()
                } else {
                    a.path.clone()
                };
                events.push(
                    json!({ "Name": name, "Hash": a.cid.to_string(), "Size": a.tsize.to_string() }),
                );
            }
            Event::Added(_) => {}
        };
        let entries = std::iter::from_fn(|| {
            entry_rx.blocking_recv().map(|part| {
                Ok(match part {
                    Part::File { path, rx } => TreeEntry::File {
                        path,
                        reader: ChanReader::new(rx),
                    },
                    Part::Dir { path } => TreeEntry::Dir { path },
                    Part::Symlink { path, target } => TreeEntry::Symlink { path, target },
                })
            })
        });
        let roots = if only_hash {
            let mut discard = dag::import::Discard::default();
            Importer::new(params, &mut discard)?
                .on_event(&mut on_event)
                .add_tree(entries, wrap)?
        } else {
            let mut writer = store.writer()?;
            let roots = Importer::new(params, &mut writer)?
                .on_event(&mut on_event)
                .add_tree(entries, wrap)?;
            // A body cut between two parts ends the entries early: the partial tree must
            // not be committed or pinned (the reader's error is what the client gets).
            if !complete.load(std::sync::atomic::Ordering::Acquire) {
                return Err(ApiError::bad_request("the upload is incomplete"));
            }
            crate::ops::finish_add(writer, &roots, pin)?;
            announce_to
                .node
                .announce(roots.iter().map(|a| a.cid).collect(), pin);
            roots
        };
        if quieter && let Some(last) = roots.last() {
            let name = if last.path.is_empty() {
                last.cid.to_string()
            } else {
                last.path.clone()
            };
            events.push(json!({ "Name": name, "Hash": last.cid.to_string(), "Size": last.tsize.to_string() }));
        }
        Ok::<_, ApiError>(events.backlog)
    });

    // The answer starts only once the whole upload was read and imported: a malformed or
    // truncated body or a failed import gets its own status (400 or 500) and nothing is
    // pinned or reported. Meanwhile the importer's events wait, partly in the stream's
    // buffer and the rest in its backlog (bounded by the entries uploaded), so the
    // importer is never blocked by a client that is still sending.
    let uploaded = reader.await;
    let imported = import.await;
    uploaded??;
    let backlog = imported??;
    Ok(super::stream_finished("application/json", rx, backlog))
}

pub(crate) async fn cat(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let paths = s.ipfs_paths(args.required_owned("ipfs-path")?).await?;
    let offset = args.number("offset")?.unwrap_or(0);
    let length = args.number("length")?;
    let src = s.source();
    let source = src.clone();
    // Resolve (and check every path is a file) before the stream starts, so errors get a
    // proper status.
    let cids = blocking(move || {
        paths
            .iter()
            .map(|p| {
                let cid = path::resolve(&source, p)?;
                FileReader::open(&source, &cid, 0, Some(0))?;
                source.prefetch(cid);
                Ok(cid)
            })
            .collect::<Result<Vec<Cid>, ApiError>>()
    })
    .await?;
    Ok(stream_body("text/plain", move |sink| {
        let (mut offset, mut length) = (offset, length);
        for cid in &cids {
            let mut reader = FileReader::open(&src, cid, offset, length)?;
            offset = offset.saturating_sub(reader.size());
            if let Some(l) = length.as_mut() {
                *l -= reader.remaining();
            }
            while let Some(piece) = reader.next_piece()? {
                sink.bytes(piece)?;
            }
        }
        Ok(())
    }))
}

/// `Read` over a [`FileReader`], for the tar writer.
struct PieceReader<'s> {
    inner: FileReader<'s, Source>,
    cur: Bytes,
}

impl Read for PieceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.inner.next_piece() {
                Ok(Some(p)) => self.cur = p,
                Ok(None) => return Ok(0),
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

fn invalid(cid: &Cid, reason: &'static str) -> ApiError {
    export::ExportError::Invalid { cid: *cid, reason }.into()
}

/// Writes the UnixFS tree at `cid` as tar entries under `name`, walked iteratively by
/// [`export::walk_tree`] (its name checks and depth limit are those of `get` offline).
fn tar_tree<W: std::io::Write>(
    store: &Source,
    tar: &mut tar::Builder<W>,
    cid: &Cid,
    name: &str,
) -> Result<(), ApiError> {
    let io = |e: std::io::Error| {
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    };
    for node in export::walk_tree(store, cid) {
        let node = node?;
        let cid = &node.cid;
        let path = if node.path.is_empty() {
            name.to_string()
        } else {
            format!("{name}/{}", node.path)
        };
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        match node.entry.kind() {
            Kind::File => {
                let reader = FileReader::open(store, cid, 0, None)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(reader.size());
                header.set_mode(0o644);
                tar.append_data(
                    &mut header,
                    &path,
                    PieceReader {
                        inner: reader,
                        cur: Bytes::new(),
                    },
                )
                .map_err(io)?;
            }
            Kind::Directory => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(0o755);
                tar.append_data(&mut header, &path, std::io::empty())
                    .map_err(io)?;
            }
            Kind::Symlink => {
                let export::Entry::Pb(_, Some(d)) = &node.entry else {
                    return Err(invalid(cid, "symlink without data"));
                };
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_mode(0o777);
                tar.append_link(
                    &mut header,
                    &path,
                    String::from_utf8_lossy(&d.data).as_ref(),
                )
                .map_err(io)?;
            }
            Kind::Other => return Err(invalid(cid, "not a UnixFS file or directory")),
        }
    }
    Ok(())
}

pub(crate) async fn get(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let asked = args.first("ipfs-path")?.to_string();
    let p = s.ipfs_path(asked.clone()).await?;
    let src = s.source();
    let source = src.clone();
    let (cid, name) = blocking(move || {
        let cid = path::resolve(&source, &p)?;
        source.prefetch(cid);
        let name = path::download_name(&asked).map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok((cid, name))
    })
    .await?;
    Ok(stream_body("application/x-tar", move |sink| {
        let mut tar = tar::Builder::new(SinkWriter::new(sink, 1 << 20));
        tar.follow_symlinks(false);
        tar_tree(&src, &mut tar, &cid, &name)?;
        let mut w = tar.into_inner().map_err(|_| super::Gone)?;
        std::io::Write::flush(&mut w).map_err(|_| super::Gone)?;
        Ok(())
    }))
}

/// `ls`: the entries of each path's directory, streamed as they are walked (a HAMT from a
/// peer may hold millions of entries: nothing here holds more than one shard per level).
/// Without `stream` the answer is Kubo's one `{"Objects":[{"Hash","Links":[..]}]}`
/// document, written entry by entry; with `stream=true` (Kubo's `ls --stream`) it is one
/// such object per entry and line. Entries come in the directory's own order (a HAMT's is
/// its hash order, as in Kubo). An error before the first byte is an ordinary error
/// response; one after it fails the stream (see [`super::stream`]).
pub(crate) async fn ls(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let asked = args.required_owned("ipfs-path")?;
    let streamed = args.flag("stream", false)?;
    let paths = s.ipfs_paths(asked.clone()).await?;
    let src = s.source();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let resp = stream_body("application/json", move |sink| {
        let mut out = LsWriter {
            out: SinkWriter::new(sink, 64 << 10),
            started: Some(started_tx),
            streamed,
        };
        let result = ls_all(&src, &asked, &paths, &mut out);
        match (result, out.started.take()) {
            // Failed before the first byte: the handler answers with the error itself.
            (Err(e), Some(started)) => started.send(Err(e)).map_err(|_| super::Gone.into()),
            (result, _) => result,
        }
    });
    match started.await {
        Ok(Err(e)) => Err(e),
        _ => Ok(resp),
    }
}

/// Writes `ls`'s answer: see [`ls`].
struct LsWriter<'a> {
    out: SinkWriter<'a>,
    /// Told (`Ok`) when the first byte is about to go out.
    started: Option<tokio::sync::oneshot::Sender<Result<(), ApiError>>>,
    streamed: bool,
}

impl LsWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        if let Some(started) = self.started.take() {
            let _ = started.send(Ok(()));
        }
        std::io::Write::write_all(&mut self.out, bytes).map_err(|_| super::Gone.into())
    }

    fn json(&mut self, v: &serde_json::Value) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec(v).unwrap_or_default();
        self.write(&bytes)
    }
}

fn ls_all(
    src: &Source,
    asked: &[String],
    paths: &[String],
    out: &mut LsWriter<'_>,
) -> Result<(), ApiError> {
    for (i, (p, hash)) in paths.iter().zip(asked).enumerate() {
        let cid = path::resolve(src, p)?;
        let mut entries = match export::load(src, &cid)?.kind() {
            Kind::Directory => Some(export::entries(src, &cid)?),
            _ => None,
        };
        if out.streamed {
            let Some(entries) = entries else {
                out.json(&json!({ "Objects": [{ "Hash": hash, "Links": [] }] }))?;
                out.write(b"\n")?;
                continue;
            };
            for e in entries {
                let link = ls_link(src, e?)?;
                out.json(&json!({ "Objects": [{ "Hash": hash, "Links": [link] }] }))?;
                out.write(b"\n")?;
            }
            continue;
        }
        // The first entry is read before anything of this object is written, so an
        // invalid directory fails before the first byte whenever it is the only one.
        let first = entries.as_mut().and_then(Iterator::next).transpose()?;
        out.write(if i == 0 { b"{\"Objects\":[" } else { b"," })?;
        out.write(b"{\"Hash\":")?;
        out.json(&json!(hash))?;
        out.write(b",\"Links\":[")?;
        if let Some(first) = first {
            out.json(&ls_link(src, first)?)?;
            for e in entries.into_iter().flatten() {
                out.write(b",")?;
                out.json(&ls_link(src, e?)?)?;
            }
        }
        out.write(b"]}")?;
    }
    if !out.streamed {
        out.write(b"]}\n")?;
    }
    std::io::Write::flush(&mut out.out).map_err(|_| super::Gone.into())
}

/// One entry as `ls` shows it (its type and size read from its own block).
fn ls_link(src: &Source, e: export::DirEntry) -> Result<serde_json::Value, ApiError> {
    let child = export::load(src, &e.cid)?;
    let (ty, size) = match child.kind() {
        Kind::Directory => (1, 0),
        Kind::Symlink => (4, child.filesize()),
        _ => (2, child.filesize()),
    };
    Ok(json!({ "Name": e.name, "Hash": e.cid.to_string(), "Size": size, "Type": ty, "Target": "" }))
}

pub(crate) async fn refs(State(s): State<ApiState>, args: Args) -> Result<Response, ApiError> {
    let paths = s.ipfs_paths(args.required_owned("ipfs-path")?).await?;
    let recursive = args.flag("recursive", false)?;
    let unique = args.flag("unique", false)?;
    let src = s.source();
    let source = src.clone();
    let roots = blocking(move || {
        paths
            .iter()
            .map(|p| Ok(path::resolve(&source, p)?))
            .collect::<Result<Vec<Cid>, ApiError>>()
    })
    .await?;
    Ok(stream_body("application/json", move |sink| {
        let mut seen = std::collections::HashSet::new();
        for root in roots {
            crate::ops::walk_refs(&src, root, recursive, unique, &mut seen, |cid| {
                let mut line = json!({ "Ref": cid.to_string(), "Err": "" });
                // A block whose links ipfsd cannot follow ends the walk there: say so (an
                // extra field Kubo's clients ignore).
                if recursive && !dag::Codec::of(cid).follows_links() {
                    line["Unfollowed"] = json!(true);
                }
                sink.json(&line)
            })
            .map_err(|e| match e {
                crate::ops::RefsError::Export(e) => ApiError::from(e),
                crate::ops::RefsError::Callback(gone) => ApiError::from(gone),
            })?;
        }
        Ok(())
    }))
}

pub(crate) async fn refs_local(State(s): State<ApiState>) -> Result<Response, ApiError> {
    Ok(stream_body("application/json", move |sink| {
        for cid in s.node.store().all_cids()? {
            sink.json(&json!({ "Ref": cid?.to_string(), "Err": "" }))?;
        }
        Ok(())
    }))
}
