//! Response bodies streamed by a producer on the pool of work that may wait (module
//! `pool`) into a bounded channel
//! (a slow client slows the reader; a failure after the first byte breaks the connection
//! off), and the `ETag` of a CAR.

use super::request::{ContentPath, Params};
use super::{GatewayError, On};
use crate::api::{Sink, SinkWriter, body_of, stream_channel};
use crate::content::Source;
use axum::body::Body;
use dag::Cid;
use dag::export::FileReader;
use dag::scope::{self, Resolved};
use tokio::sync::OwnedSemaphorePermit;

/// Bytes per chunk of a streamed CAR.
const CAR_CHUNK: usize = 256 << 10;

/// Streams `len` bytes of the file `cid` from `start`.
/// (On the pool of work that may wait: a block may have to come from the network, and
/// the client sets the pace.)
pub(super) fn stream_file(
    src: Source,
    turn: OwnedSemaphorePermit,
    cid: Cid,
    start: u64,
    len: u64,
) -> Result<Body, GatewayError> {
    let (sink, rx) = stream_channel();
    On::Thread.run(move || {
        let _turn = turn;
        if let Err(e) = copy_file(&src, &sink, &cid, start, len) {
            tracing::debug!(%cid, error = %e, "gateway stream broken off");
            sink.fail(e.to_string());
        }
    })?;
    Ok(body_of(rx))
}

fn copy_file(src: &Source, sink: &Sink, cid: &Cid, start: u64, len: u64) -> Result<(), String> {
    let mut reader = FileReader::open(src, cid, start, Some(len)).map_err(|e| e.to_string())?;
    while let Some(piece) = reader.next_piece().map_err(|e| e.to_string())? {
        sink.bytes(piece).map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub(super) fn stream_car(
    src: Source,
    turn: OwnedSemaphorePermit,
    root: Cid,
    resolved: Resolved,
    params: &Params,
) -> Result<Body, GatewayError> {
    let (sink, rx) = stream_channel();
    let (scope, bytes) = (params.scope, params.entity_bytes);
    On::Thread.run(move || {
        let _turn = turn;
        let out = SinkWriter::new(&sink, CAR_CHUNK);
        if let Err(e) = scope::write_car(&src, &[root], &resolved, scope, bytes, out) {
            tracing::debug!(%root, error = %e, "gateway CAR broken off");
            sink.fail(e.to_string());
        }
    })?;
    Ok(body_of(rx))
}

/// A CAR's `Etag`: the path's end, plus what selected the blocks.
pub(super) fn car_etag(content: &ContentPath, resolved: &Resolved, params: &Params) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(content.root.to_bytes());
    h.update(content.inner().as_bytes());
    h.update(params.scope.as_str().as_bytes());
    if let Some(b) = params.entity_bytes {
        h.update(format!("{}:{:?}", b.from, b.to).as_bytes());
    }
    let digest = h.finalize();
    format!("\"{}.car.{}\"", resolved.cid, hex(&digest[..8]))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
