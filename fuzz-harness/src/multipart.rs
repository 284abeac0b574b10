//! Harness for `add` uploads: a multipart body parsed by the RPC API's extractor (axum's
//! `Multipart`), each part's path taken by `node::api::part_path`, and the parts imported
//! as a tree by `dag::import` (where paths are validated).

use crate::source::MapSource;
use axum::extract::{FromRequest, Multipart};
use dag::Version;
use dag::export::{self, FileReader};
use dag::import::{Importer, Params, TreeEntry};
use futures::executor::block_on;
use std::io::Cursor;

/// The boundary the body is sent with (seeds use it too).
pub const BOUNDARY: &str = "ipfsd-fuzz-boundary";
/// Most parts imported from one input.
const MAX_PARTS: usize = 256;
/// Longest symlink target `add` accepts.
const MAX_TARGET: usize = 4096;

/// What one part was, as `add` classifies parts by their `Content-Type`.
enum Kind {
    File,
    Dir,
    Symlink,
}

/// `flags ‖ body`: `body` is sent as `multipart/form-data; boundary=ipfsd-fuzz-boundary`
/// and, when it parses, imported with small chunks, links and HAMT threshold (from
/// `flags`) so that small inputs reach multi-block files and sharded directories.
/// Invariant: after a successful import every file part reads back, through its path, as
/// exactly the bytes uploaded, and every directory and symlink part resolves.
pub fn multipart_add(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let Some(parts) = read_parts(body) else {
        return;
    };
    let params = Params {
        cid_version: if flags & 1 == 0 {
            Version::V0
        } else {
            Version::V1
        },
        raw_leaves: flags & 2 != 0,
        chunk_size: 1 + usize::from((flags >> 2) & 7) * 9,
        max_links: 2 + usize::from((flags >> 5) & 1) * 2,
        hamt_threshold: if flags & 0x40 == 0 { 0 } else { 64 },
        hamt_fanout: 8,
        ..Params::default()
    };
    let wrap = flags & 0x80 != 0;
    let mut blocks = Vec::new();
    let mut entries = Vec::with_capacity(parts.len());
    for (path, kind, content) in &parts {
        entries.push(Ok(match kind {
            Kind::File => TreeEntry::File {
                path: path.clone(),
                reader: Cursor::new(content.clone()),
            },
            Kind::Dir => TreeEntry::Dir { path: path.clone() },
            Kind::Symlink => TreeEntry::Symlink {
                path: path.clone(),
                target: match String::from_utf8(content.clone()) {
                    Ok(t) if t.len() <= MAX_TARGET => t,
                    _ => return, // refused by `add` before the importer sees it
                },
            },
        }));
    }
    let roots = {
        let Ok(mut importer) = Importer::new(params, &mut blocks) else {
            panic!("harness parameters refused");
        };
        match importer.add_tree(entries, wrap) {
            Ok(roots) => roots,
            Err(_) => return,
        }
    };
    let store = MapSource(blocks.into_iter().map(|b| b.into_parts()).collect());
    for (path, kind, content) in &parts {
        if path.is_empty() {
            continue;
        }
        let (root, rest) = if wrap {
            (roots.last().map(|a| a.cid), path.as_str())
        } else {
            let (top, rest) = path.split_once('/').unwrap_or((path.as_str(), ""));
            (roots.iter().find(|a| a.path == top).map(|a| a.cid), rest)
        };
        let root = root.unwrap_or_else(|| panic!("no root reported for {path:?}"));
        let cid = export::resolve(&store, &root, rest)
            .unwrap_or_else(|e| panic!("{path:?} was added but does not resolve: {e}"));
        if let Kind::File = kind {
            let mut out = Vec::new();
            FileReader::open(&store, &cid, 0, None)
                .and_then(|r| r.copy_to(&mut out))
                .unwrap_or_else(|e| panic!("{path:?} was added but does not read: {e}"));
            assert!(out == *content, "{path:?} reads back different bytes");
        }
    }
}

/// The parts of a multipart body (path, kind, bytes), or `None` when `add` would refuse
/// the body as malformed.
fn read_parts(body: &[u8]) -> Option<Vec<(String, Kind, Vec<u8>)>> {
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v0/add")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(axum::body::Body::from(body.to_vec()))
        .ok()?;
    let mut mp = block_on(Multipart::from_request(request, &())).ok()?;
    let mut parts = Vec::new();
    while let Some(mut field) = block_on(mp.next_field()).ok()? {
        let path = node::api::part_path(field.file_name());
        let kind = match field.content_type() {
            Some("application/x-directory") => Kind::Dir,
            Some("application/symlink") => Kind::Symlink,
            _ => Kind::File,
        };
        let mut content = Vec::new();
        while let Some(chunk) = block_on(field.chunk()).ok()? {
            content.extend_from_slice(&chunk);
        }
        parts.push((path, kind, content));
        if parts.len() >= MAX_PARTS {
            break;
        }
    }
    Some(parts)
}
