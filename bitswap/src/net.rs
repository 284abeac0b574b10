//! Per-stream work: the task accepting inbound BitSwap streams, one reader task per
//! inbound stream (frames → checked messages → engine), and one writer task per peer
//! (engine → frames on our long-lived outbound stream).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    Message { peer: PeerId, msg: Inbound },
    Misbehaved { peer: PeerId, error: ProtocolError },
    WriterReady { peer: PeerId, version: Version },
    WriterFailed { peer: PeerId, unsupported: bool },
    Sent { peer: PeerId, sizes: Vec<u64> },
    LedgerStream { peer: PeerId, stream: Stream },
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
    _proto: StreamProtocol,
    events: mpsc::Sender<Event>,
) {
    let mut reader = BufReader::with_capacity(256 << 10, stream);
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
                if events.send(Event::Message { peer, msg }).await.is_err() {
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

/// The writer for one peer: opens our stream (newest protocol first), then writes every
/// message the engine queues, reporting what was sent.
pub(crate) fn spawn_writer(
    tasks: &tokio_util::task::TaskTracker,
    peer: PeerId,
    mut control: Control,
    mut rx: mpsc::Receiver<Outbound>,
    events: mpsc::Sender<Event>,
) {
    tasks.spawn(async move {
        let mut opened = None;
        let mut unsupported = true;
        for p in protocol::PROTOCOLS {
            match tokio::time::timeout(OPEN_TIMEOUT, control.open_stream(peer, p.clone())).await {
                Ok(Ok(s)) => {
                    opened = Some((s, Version::of(&p)));
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
        let Some((mut stream, version)) = opened else {
            let _ = events.send(Event::WriterFailed { peer, unsupported }).await;
            return;
        };
        if events
            .send(Event::WriterReady { peer, version })
            .await
            .is_err()
        {
            return;
        }
        while let Some(msg) = rx.recv().await {
            let frame = msg.encode(version);
            let sizes = msg.blocks.iter().map(|b| b.data().len() as u64).collect();
            drop(msg);
            match tokio::time::timeout(WRITE_TIMEOUT, protocol::write_frame(&mut stream, &frame))
                .await
            {
                Ok(Ok(())) => {
                    if events.send(Event::Sent { peer, sizes }).await.is_err() {
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
        let _ = futures::AsyncWriteExt::close(&mut stream).await;
        let _ = events
            .send(Event::WriterFailed {
                peer,
                unsupported: false,
            })
            .await;
    });
}
