//! Hostile BitSwap input on the wire: a hand-built libp2p client (TCP + noise + yamux,
//! raw streams, no BitSwap of its own) connects to one ipfsd daemon on 127.0.0.1 and
//! sends garbage frames, an oversized length prefix, a block nobody asked for, and — for a
//! block the node does want — bytes that do not match its CID.
//!
//! Each time the node must disconnect the client and store nothing it sent. Afterwards a
//! well-behaved client still gets a block it asks for (want-block answered on a stream the
//! node opens, as the protocol says), and the node's API answers. One test speaks raw QUIC
//! instead, sending as go-libp2p does (lazy negotiation, the stream closed at once).

use bitswap::protocol::{
    self, Inbound, Outbound, PROTOCOL_1_2_0, Presence, Want, WantType, pb, read_message,
};
use dag::Block;
use futures::AsyncWriteExt;
use futures::StreamExt;
use ipfsd_tests::kad_wire::RawClient;
use ipfsd_tests::testnet::{TestNode, init_repo, wait_for};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use prost::Message as _;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);

async fn client(node: &TestNode) -> RawClient {
    let addr: Multiaddr = node.swarm_addr().parse().expect("addr");
    let (c, _) = RawClient::connect(Keypair::generate_ed25519(), &[addr], STEP)
        .await
        .expect("connect");
    c
}

fn node_peer(node: &TestNode) -> PeerId {
    node.peer_id().parse().expect("peer id")
}

/// Opens a BitSwap stream to the node and writes `bytes` on it. The stream is returned:
/// the caller keeps it open until it has seen the node's reaction (dropping it at once
/// could discard the bytes before the node reads them).
async fn send_raw(c: &mut RawClient, node: &TestNode, bytes: &[u8]) -> libp2p::Stream {
    let mut s = tokio::time::timeout(STEP, c.control.open_stream(node_peer(node), PROTOCOL_1_2_0))
        .await
        .expect("open in time")
        .expect("open");
    let _ = s.write_all(bytes).await;
    let _ = s.flush().await;
    s
}

fn disconnected(node: &TestNode, c: &RawClient, what: &str) {
    let id = c.peer().to_string();
    wait_for(STEP, what, || (!node.peers().contains(&id)).then_some(()));
}

fn stored(node: &TestNode, cid: &str) -> bool {
    node.call("block/stat", &[("arg", cid)]).status == 200
}

