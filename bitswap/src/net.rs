//! Per-stream work: the task accepting inbound BitSwap streams, one reader task per
//! inbound stream (frames → checked messages → engine), and one writer task per peer
//! (engine → frames on our long-lived outbound streams: one, plus more while blocks queue
//! up behind it, see [`MAX_LANES`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dag::Cid;
use futures::io::BufReader;
use libp2p::{PeerId, Stream, StreamProtocol};
use libp2p_stream::{Control, OpenStreamError};

use tokio::sync::mpsc;

use crate::protocol::{self, Inbound, Outbound, ProtocolError, Version};

/// Inbound streams read at once, all peers together (more are dropped).
const MAX_READERS: usize = 1024;
/// An inbound stream idle this long is dropped (peers reopen when they need to).
const READ_IDLE: Duration = Duration::from_secs(300);
/// Opening our outbound stream (per protocol tried).
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Writing one frame.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// What stream tasks report to the engine.
#[derive(Debug)]
pub(crate) enum Event {
    Message {
        peer: PeerId,
        /// The dialect of the stream it came on.
        version: Version,
        msg: Inbound,
    },
    Misbehaved {
        peer: PeerId,
        error: ProtocolError,
    },
    WriterReady {
        peer: PeerId,
        version: Version,
    },
    WriterFailed {
        peer: PeerId,
        unsupported: bool,
    },
    /// A lane finished a message: the blocks written, and those it left out because the
    /// peer cancelled them meanwhile (see [`Revoked`]), each with its size.
    Sent {
        peer: PeerId,
        /// The dialect of the stream that wrote it.
        version: Version,
        sent: Vec<(Cid, u64)>,
        dropped: Vec<(Cid, u64)>,
    },
    LedgerStream {
        peer: PeerId,
        stream: Stream,
    },
}

