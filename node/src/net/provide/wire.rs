//! `ADD_PROVIDER` to a chosen peer, written by hand: libp2p-kad 0.49 sends it only to the
//! peers its own lookup finds, one lookup per key, and its query types are not public.
//!
//! Wire format (libp2p/specs `kad-dht`, as libp2p-kad, Kubo and Helia speak it): on a
//! stream of the DHT's protocol, each message is an unsigned-varint length followed by a
//! `Message` protobuf: `type = ADD_PROVIDER` (field 1), `key` (2, the multihash) and one
//! `providerPeers` entry (9: `id` = our peer ID, `addrs` = our addresses). There is no
//! answer. Receivers read further messages from the same stream (libp2p-kad keeps an
//! inbound stream waiting for the next message; go-libp2p-kad-dht reads in a loop), so
//! one stream carries all of a peer's keys. A receiver stores the record only if the
//! provider's ID is the peer that sent it.
//!
//! Data flow: [`send`] opens the stream with `libp2p-stream` (the connection is usually
//! the one the lookup just used), writes the frames in 32 KiB writes, each bounded by a
//! timeout, and closes it.

use futures::AsyncWriteExt;
use libp2p::kad::RecordKey;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use std::time::Duration;

/// `Message.MessageType.ADD_PROVIDER`.
const ADD_PROVIDER: u64 = 2;
/// Bytes written at once.
const WRITE: usize = 32 * 1024;
/// Longest wait to open a stream, or for one write.
pub(crate) const STEP: Duration = Duration::from_secs(10);

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes_field(field: u64, b: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// The `Peer` message naming us as the provider (encoded once per stream).
pub(crate) fn provider_peer(me: &PeerId, addrs: &[Multiaddr]) -> Vec<u8> {
    let mut peer = Vec::new();
    bytes_field(1, &me.to_bytes(), &mut peer);
    for a in addrs {
        bytes_field(2, &a.to_vec(), &mut peer);
    }
    peer
}

/// Appends one length-prefixed `ADD_PROVIDER` message for `key` to `out`.
pub(crate) fn frame(key: &RecordKey, provider: &[u8], out: &mut Vec<u8>) {
    let mut msg = Vec::with_capacity(key.as_ref().len() + provider.len() + 8);
    varint(1 << 3, &mut msg);
    varint(ADD_PROVIDER, &mut msg);
    bytes_field(2, key.as_ref(), &mut msg);
    bytes_field(9, provider, &mut msg);
    varint(msg.len() as u64, out);
    out.extend_from_slice(&msg);
}

/// Why an `ADD_PROVIDER` stream failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SendError {
    /// The stream could not be opened.
    #[error("opening {protocol} to {peer}: {reason}")]
    Open {
        peer: PeerId,
        protocol: StreamProtocol,
        reason: String,
    },
    /// Writing failed or stalled.
    #[error("writing to {peer}: {reason}")]
    Write { peer: PeerId, reason: String },
}

/// Sends `ADD_PROVIDER` for each of `keys` to `peer` on one stream of `protocol`.
pub(crate) async fn send(
    control: &mut libp2p_stream::Control,
    protocol: StreamProtocol,
    peer: PeerId,
    provider: &[u8],
    keys: &[RecordKey],
) -> Result<(), SendError> {
    let open_err = |reason: String| SendError::Open {
        peer,
        protocol: protocol.clone(),
        reason,
    };
    let mut stream =
        match tokio::time::timeout(STEP, control.open_stream(peer, protocol.clone())).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(open_err(e.to_string())),
            Err(_) => return Err(open_err("timed out".into())),
        };
    let write_err = |reason: String| SendError::Write { peer, reason };
    let mut buf = Vec::with_capacity(WRITE + 256);
    for (i, key) in keys.iter().enumerate() {
        frame(key, provider, &mut buf);
        if buf.len() >= WRITE || i + 1 == keys.len() {
            match tokio::time::timeout(STEP, stream.write_all(&buf)).await {
                Ok(Ok(())) => buf.clear(),
                Ok(Err(e)) => return Err(write_err(e.to_string())),
                Err(_) => return Err(write_err("timed out".into())),
            }
        }
    }
    match tokio::time::timeout(STEP, stream.close()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(write_err(e.to_string())),
        Err(_) => Err(write_err("closing timed out".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_add_provider_frame_is_the_protobuf_message() {
        let me = PeerId::random();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
        let key = RecordKey::new(&[0x12, 0x20, 1, 2, 3]);
        let provider = provider_peer(&me, std::slice::from_ref(&addr));
        let mut out = Vec::new();
        frame(&key, &provider, &mut out);
        let id = me.to_bytes();
        let a = addr.to_vec();
        let mut peer = vec![0x0a, id.len() as u8];
        peer.extend_from_slice(&id);
        peer.extend_from_slice(&[0x12, a.len() as u8]);
        peer.extend_from_slice(&a);
        let mut msg = vec![
            0x08,
            0x02,
            0x12,
            5,
            0x12,
            0x20,
            1,
            2,
            3,
            0x4a,
            peer.len() as u8,
        ];
        msg.extend_from_slice(&peer);
        let mut want = vec![msg.len() as u8];
        want.extend_from_slice(&msg);
        assert_eq!(out, want);
        let mut long = Vec::new();
        varint(300, &mut long);
        assert_eq!(long, [0xac, 0x02]);
    }
}