fn varint(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = n as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A wantlist entry (not a cancel).
fn want(cid: dag::Cid, want_type: WantType, send_dont_have: bool) -> Want {
    Want {
        cid,
        priority: 1,
        cancel: false,
        want_type,
        send_dont_have,
    }
}

/// The next stream the node opens to the client.
async fn node_stream(incoming: &mut libp2p_stream::IncomingStreams) -> libp2p::Stream {
    let (_, s) = tokio::time::timeout(STEP, incoming.next())
        .await
        .expect("the node opens a stream in time")
        .expect("a stream");
    s
}

/// The node's next message on `s`, checked.
async fn next_message(s: &mut libp2p::Stream, buf: &mut Vec<u8>) -> Inbound {
    let msg = tokio::time::timeout(STEP, read_message(s, buf))
        .await
        .expect("a message in time")
        .expect("a valid message")
        .expect("not end of stream");
    Inbound::check(msg).expect("checks")
}

/// Reads the node's messages on `incoming` until one wants `cid`.
async fn wait_for_want(incoming: &mut libp2p_stream::IncomingStreams, cid: &dag::Cid) {
    let mut s = node_stream(incoming).await;
    let mut buf = Vec::new();
    loop {
        let m = next_message(&mut s, &mut buf).await;
        if m.wants.iter().any(|w| w.cid == *cid && !w.cancel) {
            return;
        }
    }
}

/// Reads the node's messages on `s` until the block `wanted` and a HAVE for `asked` came.
async fn wait_for_block_and_have(
    s: &mut libp2p::Stream,
    buf: &mut Vec<u8>,
    wanted: dag::Cid,
    asked: dag::Cid,
) {
    let (mut block, mut have) = (false, false);
    while !(block && have) {
        let m = next_message(s, buf).await;
        block |= m.blocks.iter().any(|b| *b.cid() == wanted);
        have |= m.presences.contains(&(asked, Presence::Have));
    }
}

#[test]
fn hostile_peers_are_disconnected_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("n"), Some(2), |c| {
        c.bitswap.fetch_timeout = "3s".into();
    });
    let node = TestNode::start(&dir.path().join("n"), None);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // 1. Garbage: a frame that is not a protobuf message.
    let (c, s) = rt.block_on(async {
        let mut c = client(&node).await;
        let mut junk = varint(6);
        junk.extend_from_slice(&[0xff; 6]);
        let s = send_raw(&mut c, &node, &junk).await;
        (c, s)
    });
    disconnected(&node, &c, "disconnect after garbage");
    drop(s);

    // 2. A length prefix over the 4 MiB limit (nothing else needs to follow).
    let (c, s) = rt.block_on(async {
        let mut c = client(&node).await;
        let s = send_raw(&mut c, &node, &varint(protocol::MAX_MESSAGE + 1)).await;
        (c, s)
    });
    disconnected(&node, &c, "disconnect after an oversized prefix");
    drop(s);

    // 3. A block nobody asked for.
    let gift = Block::encode(
        dag::Version::V1,
        dag::block::RAW,
        b"unsolicited gift".to_vec(),
    );
    let (c, s) = rt.block_on(async {
        let mut c = client(&node).await;
        let frame = Outbound {
            blocks: vec![gift.clone()],
            ..Default::default()
        }
        .encode(protocol::Version::V1_2);
        let s = send_raw(&mut c, &node, &frame).await;
        (c, s)
    });
    disconnected(&node, &c, "disconnect after an unsolicited block");
    drop(s);
    assert!(
        !stored(&node, &gift.cid().to_string()),
        "unsolicited block stored"
    );

    // 4. The node wants X; the client answers with other bytes under X's prefix.
    let x = Block::encode(dag::Version::V1, dag::block::RAW, b"the real X".to_vec());
    let x_cid = x.cid().to_string();
    let mut c = rt.block_on(client(&node));
    let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
    std::thread::scope(|scope| {
        // `block/get X` makes the node want X from its peers (the client is the only one).
        let asker = scope.spawn(|| node.call("block/get", &[("arg", &x_cid)]).status);
        let s = rt.block_on(async {
            wait_for_want(&mut incoming, x.cid()).await;
            let forged = pb::Message {
                payload: vec![pb::Block {
                    prefix: protocol::prefix_of(x.cid()).into(),
                    data: bytes::Bytes::from_static(b"not X at all"),
                }],
                ..Default::default()
            };
            let mut frame = varint(forged.encoded_len());
            forged.encode(&mut frame).expect("encode");
            send_raw(&mut c, &node, &frame).await
        });
        disconnected(&node, &c, "disconnect after a block not matching its CID");
        drop(s);
        let status = asker.join().expect("asker");
        assert_ne!(status, 200, "X must not be delivered");
    });
    assert!(!stored(&node, &x_cid));
    let wrong = Block::encode(dag::Version::V1, dag::block::RAW, b"not X at all".to_vec());
    assert!(!stored(&node, &wrong.cid().to_string()));
    let stat = node.call("bitswap/stat", &[]).ok().json();
    assert!(stat["MisbehavingPeers"].as_u64() >= Some(4), "{stat}");

    // 5. A well-behaved client gets what it asks for, on a stream the node opens.
    let cid = node.add(b"a block the node holds");
    let held: dag::Cid = cid.parse().expect("cid");
    rt.block_on(async {
        let mut c = client(&node).await;
        let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
        let ask = Outbound {
            wants: vec![want(held, WantType::Block, true)],
            ..Default::default()
        }
        .encode(protocol::Version::V1_2);
        let _ask = send_raw(&mut c, &node, &ask).await;
        let mut s = node_stream(&mut incoming).await;
        let got = next_message(&mut s, &mut Vec::new()).await;
        assert_eq!(got.blocks.len(), 1, "{got:?}");
        assert_eq!(got.blocks[0].cid(), &held);
        assert!(got.presences.iter().all(|(_, p)| *p != Presence::DontHave));
    });
    node.call("id", &[]).ok();
    node.stop();
}