/// Drains the inbound queue: BitSwap streams get a reader each (a bounded number), ledger
/// streams go to the engine.
pub(crate) fn spawn_acceptor(
    tasks: &tokio_util::task::TaskTracker,
    mut incoming: crate::inbound::IncomingStreams,
    events: mpsc::Sender<Event>,
) -> tokio::task::JoinHandle<()> {
    let readers = Arc::new(AtomicUsize::new(0));
    let spawner = tasks.clone();
    tasks.spawn(async move {
        while let Some((peer, stream, proto)) = incoming.0.recv().await {
            if proto == crate::exchange::PROTOCOL {
                if events
                    .send(Event::LedgerStream { peer, stream })
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            if readers.load(Ordering::Relaxed) >= MAX_READERS {
                tracing::debug!(%peer, "too many bitswap readers; stream dropped");
                continue;
            }
            readers.fetch_add(1, Ordering::Relaxed);
            let readers = readers.clone();
            let events = events.clone();
            spawner.spawn(async move {
                read_stream(peer, stream, proto, events).await;
                readers.fetch_sub(1, Ordering::Relaxed);
            });
        }
    })
}

async fn read_stream(
    peer: PeerId,
    stream: Stream,
    proto: StreamProtocol,
    events: mpsc::Sender<Event>,
) {
    let version = Version::of(&proto);
    let mut reader = BufReader::with_capacity(64 << 10, stream);
    let mut buf = Vec::new();
    loop {
        let msg =
            match tokio::time::timeout(READ_IDLE, protocol::read_message(&mut reader, &mut buf))
                .await
            {
                Err(_) | Ok(Ok(None)) => return,
                Ok(Ok(Some(m))) => m,
                Ok(Err(ProtocolError::Io(e))) => {
                    tracing::trace!(%peer, error = %e, "bitswap stream ended");
                    return;
                }
                Ok(Err(error)) => {
                    let _ = events.send(Event::Misbehaved { peer, error }).await;
                    return;
                }
            };
        match Inbound::check(msg) {
            Ok(msg) => {
                if events
                    .send(Event::Message { peer, version, msg })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(error) => {
                let _ = events.send(Event::Misbehaved { peer, error }).await;
                return;
            }
        }
    }
}

/// Streams that carry one peer's blocks at most. A stream moves at most its receive window
/// per round trip (1 MiB with ipfsd's yamux settings, see `node`'s `YAMUX_MAX_STREAMS`),
/// which caps one stream at ~13 MB/s at 80 ms and ~5 MB/s at 200 ms whatever the link:
/// further streams, opened only while every open one is busy, let one peer fill a long fat
/// link.
pub const MAX_LANES: usize = 32;
/// Messages waiting per lane beyond the one being written.
const LANE_QUEUE: usize = 1;

/// Blocks a peer cancelled after they were read for it and handed to its writer: the lane
/// about to write a message leaves them out (and reports them dropped). The engine adds a
/// CID only while a copy is on its way, and takes it out again when a copy is reported, so
/// a block wanted again later is not withheld. Without this a cancel reached only blocks
/// still in the engine's own queue, while up to the upload window (16 MiB) could sit in
/// the writer's queue and lanes and be sent anyway. What a lane has already written is in
/// the transport's buffers and goes regardless.
#[derive(Debug, Clone, Default)]
pub(crate) struct Revoked(Arc<std::sync::Mutex<HashSet<Cid>>>);

impl Revoked {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<Cid>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, cid: Cid) {
        self.set().insert(cid);
    }

    pub(crate) fn remove(&self, cid: &Cid) {
        self.set().remove(cid);
    }

    /// Takes the revoked blocks out of `msg`; answers them with their sizes.
    fn withhold(&self, msg: &mut Outbound) -> Vec<(Cid, u64)> {
        let mut set = self.set();
        if set.is_empty() || msg.blocks.is_empty() {
            return Vec::new();
        }
        let mut dropped = Vec::new();
        msg.blocks.retain(|b| {
            if set.remove(b.cid()) {
                dropped.push((*b.cid(), b.data().len() as u64));
                false
            } else {
                true
            }
        });
        dropped
    }
}

/// The writer for one peer: opens our stream (newest protocol first), then writes every
/// message the engine queues, reporting what was sent.
///
/// Messages with wantlist entries stay on the first stream, in order (a cancel must not
/// overtake its want). Messages of blocks and presences only go to whichever stream is
/// free; when none is, another is opened (up to [`MAX_LANES`]). A stream that fails ends
/// the writer, as before: the engine opens a new one when it has something to send.
pub(crate) fn spawn_writer(
    tasks: &tokio_util::task::TaskTracker,
    peer: PeerId,
    mut control: Control,
    mut rx: mpsc::Receiver<Outbound>,
    events: mpsc::Sender<Event>,
    revoked: Revoked,
) {
    let spawner = tasks.clone();
    tasks.spawn(async move {
        let mut opened = None;
        let mut unsupported = true;
        for p in protocol::PROTOCOLS {
            match tokio::time::timeout(OPEN_TIMEOUT, control.open_stream(peer, p.clone())).await {
                Ok(Ok(s)) => {
                    opened = Some((s, p));
                    break;
                }
                Ok(Err(OpenStreamError::UnsupportedProtocol(_))) => continue,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "opening bitswap stream failed");
                    unsupported = false;
                    break;
                }
                Err(_) => {
                    unsupported = false;
                    break;
                }
            }
        }
        let Some((stream, proto)) = opened else {
            let _ = events.send(Event::WriterFailed { peer, unsupported }).await;
            return;
        };
        let version = Version::of(&proto);
        if events
            .send(Event::WriterReady { peer, version })
            .await
            .is_err()
        {
            return;
        }
        // Stops every lane at once when one has failed (so none reports a write after the
        // engine was told the writer is gone).
        let stop = tokio_util::sync::CancellationToken::new();
        let mut handles = Vec::new();
        let lane = |s: Stream| {
            let to = LaneTo {
                peer,
                version,
                events: events.clone(),
                stop: stop.clone(),
                revoked: revoked.clone(),
            };
            spawn_lane(&spawner, s, to)
        };
        let (first, handle) = lane(stream);
        handles.push(handle);
        let mut lanes = vec![first];
        let mut failed = false;
        // Extra streams being opened report here (None: the open failed).
        let (opened_tx, mut opened_rx) = mpsc::channel::<Option<Stream>>(MAX_LANES);
        let mut opening = 0usize;
        let mut more = true;
        loop {
            let msg = tokio::select! {
                biased;
                Some(s) = opened_rx.recv() => {
                    opening -= 1;
                    match s {
                        Some(s) => {
                            let (added, handle) = lane(s);
                            lanes.push(added);
                            handles.push(handle);
                            tracing::debug!(%peer, streams = lanes.len(), "another bitswap stream");
                        }
                        // The peer refuses more streams: stay with those we have.
                        None => more = false,
                    }
                    continue;
                }
                msg = rx.recv() => match msg {
                    Some(m) => m,
                    None => break,
                },
            };
            let delivered = if !msg.wants.is_empty() || msg.full {
                lanes[0].send(msg).await
            } else {
                match offer(&lanes, msg) {
                    Ok(()) => true,
                    Err(None) => false,
                    Err(Some(msg)) => {
                        // Every stream is writing: open one more (in the background), and
                        // queue behind the least loaded meanwhile.
                        if more && lanes.len() + opening < MAX_LANES && !msg.blocks.is_empty() {
                            opening += 1;
                            let mut control = control.clone();
                            let proto = proto.clone();
                            let tx = opened_tx.clone();
                            spawner.spawn(async move {
                                let s = tokio::time::timeout(
                                    OPEN_TIMEOUT,
                                    control.open_stream(peer, proto),
                                )
                                .await;
                                let _ = tx.send(s.ok().and_then(Result::ok)).await;
                            });
                        }
                        let least = lanes
                            .iter()
                            .min_by_key(|l| l.held.load(Ordering::Relaxed))
                            .unwrap_or(&lanes[0]);
                        least.send(msg).await
                    }
                }
            };
            if !delivered {
                tracing::debug!(%peer, "a bitswap stream failed");
                failed = true;
                break;
            }
        }
        // After a failure the other lanes stop where they are; otherwise they write what
        // they hold and close their streams. Either way every `Sent` precedes the
        // `WriterFailed` below.
        if failed {
            stop.cancel();
        }
        drop(lanes);
        for h in handles {
            let _ = h.await;
        }
        let _ = events
            .send(Event::WriterFailed {
                peer,
                unsupported: false,
            })
            .await;
    });
}

