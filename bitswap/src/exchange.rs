//! Ledger exchange (IPFS whitepaper §3.4) on `/ipfsd/ledger/1.0.0`.
//!
//! When two ipfsd peers connect, the one with the smaller peer ID opens a stream and sends
//! its signed view of the pair's ledger as it stood when they were last disconnected (the
//! "settled" view, which traffic on the new connection cannot change); the other answers
//! with its own. Both compare: my bytes/blocks sent must equal your received and vice
//! versa. If they disagree, both reset the ledger to zero (and count the reset; a peer
//! that keeps losing its ledger is flagged). Peers that don't speak the protocol (Kubo,
//! Helia) keep a local-only ledger.
//!
//! Frame: varint length ‖ view (32 bytes) ‖ varint len ‖ public key (libp2p protobuf) ‖
//! varint len ‖ signature over [`signing_payload`]`(from, to, view)`.

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::identity::{Keypair, PublicKey};
use libp2p::{PeerId, Stream, StreamProtocol};
use libp2p_stream::{Control, OpenStreamError};

use crate::ledger::LedgerView;

/// The protocol.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfsd/ledger/1.0.0");
/// Largest frame accepted.
pub const MAX_FRAME: usize = 1024;
/// Time for a whole exchange.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The peer's verified view.
    Theirs(LedgerView),
    /// The peer does not speak the protocol.
    Unsupported,
    /// The exchange failed (stream error, timeout, bad signature, garbage).
    Failed,
}