/// Blocks hashed with blake3 and sha2-512 that the node wants are accepted from the wire,
/// each CID computed with the block's own function; a block under md5 (0xd5), which the
/// node cannot check, gets the peer disconnected and nothing stored, and so does a block
/// whose hash matches but whose dag-cbor is not canonical.
#[test]
fn received_blocks_are_checked_with_their_own_hash_function() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("n"), Some(2), |c| {
        c.bitswap.fetch_timeout = "3s".into();
    });
    let node = TestNode::start(&dir.path().join("n"), None);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // {"a": 1} in dag-cbor, then raw bytes.
    let wanted = [
        (
            dag::HashFn::Blake3,
            dag::block::DAG_CBOR,
            vec![0xa1, 0x61, 0x61, 0x01],
        ),
        (
            dag::HashFn::Sha2_512,
            dag::block::RAW,
            b"sha2-512 leaf".to_vec(),
        ),
    ];
    for (f, codec, data) in wanted {
        let x = Block::encode_with(dag::Version::V1, codec, f, data).expect("hash");
        let x_cid = x.cid().to_string();
        let mut c = rt.block_on(client(&node));
        let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
        std::thread::scope(|scope| {
            let asker = scope.spawn(|| node.call("block/get", &[("arg", &x_cid)]));
            let _s = rt.block_on(async {
                wait_for_want(&mut incoming, x.cid()).await;
                let frame = Outbound {
                    blocks: vec![x.clone()],
                    ..Default::default()
                }
                .encode(protocol::Version::V1_2);
                send_raw(&mut c, &node, &frame).await
            });
            let got = asker.join().expect("asker").ok();
            assert_eq!(got.body, x.data().as_ref(), "{f}");
        });
        // The store writer commits after delivery: wait for it.
        wait_for(STEP, "the block to be stored", || {
            stored(&node, &x_cid).then_some(())
        });
        assert!(
            node.peers().contains(&c.peer().to_string()),
            "{f}: peer kept"
        );
    }

    // md5: the prefix names a function the node does not implement.
    let (c, s) = rt.block_on(async {
        let mut c = client(&node).await;
        let md5 = pb::Message {
            payload: vec![pb::Block {
                prefix: bytes::Bytes::from_static(&[0x01, 0x55, 0xd5, 0x01, 0x10]),
                data: bytes::Bytes::from_static(b"md5 block"),
            }],
            ..Default::default()
        };
        let mut frame = varint(md5.encoded_len());
        md5.encode(&mut frame).expect("encode");
        let s = send_raw(&mut c, &node, &frame).await;
        (c, s)
    });
    disconnected(&node, &c, "disconnect after an md5 block");
    drop(s);

    // A wanted dag-cbor block whose bytes hash right but are not canonical ({"b":1,"a":2}).
    let bad = Block::encode_with(
        dag::Version::V1,
        dag::block::DAG_CBOR,
        dag::HashFn::Blake3,
        vec![0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02],
    )
    .expect("hash");
    let bad_cid = bad.cid().to_string();
    let mut c = rt.block_on(client(&node));
    let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
    std::thread::scope(|scope| {
        let asker = scope.spawn(|| node.call("block/get", &[("arg", &bad_cid)]).status);
        let s = rt.block_on(async {
            wait_for_want(&mut incoming, bad.cid()).await;
            let frame = Outbound {
                blocks: vec![bad.clone()],
                ..Default::default()
            }
            .encode(protocol::Version::V1_2);
            send_raw(&mut c, &node, &frame).await
        });
        disconnected(&node, &c, "disconnect after a non-canonical dag-cbor block");
        drop(s);
        assert_ne!(asker.join().expect("asker"), 200, "not delivered");
    });
    assert!(!stored(&node, &bad_cid));
    let stat = node.call("bitswap/stat", &[]).ok().json();
    assert!(stat["MisbehavingPeers"].as_u64() >= Some(2), "{stat}");
    node.stop();
}