/// One of a peer's streams, as the writer sees it: its queue, and how many messages it
/// holds (queued or being written).
struct Lane {
    tx: mpsc::Sender<Outbound>,
    held: Arc<AtomicUsize>,
}

impl Lane {
    /// Queues `msg`, waiting for room; false when the lane has failed.
    async fn send(&self, msg: Outbound) -> bool {
        self.held.fetch_add(1, Ordering::Relaxed);
        self.tx.send(msg).await.is_ok()
    }
}

/// Hands `msg` to the first lane that holds nothing (a lane still writing counts as busy:
/// a message queued behind it would wait for that lane's window). `Err(Some(msg))`: every
/// lane is busy; `Err(None)`: a lane has failed.
fn offer(lanes: &[Lane], msg: Outbound) -> Result<(), Option<Outbound>> {
    if lanes.iter().any(|l| l.tx.is_closed()) {
        return Err(None);
    }
    let Some(idle) = lanes.iter().find(|l| l.held.load(Ordering::Relaxed) == 0) else {
        return Err(Some(msg));
    };
    idle.held.fetch_add(1, Ordering::Relaxed);
    match idle.tx.try_send(msg) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Full(m)) => {
            idle.held.fetch_sub(1, Ordering::Relaxed);
            Err(Some(m))
        }
        Err(mpsc::error::TrySendError::Closed(_)) => Err(None),
    }
}