/// What a peer signs: domain-separated, bound to the sender, the receiver and the view, so a
/// signed view cannot be replayed for another pair or the other direction.
pub fn signing_payload(from: &PeerId, to: &PeerId, view: &LedgerView) -> Vec<u8> {
    let (f, t) = (from.to_bytes(), to.to_bytes());
    let mut out = Vec::with_capacity(16 + f.len() + t.len() + 34);
    out.extend_from_slice(b"ipfsd-ledger-v1:");
    for part in [&f, &t] {
        // Peer IDs are well under 128 bytes: a one-byte length.
        out.push(part.len().min(255) as u8);
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&view.to_bytes());
    out
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn take_varint(buf: &mut &[u8]) -> Option<usize> {
    let mut n: usize = 0;
    for i in 0..4 {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        n |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Some(head)
}

/// Our signed view for `to`, as a body (without the outer length).
pub fn encode(keypair: &Keypair, to: &PeerId, view: &LedgerView) -> Option<Vec<u8>> {
    let from = keypair.public().to_peer_id();
    let sig = keypair.sign(&signing_payload(&from, to, view)).ok()?;
    let pk = keypair.public().encode_protobuf();
    let mut out = Vec::with_capacity(32 + pk.len() + sig.len() + 4);
    out.extend_from_slice(&view.to_bytes());
    put_varint(&mut out, pk.len());
    out.extend_from_slice(&pk);
    put_varint(&mut out, sig.len());
    out.extend_from_slice(&sig);
    Some(out)
}

/// Checks a body sent by `from` to `to`: the key must be `from`'s and sign the view.
pub fn decode(body: &[u8], from: &PeerId, to: &PeerId) -> Option<LedgerView> {
    let mut buf = body;
    let view = LedgerView::from_bytes(take(&mut buf, 32)?)?;
    let n = take_varint(&mut buf)?;
    let pk = PublicKey::try_decode_protobuf(take(&mut buf, n)?).ok()?;
    let n = take_varint(&mut buf)?;
    let sig = take(&mut buf, n)?;
    if !buf.is_empty() || pk.to_peer_id() != *from {
        return None;
    }
    pk.verify(&signing_payload(from, to, &view), sig)
        .then_some(view)
}

async fn write_frame(stream: &mut Stream, body: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(body.len() + 2);
    put_varint(&mut frame, body.len());
    frame.extend_from_slice(body);
    stream.write_all(&frame).await?;
    stream.flush().await
}

async fn read_frame(stream: &mut Stream) -> Option<Vec<u8>> {
    let mut len = 0usize;
    for i in 0..2 {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.ok()?;
        len |= usize::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            if len > MAX_FRAME {
                return None;
            }
            let mut body = vec![0u8; len];
            stream.read_exact(&mut body).await.ok()?;
            return Some(body);
        }
    }
    None
}

/// Opens the exchange with `peer`, sending `ours` first.
pub async fn initiate(
    mut control: Control,
    keypair: Keypair,
    peer: PeerId,
    ours: LedgerView,
) -> Outcome {
    let local = keypair.public().to_peer_id();
    let run = async {
        let mut stream = match control.open_stream(peer, PROTOCOL).await {
            Ok(s) => s,
            Err(OpenStreamError::UnsupportedProtocol(_)) => return Outcome::Unsupported,
            Err(_) => return Outcome::Failed,
        };
        let Some(body) = encode(&keypair, &peer, &ours) else {
            return Outcome::Failed;
        };
        if write_frame(&mut stream, &body).await.is_err() {
            return Outcome::Failed;
        }
        let Some(reply) = read_frame(&mut stream).await else {
            return Outcome::Failed;
        };
        let _ = stream.close().await;
        match decode(&reply, &peer, &local) {
            Some(v) => Outcome::Theirs(v),
            None => Outcome::Failed,
        }
    };
    tokio::time::timeout(TIMEOUT, run)
        .await
        .unwrap_or(Outcome::Failed)
}

/// Reads the initiator's view from an accepted stream.
pub async fn read_request(
    stream: &mut Stream,
    peer: &PeerId,
    local: &PeerId,
) -> Option<LedgerView> {
    let body = tokio::time::timeout(TIMEOUT, read_frame(stream))
        .await
        .ok()??;
    decode(&body, peer, local)
}

/// Answers with `ours` on an accepted stream.
pub async fn reply(mut stream: Stream, keypair: &Keypair, peer: &PeerId, ours: &LedgerView) {
    if let Some(body) = encode(keypair, peer, ours) {
        let _ = tokio::time::timeout(TIMEOUT, async {
            let _ = write_frame(&mut stream, &body).await;
            let _ = stream.close().await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(a: u64, b: u64) -> LedgerView {
        LedgerView {
            bytes_sent: a,
            bytes_recv: b,
            blocks_sent: a / 10,
            blocks_recv: b / 10,
        }
    }

    #[test]
    fn signed_views_verify_only_for_their_pair_and_direction() {
        let a = Keypair::generate_ed25519();
        let b = Keypair::generate_ed25519();
        let (pa, pb) = (a.public().to_peer_id(), b.public().to_peer_id());
        let body = encode(&a, &pb, &view(100, 7)).unwrap();
        assert_eq!(decode(&body, &pa, &pb), Some(view(100, 7)));
        // Replayed as if b sent it, or for another receiver: refused.
        assert_eq!(decode(&body, &pb, &pa), None);
        assert_eq!(decode(&body, &pa, &PeerId::random()), None);
        // Tampered view: refused.
        let mut bad = body.clone();
        bad[7] ^= 1;
        assert_eq!(decode(&bad, &pa, &pb), None);
        // Trailing garbage or truncation: refused.
        let mut long = body.clone();
        long.push(0);
        assert_eq!(decode(&long, &pa, &pb), None);
        assert_eq!(decode(&body[..body.len() - 1], &pa, &pb), None);
    }

    #[test]
    fn signing_payload_binds_pair_and_direction() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let v = LedgerView {
            bytes_sent: 1,
            ..Default::default()
        };
        assert_ne!(signing_payload(&a, &b, &v), signing_payload(&b, &a, &v));
        assert_ne!(
            signing_payload(&a, &b, &v),
            signing_payload(&a, &b, &LedgerView::default())
        );
    }
}