/// A peer that cancels blocks the node has already read for it, but not yet written, does
/// not get them: the lanes leave them out (counted in `BlocksWithheld`). Every block the
/// node reports sent arrives, none twice, and a block withheld is sent when wanted again.
///
/// The client accepts the node's streams but reads nothing until after its cancel, so the
/// node's writes stop at the streams' windows with up to its upload window read and queued
/// behind them (16 blocks of 1 MiB against a 4 MiB window). The window is small, and few
/// blocks are wanted again, because the client takes the node's streams through
/// `libp2p-stream`, which drops an inbound stream that comes while it still holds the last
/// one; each further stream the node opens is a chance of that (ipfsd's own acceptor
/// queues them, see `bitswap::inbound`).
#[test]
fn blocks_cancelled_after_loading_are_withheld() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("n"), Some(2), |c| {
        c.bitswap.upload_window = 4 << 20;
    });
    let node = TestNode::start(&dir.path().join("n"), None);
    let cids: Vec<dag::Cid> = (0..16u64)
        .map(|i| {
            let data = ipfsd_tests::fixtures::noise(100 + i, 1 << 20);
            let cid = node.block_put(&[("cid-codec", "raw")], &data);
            cid.parse().expect("cid")
        })
        .collect();
    let wants = |cids: &[dag::Cid], cancel: bool| {
        Outbound {
            wants: cids
                .iter()
                .map(|cid| Want {
                    cancel,
                    ..want(*cid, WantType::Block, false)
                })
                .collect(),
            ..Default::default()
        }
        .encode(protocol::Version::V1_2)
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (_c, mut ask, new) = rt.block_on(async {
        let mut c = client(&node).await;
        let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
        // The node's streams are taken as they come and left unread for now.
        let (tx, streams) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some((_, s)) = incoming.next().await {
                if tx.send(s).is_err() {
                    return;
                }
            }
        });
        let ask = send_raw(&mut c, &node, &wants(&cids, false)).await;
        (c, ask, streams)
    });
    let mut streams = NodeStreams {
        known: Vec::new(),
        new,
    };
    // Ample time to read 16 MiB and fill the windows (loopback, page cache).
    std::thread::sleep(Duration::from_secs(1));
    let got = rt.block_on(async {
        ask.write_all(&wants(&cids, true)).await.expect("cancel");
        ask.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(500)).await;
        streams.read_blocks().await
    });
    let stat = node.call("bitswap/stat", &[]).ok().json();
    let sent = stat["BlocksSent"].as_u64().expect("BlocksSent");
    let withheld = stat["BlocksWithheld"].as_u64().expect("BlocksWithheld");
    eprintln!("{} of 16 received, {withheld} withheld", got.len());
    assert!(withheld >= 1, "no loaded block was withheld: {stat}");
    let unique: std::collections::HashSet<_> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "a block arrived twice");
    assert_eq!(
        got.len() as u64,
        sent,
        "every block reported sent arrives: {stat}"
    );
    assert!(got.len() < 16, "the cancel stopped nothing");

    // The first blocks not received (those read first, so withheld), wanted again, arrive:
    // a withheld block is not withheld twice.
    let rest: Vec<dag::Cid> = cids
        .iter()
        .filter(|c| !unique.contains(c))
        .take(3)
        .copied()
        .collect();
    let again = rt.block_on(async {
        ask.write_all(&wants(&rest, false))
            .await
            .expect("want again");
        ask.flush().await.expect("flush");
        let mut again = Vec::new();
        while again.len() < rest.len() {
            let more = streams.read_blocks().await;
            assert!(
                !more.is_empty(),
                "{} of {} wanted again arrived",
                again.len(),
                rest.len()
            );
            again.extend(more);
        }
        again
    });
    let again: std::collections::HashSet<_> = again.into_iter().collect();
    assert_eq!(again, rest.into_iter().collect());
    node.stop();
}