/// Where a lane writes and whom it tells.
struct LaneTo {
    peer: PeerId,
    version: Version,
    events: mpsc::Sender<Event>,
    stop: tokio_util::sync::CancellationToken,
    revoked: Revoked,
}

/// One stream of a peer's writer: writes the messages it is handed, in order (less the
/// blocks revoked meanwhile), and reports each as sent. Ends (dropping its queue, which the
/// writer notices) when a write fails or times out, when the writer drops it, or at once,
/// mid-frame, when `stop` is cancelled.
fn spawn_lane(
    tasks: &tokio_util::task::TaskTracker,
    mut stream: Stream,
    to: LaneTo,
) -> (Lane, tokio::task::JoinHandle<()>) {
    let LaneTo {
        peer,
        version,
        events,
        stop,
        revoked,
    } = to;
    let (tx, mut rx) = mpsc::channel::<Outbound>(LANE_QUEUE);
    let held = Arc::new(AtomicUsize::new(0));
    let lane = Lane {
        tx,
        held: held.clone(),
    };
    let handle = tasks.spawn(async move {
        loop {
            let mut msg = tokio::select! {
                () = stop.cancelled() => return,
                msg = rx.recv() => match msg {
                    Some(m) => m,
                    None => break,
                },
            };
            let dropped = revoked.withhold(&mut msg);
            let sent: Vec<(Cid, u64)> = msg
                .blocks
                .iter()
                .map(|b| (*b.cid(), b.data().len() as u64))
                .collect();
            let written = if msg.is_empty() {
                Ok(Ok(()))
            } else {
                let frame = msg.encode_parts(version);
                drop(msg);
                tokio::select! {
                    () = stop.cancelled() => return,
                    w = tokio::time::timeout(WRITE_TIMEOUT, protocol::write_parts(&mut stream, &frame)) => w,
                }
            };
            held.fetch_sub(1, Ordering::Relaxed);
            match written {
                Ok(Ok(())) => {
                    let done = Event::Sent {
                        peer,
                        version,
                        sent,
                        dropped,
                    };
                    if events.send(done).await.is_err() {
                        return;
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "bitswap write failed");
                    break;
                }
                Err(_) => {
                    tracing::debug!(%peer, "bitswap write timed out");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(WRITE_TIMEOUT, futures::AsyncWriteExt::close(&mut stream)).await;
    });
    (lane, handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Presence;

    fn presence() -> Outbound {
        let cid: dag::Cid = "bafkqaaa".parse().expect("cid");
        Outbound {
            presences: vec![(cid, Presence::Have)],
            ..Outbound::default()
        }
    }

    fn lane() -> (Lane, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(LANE_QUEUE);
        let held = Arc::new(AtomicUsize::new(0));
        (Lane { tx, held }, rx)
    }

    #[test]
    fn a_message_goes_to_a_lane_that_holds_nothing() {
        let (a, mut ra) = lane();
        let (b, mut rb) = lane();
        let lanes = vec![a, b];
        assert!(offer(&lanes, presence()).is_ok());
        assert!(offer(&lanes, presence()).is_ok());
        assert!(ra.try_recv().is_ok(), "the first lane took the first");
        assert!(rb.try_recv().is_ok(), "the second lane took the next one");
        // Taken from the queue but still being written: busy. The message comes back, to
        // go behind the least loaded lane while another stream opens.
        assert!(matches!(offer(&lanes, presence()), Err(Some(_))));
        // Written: the lane is idle again.
        lanes[1].held.fetch_sub(1, Ordering::Relaxed);
        assert!(offer(&lanes, presence()).is_ok());
        assert!(rb.try_recv().is_ok());
    }

    #[test]
    fn a_failed_lane_is_reported() {
        let (a, ra) = lane();
        let (b, _rb) = lane();
        drop(ra);
        assert!(matches!(offer(&[a, b], presence()), Err(None)));
    }
}
