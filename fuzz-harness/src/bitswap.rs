//! Harnesses for what BitSwap peers send: framed protobuf messages and ledger exchanges.

use bitswap::exchange;
use bitswap::ledger::LedgerView;
use bitswap::protocol::{Inbound, Outbound, Version, read_message};
use futures::executor::block_on;
use libp2p::PeerId;
use libp2p::identity::Keypair;
use std::sync::LazyLock;

/// Frames read from one input.
const MAX_FRAMES: usize = 16;

/// A stream of length-prefixed BitSwap messages, read and checked as a peer task does:
/// every block of a checked message matches its CID, and a checked message encoded again
/// (1.2.0 dialect) and read back checks to the same wants, blocks and presences.
pub fn bitswap_message(data: &[u8]) {
    let mut stream = futures::io::Cursor::new(data);
    let mut buf = Vec::new();
    for _ in 0..MAX_FRAMES {
        let msg = match block_on(read_message(&mut stream, &mut buf)) {
            Ok(Some(msg)) => msg,
            Ok(None) | Err(_) => return,
        };
        let Ok(inbound) = Inbound::check(msg) else {
            continue;
        };
        for b in &inbound.blocks {
            dag::block::verify(b.cid(), b.data()).expect("a checked block does not match its CID");
        }
        roundtrip(inbound);
    }
}

fn roundtrip(inbound: Inbound) {
    let out = Outbound {
        wants: inbound.wants.clone(),
        full: inbound.full,
        blocks: inbound.blocks.clone(),
        presences: inbound.presences.clone(),
    };
    let frame = out.encode(Version::V1_2);
    let mut buf = Vec::new();
    let msg = block_on(read_message(
        &mut futures::io::Cursor::new(&frame),
        &mut buf,
    ))
    .expect("our own frame reads")
    .expect("our own frame is not empty");
    let again = Inbound::check(msg).expect("our own message checks");
    assert_eq!(again.wants, inbound.wants, "wants changed in a round trip");
    assert_eq!(again.full, inbound.full, "full changed in a round trip");
    assert_eq!(again.presences, inbound.presences);
    let parts = |v: &[dag::Block]| -> Vec<(dag::Cid, bytes::Bytes)> {
        v.iter().map(|b| (*b.cid(), b.data().clone())).collect()
    };
    assert_eq!(parts(&again.blocks), parts(&inbound.blocks));
}

struct Peers {
    from: Keypair,
    to: PeerId,
    other: PeerId,
}

/// Fixed keys, so seeds signed by `from` for `to` verify (see `seeds`).
static PEERS: LazyLock<Peers> = LazyLock::new(|| Peers {
    from: key(1),
    to: key(2).public().to_peer_id(),
    other: key(3).public().to_peer_id(),
});

/// The deterministic Ed25519 key the seeds are made with.
pub(crate) fn key(seed: u8) -> Keypair {
    Keypair::ed25519_from_bytes([seed; 32]).expect("32-byte seed")
}

/// The signed body of a ledger exchange from peer 1 to peer 2 (as the seeds make it).
pub(crate) fn ledger_body(view: &LedgerView) -> Vec<u8> {
    exchange::encode(&PEERS.from, &PEERS.to, view).expect("signing with ed25519")
}

/// A ledger-exchange body from peer 1 to peer 2: when it verifies, it verifies for no
/// other receiver, and the view it carries round-trips through its 32-byte form and
/// through our own signed encoding. The first 32 bytes, as a view, also round-trip.
pub fn ledger_exchange(data: &[u8]) {
    let from = PEERS.from.public().to_peer_id();
    if let Some(view) = exchange::decode(data, &from, &PEERS.to) {
        assert_eq!(LedgerView::from_bytes(&view.to_bytes()), Some(view));
        assert!(
            exchange::decode(data, &from, &PEERS.other).is_none(),
            "a signed view verified for another receiver"
        );
        assert!(exchange::decode(data, &PEERS.to, &from).is_none());
    }
    if let Some(view) = data.get(..32).and_then(LedgerView::from_bytes) {
        let body = ledger_body(&view);
        assert_eq!(exchange::decode(&body, &from, &PEERS.to), Some(view));
    }
}