/// A peer's wanted blocks leave in messages of at most 256 KiB of blocks (one block when a
/// block is larger): the receiver can use a block only once its whole message has arrived,
/// so on a slow link one message of a 1 MiB read held its first block back by the time the
/// other three took (330 ms at 25 Mbit/s).
#[test]
fn blocks_leave_in_messages_of_a_quarter_mebibyte() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("n"), Some(2), |_| {});
    let node = TestNode::start(&dir.path().join("n"), None);
    // 100 KiB blocks: a 1 MiB read holds ten, a 256 KiB message two.
    let cids: Vec<dag::Cid> = (0..10u64)
        .map(|i| {
            let data = ipfsd_tests::fixtures::noise(200 + i, 100 << 10);
            let cid = node.block_put(&[("cid-codec", "raw")], &data);
            cid.parse().expect("cid")
        })
        .collect();
    let ask = Outbound {
        wants: cids
            .iter()
            .map(|cid| want(*cid, WantType::Block, false))
            .collect(),
        ..Default::default()
    }
    .encode(protocol::Version::V1_2);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let msgs = rt.block_on(async {
        let mut c = client(&node).await;
        let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
        let (tx, new) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some((_, s)) = incoming.next().await {
                if tx.send(s).is_err() {
                    return;
                }
            }
        });
        let _ask = send_raw(&mut c, &node, &ask).await;
        let mut streams = NodeStreams {
            known: Vec::new(),
            new,
        };
        let mut msgs = Vec::new();
        let deadline = tokio::time::Instant::now() + STEP;
        while msgs.iter().map(Vec::len).sum::<usize>() < cids.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} messages, then nothing",
                msgs.len()
            );
            // Nothing yet when the node has not opened its stream.
            let more = streams.read_messages().await;
            if more.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            msgs.extend(more);
        }
        msgs
    });
    let got: std::collections::HashSet<dag::Cid> = msgs.iter().flatten().map(|(c, _)| *c).collect();
    assert_eq!(got, cids.iter().copied().collect(), "every block, once");
    for m in &msgs {
        let bytes: usize = m.iter().map(|(_, n)| n).sum();
        assert!(
            bytes <= 256 << 10,
            "a message of {} blocks, {bytes} bytes",
            m.len()
        );
    }
    assert!(
        msgs.len() >= 5,
        "{} messages for ten 100 KiB blocks",
        msgs.len()
    );
    node.stop();
}

/// The node's streams to a raw client: those taken so far, and new ones as it opens them.
struct NodeStreams {
    known: Vec<libp2p::Stream>,
    new: tokio::sync::mpsc::UnboundedReceiver<libp2p::Stream>,
}

impl NodeStreams {
    /// Reads every stream until each has been quiet for a second and no new one came;
    /// answers the CIDs of the blocks received. (A quiet second ends a read mid-message
    /// only if one 1 MiB message takes that long on loopback.)
    async fn read_blocks(&mut self) -> Vec<dag::Cid> {
        self.read_messages()
            .await
            .into_iter()
            .flatten()
            .map(|(c, _)| c)
            .collect()
    }

    /// As [`NodeStreams::read_blocks`], message by message: each message's blocks, with
    /// their sizes.
    async fn read_messages(&mut self) -> Vec<Vec<(dag::Cid, usize)>> {
        let mut got = Vec::new();
        loop {
            while let Ok(s) = self.new.try_recv() {
                self.known.push(s);
            }
            let mut readers = tokio::task::JoinSet::new();
            for mut s in self.known.drain(..) {
                readers.spawn(async move {
                    let mut buf = Vec::new();
                    let mut msgs = Vec::new();
                    loop {
                        let next = tokio::time::timeout(
                            Duration::from_secs(1),
                            read_message(&mut s, &mut buf),
                        );
                        match next.await {
                            Ok(Ok(Some(msg))) => {
                                let m = Inbound::check(msg).expect("checks");
                                let blocks: Vec<(dag::Cid, usize)> = m
                                    .blocks
                                    .iter()
                                    .map(|b| (*b.cid(), b.data().len()))
                                    .collect();
                                if !blocks.is_empty() {
                                    msgs.push(blocks);
                                }
                            }
                            Ok(Ok(None)) | Err(_) => break,
                            Ok(Err(e)) => panic!("a bad message from the node: {e}"),
                        }
                    }
                    (s, msgs)
                });
            }
            while let Some(r) = readers.join_next().await {
                let (s, msgs) = r.expect("reader");
                self.known.push(s);
                got.extend(msgs);
            }
            if self.new.is_empty() {
                return got;
            }
        }
    }
}

/// A BitSwap message sent the way go-libp2p (Kubo) sends one over QUIC is heard: the stream
/// opened with lazy multistream-select (the proposal and the message in one write), then
/// closed at once, which also stops its receiving half (`STOP_SENDING`). The node's
/// protocol confirmation then cannot be written; before `net/stopped.rs` the node dropped
/// the stream with the message, so Kubo's wants, HAVEs and blocks over QUIC went unheard.
#[test]
fn a_message_on_a_quic_stream_its_sender_closed_at_once_is_heard() {
    use libp2p::core::muxing::StreamMuxerExt;
    use libp2p::core::transport::{DialOpts, PortUse, Transport as _};

    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("n"), Some(2), |c| {
        c.addresses.swarm = vec!["/ip4/127.0.0.1/udp/0/quic-v1".into()];
    });
    let node = TestNode::start(&dir.path().join("n"), None);
    let addr: Multiaddr = node.listen_addr().parse().expect("addr");
    assert!(addr.to_string().contains("/quic-v1"), "{addr}");
    let wanted = Block::encode(dag::Version::V1, dag::block::RAW, b"not here".to_vec());
    let key = Keypair::generate_ed25519();
    // One thread: the write, the close and the stop leave in one flight, as go-libp2p's do.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut quic = libp2p::quic::tokio::Transport::new(libp2p::quic::Config::new(&key));
        let dial = quic
            .dial(
                addr,
                DialOpts {
                    role: libp2p::core::Endpoint::Dialer,
                    port_use: PortUse::New,
                },
            )
            .expect("dial");
        let (peer, mut conn) = tokio::time::timeout(STEP, dial)
            .await
            .expect("connected in time")
            .expect("connected");
        assert_eq!(peer, node_peer(&node));
        let mut s = tokio::time::timeout(
            STEP,
            futures::future::poll_fn(|cx| conn.poll_outbound_unpin(cx)),
        )
        .await
        .expect("stream in time")
        .expect("stream");
        let mut bytes = b"\x13/multistream/1.0.0\n\x14/ipfs/bitswap/1.2.0\n".to_vec();
        bytes.extend(
            Outbound {
                wants: vec![want(*wanted.cid(), WantType::Block, false)],
                ..Default::default()
            }
            .encode(protocol::Version::V1_2),
        );
        s.write_all(&bytes).await.expect("write");
        s.close().await.expect("close");
        // Dropped before the node has finished its side: STOP_SENDING.
        drop(s);
        // The node heard the message (its first: nothing else speaks BitSwap to it). Polled
        // from here: the connection's tasks run only while this runtime does.
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let v = node.call("bitswap/stat", &[]).ok().json();
            if v["MessagesReceived"].as_u64().unwrap_or(0) >= 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the node never heard the message: {v}"
            );
        }
        drop(conn);
    });
    node.stop();
}

/// Wants for blocks the node lacks are kept, as Kubo's and Helia's engines keep them: once
/// the node has fetched such a block for itself, a peer that asked for it (want-block) gets
/// the block, and one that asked whether the node has it (want-have) gets a HAVE, without
/// asking again. (Before, the node forgot both wants at its first "not here".)
#[test]
fn wants_for_blocks_the_node_lacks_are_answered_when_they_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("n"), Some(2), |_| {});
    init_repo(&dir.path().join("s"), Some(2), |_| {});
    let node = TestNode::start(&dir.path().join("n"), None);
    let seeder = TestNode::start(&dir.path().join("s"), None);
    let put = |tag: u64| -> dag::Cid {
        let data = ipfsd_tests::fixtures::noise(300 + tag, 64 << 10);
        seeder
            .block_put(&[("cid-codec", "raw")], &data)
            .parse()
            .expect("cid")
    };
    let (wanted, asked) = (put(1), put(2));
    let ask = Outbound {
        wants: vec![
            want(wanted, WantType::Block, true),
            want(asked, WantType::Have, false),
        ],
        ..Default::default()
    }
    .encode(protocol::Version::V1_2);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut c = client(&node).await;
        let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
        let _ask = send_raw(&mut c, &node, &ask).await;
        let mut s = node_stream(&mut incoming).await;
        let mut buf = Vec::new();
        // The node lacks the block and says so, as asked.
        let m = next_message(&mut s, &mut buf).await;
        assert_eq!(m.presences, vec![(wanted, Presence::DontHave)], "{m:?}");
        // The node fetches both blocks for itself.
        tokio::task::block_in_place(|| {
            node.call("swarm/connect", &[("arg", seeder.swarm_addr())])
                .ok();
            for cid in [wanted, asked] {
                node.call("block/get", &[("arg", &cid.to_string())]).ok();
            }
        });
        // The client, without asking again, gets the block it wanted and a HAVE.
        wait_for_block_and_have(&mut s, &mut buf, wanted, asked).await;
    });
    node.stop();
    seeder.stop();
}

/// The same when the blocks come from a local write instead (`block put`, as `add` or
/// `dag put` would): the peer that asked gets the block, or a HAVE, without asking again.
#[test]
fn wants_for_blocks_the_node_lacks_are_answered_after_a_local_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(&dir.path().join("n"), Some(2), |_| {});
    let node = TestNode::start(&dir.path().join("n"), None);
    let data: Vec<Vec<u8>> = (0..2u64)
        .map(|i| ipfsd_tests::fixtures::noise(400 + i, 64 << 10))
        .collect();
    let cid = |d: &[u8]| *Block::encode(dag::Version::V1, dag::block::RAW, d.to_vec()).cid();
    let (wanted, asked) = (cid(&data[0]), cid(&data[1]));
    let ask = Outbound {
        wants: vec![
            want(wanted, WantType::Block, false),
            want(asked, WantType::Have, false),
        ],
        ..Default::default()
    }
    .encode(protocol::Version::V1_2);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut c = client(&node).await;
        let mut incoming = c.control.accept(PROTOCOL_1_2_0).expect("accept");
        let _ask = send_raw(&mut c, &node, &ask).await;
        // The node has taken the want in before the blocks are written.
        let me = c.peer().to_string();
        tokio::task::block_in_place(|| {
            wait_for(STEP, "the want on the node's list", || {
                let v = node.call("bitswap/wantlist", &[("peer", &me)]).ok().json();
                v["Keys"]
                    .as_array()
                    .is_some_and(|k| !k.is_empty())
                    .then_some(())
            });
            for d in &data {
                node.block_put(&[("cid-codec", "raw")], d);
            }
        });
        let mut s = node_stream(&mut incoming).await;
        wait_for_block_and_have(&mut s, &mut Vec::new(), wanted, asked).await;
    });
    node.stop();
}
