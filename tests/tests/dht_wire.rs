//! Hostile Kademlia input on the wire: a hand-built libp2p client (TCP + noise + yamux and
//! raw streams from `libp2p-stream`, no Kademlia behaviour of its own) connects to one
//! ipfsd daemon on 127.0.0.1 and writes malformed frames and unacceptable records on
//! `/ipfs/kad/1.0.0` (and the LAN DHT's `/ipfs/lan/kad/1.0.0`) streams.
//!
//! Each hostile stream must be dropped (reset or closed, never answered with data) or, for
//! a well-formed request carrying a record the node must refuse, answered as the protocol
//! says and the record left out of the store. Afterwards the node must still serve a
//! `FIND_NODE`, store a valid `/pk/` record sent the same way, hold exactly that one value
//! and no provider record, and answer its RPC API.
//!
//! Wire format (libp2p/specs `kad-dht`): each message is an unsigned-varint length prefix
//! followed by a `Message` protobuf; a request and its answer share one stream.

use futures::{AsyncReadExt, AsyncWriteExt};
use ipfsd_tests::kad_wire::{
    ADD_PROVIDER, FIND_NODE, KAD_LAN, KAD_WAN, PUT_VALUE, RawClient, find_node, frame, pb, prefix,
    put_value, read_frame,
};
use ipfsd_tests::testnet::{TestNode, init_repo};
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol};
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

/// Longest wait for any one network step (dial, stream open, answer, close).
const STEP: Duration = Duration::from_secs(5);
/// The node's `MAX_DHT_MESSAGE` (node/src/net/task/mod.rs).
const NODE_MAX_MESSAGE: usize = 64 * 1024;
/// The node's largest stored value (`ipns::MAX_RECORD_SIZE`).
const NODE_MAX_VALUE: usize = 10 * 1024;

/// Awaits `f` for at most [`STEP`]; panics naming `what` when it takes longer.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no progress within {STEP:?}"),
    }
}

/// `/pk/` ‖ binary peer id.
fn pk_key(peer: &PeerId) -> Vec<u8> {
    let mut key = b"/pk/".to_vec();
    key.extend_from_slice(&peer.to_bytes());
    key
}

/// The raw-stream client: a swarm with only `libp2p-stream`, driven by its own task.
struct Client {
    key: Keypair,
    node: PeerId,
    control: libp2p_stream::Control,
    _raw: RawClient,
}

impl Client {
    /// Dials `addr` (a `/p2p/` address on 127.0.0.1) and waits for the connection.
    async fn connect(addr: Multiaddr) -> Client {
        let (raw, peers) = RawClient::connect(
            Keypair::generate_ed25519(),
            std::slice::from_ref(&addr),
            STEP,
        )
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        Client {
            node: peers[0],
            key: raw.key.clone(),
            control: raw.control.clone(),
            _raw: raw,
        }
    }

    fn peer(&self) -> PeerId {
        self.key.public().to_peer_id()
    }

    async fn open(&mut self, protocol: &StreamProtocol) -> Stream {
        let node = self.node;
        within(
            &format!("opening {protocol}"),
            self.control.open_stream(node, protocol.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("opening {protocol}: {e}"))
    }

    /// Sends `bytes` on a fresh stream (half-closing it after if `close`) and expects the
    /// node to drop the stream without answering a single byte; says how it went.
    async fn expect_dropped(
        &mut self,
        case: &str,
        protocol: &StreamProtocol,
        bytes: &[u8],
        close: bool,
    ) -> String {
        let mut s = self.open(protocol).await;
        let sent = within(case, async {
            s.write_all(bytes).await?;
            s.flush().await?;
            if close {
                s.close().await?;
            }
            Ok::<_, io::Error>(())
        })
        .await;
        if let Err(e) = sent {
            return format!("reset while we were still writing ({:?})", e.kind());
        }
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(STEP, s.read(&mut buf)).await {
            Err(_) => {
                panic!("{case}: the node kept the stream open for {STEP:?} instead of dropping it")
            }
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => panic!(
                "{case}: the node answered hostile input with {n} bytes: {:02x?}",
                &buf[..n.min(64)]
            ),
            Ok(Err(e)) => return format!("reset (read error {:?})", e.kind()),
        }
        if close {
            return "closed by the node after our FIN".into();
        }
        // EOF on read: a yamux reset reads as EOF too; a write tells them apart.
        let probe = within(case, async {
            s.write_all(b"?").await?;
            s.flush().await
        })
        .await;
        match probe {
            Ok(()) => "closed (FIN) by the node, our side still writable".into(),
            Err(e) => format!(
                "reset by the node (EOF on read, write fails: {:?})",
                e.kind()
            ),
        }
    }

    /// Sends `msg` on `s` and reads the node's answer.
    async fn request_on(&self, case: &str, s: &mut Stream, msg: &pb::Message) -> pb::Message {
        within(case, async {
            s.write_all(&frame(msg)).await?;
            s.flush().await?;
            read_frame(s, NODE_MAX_MESSAGE).await
        })
        .await
        .unwrap_or_else(|e| panic!("{case}: no well-formed answer: {e}"))
    }

    /// Sends `msg` on a fresh stream and reads the node's answer.
    async fn request(
        &mut self,
        case: &str,
        protocol: &StreamProtocol,
        msg: &pb::Message,
    ) -> pb::Message {
        let mut s = self.open(protocol).await;
        self.request_on(case, &mut s, msg).await
    }

    /// Sends a PUT_VALUE and checks the node echoes it, as the protocol wants even for
    /// records it does not keep.
    async fn put(
        &mut self,
        case: &str,
        protocol: &StreamProtocol,
        key: &[u8],
        value: &[u8],
    ) -> &'static str {
        let answer = self.request(case, protocol, &put_value(key, value)).await;
        assert_eq!(answer.r#type, PUT_VALUE, "{case}: answer type");
        let record = answer.record.unwrap_or_default();
        assert_eq!(record.key, key, "{case}: echoed key");
        assert_eq!(record.value, value, "{case}: echoed value");
        "answered with the PUT_VALUE echo"
    }
}

/// `stats/dht`'s record counts: (values, provider keys, provider records).
fn records(node: &TestNode) -> (u64, u64, u64) {
    let stats = node.call("stats/dht", &[]).ok().json();
    let r = &stats["Records"];
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("stats/dht Records.{k} missing: {stats}"))
    };
    (n("Values"), n("ProviderKeys"), n("ProviderRecords"))
}

fn assert_nothing_stored(node: &TestNode, after: &str) {
    assert_eq!(
        records(node),
        (0, 0, 0),
        "after {after}: (values, provider keys, provider records) — a hostile record was stored"
    );
}

/// Runs one case and reports its outcome and how long it took.
fn step<T: std::fmt::Debug>(rt: &tokio::runtime::Runtime, case: &str, f: impl Future<Output = T>) {
    let started = Instant::now();
    let outcome = rt.block_on(f);
    eprintln!("{case}: {outcome:?} in {:?}", started.elapsed());
}

/// One daemon with no peers and nothing to announce, and the raw client connected to it
/// (on its own runtime).
fn lone_node_and_client() -> (tempfile::TempDir, TestNode, tokio::runtime::Runtime, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    init_repo(dir.path(), None, |c| {
        c.bootstrap = Vec::new();
        c.provide.interval = "0".into();
    });
    let node = TestNode::start(dir.path(), None);
    let addr: Multiaddr = node.swarm_addr().parse().expect("swarm multiaddr");
    assert!(
        node.swarm_addr().starts_with("/ip4/127.0.0.1/tcp/"),
        "only loopback TCP is dialled: {addr}"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = rt.block_on(Client::connect(addr));
    (dir, node, rt, client)
}

#[test]
fn node_drops_hostile_kademlia_input_and_stays_healthy() {
    let started = Instant::now();
    let (_dir, node, rt, mut client) = lone_node_and_client();
    assert_nothing_stored(&node, "start");
    assert_eq!(client.node.to_string(), node.peer_id(), "connected peer");
    let me = client.peer();
    eprintln!("connected as {me} in {:?}", started.elapsed());

    // 1. Bytes that are no length-prefixed protobuf. The stream is left open so that what
    //    drops it is the node's own decoder, not our EOF.
    let junk: [(&str, Vec<u8>); 3] = [
        ("1a varint that never ends", vec![0xff; 16]),
        (
            "1b a prefix followed by bytes that are no protobuf",
            [prefix(8), vec![0xff; 8]].concat(),
        ),
        (
            "1c a protobuf of unknown message type 99",
            frame(&pb::Message {
                r#type: 99,
                key: b"x".to_vec(),
                ..pb::Message::default()
            }),
        ),
    ];
    for (case, bytes) in &junk {
        step(
            &rt,
            case,
            client.expect_dropped(case, &KAD_WAN, bytes, false),
        );
    }
    assert_nothing_stored(&node, "garbage");

    // 2. Prefixes announcing more than the node accepts, with some bytes after them; the
    //    refusal must come from the prefix alone (the body never arrives).
    for (case, announced) in [
        ("2a a 10 MiB message announced", 10 << 20),
        ("2b one byte over the 64 KiB limit", NODE_MAX_MESSAGE + 1),
        ("2c usize::MAX announced", usize::MAX),
    ] {
        let bytes = [prefix(announced), vec![0x0a; 4096]].concat();
        step(
            &rt,
            case,
            client.expect_dropped(case, &KAD_WAN, &bytes, false),
        );
    }
    assert_nothing_stored(&node, "huge length prefixes");

    // 3-5 on both DHTs (they share one record store).
    let other = Keypair::generate_ed25519().public().encode_protobuf();
    let mut padded = client.key.public().encode_protobuf();
    // An unknown protobuf field (15, bytes) padding our own, matching public key to 20 KiB:
    // only the size limit can refuse it.
    let pad = 20 * 1024 - padded.len() - 4;
    padded.push(0x7a);
    padded.extend_from_slice(&prefix(pad));
    padded.resize(padded.len() + pad, 0x55);
    assert!(padded.len() > NODE_MAX_VALUE);
    let mut sha256 = vec![0x12, 0x20];
    sha256.extend_from_slice(&[0xab; 32]);
    for protocol in [&KAD_WAN, &KAD_LAN] {
        // 3. An oversized value under our own /pk/ key.
        let case = format!("3 {protocol}: PUT_VALUE of {} bytes", padded.len());
        step(
            &rt,
            &case,
            client.put(&case, protocol, &pk_key(&me), &padded),
        );
        assert_nothing_stored(&node, &case);

        // 4. Small values that fail validation.
        for (what, key, value) in [
            (
                "another key's public key under /pk/<us>",
                pk_key(&me),
                other.clone(),
            ),
            (
                "an arbitrary /v/foo key",
                b"/v/foo".to_vec(),
                b"bar".to_vec(),
            ),
            (
                "an /ipns/ key with no IPNS record",
                {
                    let mut k = b"/ipns/".to_vec();
                    k.extend_from_slice(&me.to_bytes());
                    k
                },
                b"not a record".to_vec(),
            ),
            (
                "a /pk/ key with no peer id",
                b"/pk/nope".to_vec(),
                other.clone(),
            ),
        ] {
            let case = format!("4 {protocol}: PUT_VALUE of {what}");
            step(&rt, &case, client.put(&case, protocol, &key, &value));
            assert_nothing_stored(&node, &case);
        }

        // 5. ADD_PROVIDER for keys that are no multihash, naming us as the provider (libp2p
        //    drops records naming someone else before the node's filter sees them). There
        //    is no answer to ADD_PROVIDER, so a FIND_NODE on the same stream follows: its
        //    answer comes only after the node has handled the announcement.
        let keys = [
            ("/v/not-a-multihash", b"/v/not-a-multihash".to_vec()),
            ("a sha2-256 multihash with trailing bytes", {
                let mut k = sha256.clone();
                k.extend_from_slice(b"tail");
                k
            }),
            ("200 bytes", vec![0x12; 200]),
        ];
        for (what, key) in keys {
            let case = format!("5 {protocol}: ADD_PROVIDER for {what}");
            let msg = pb::Message {
                r#type: ADD_PROVIDER,
                key,
                provider_peers: vec![pb::Peer {
                    id: me.to_bytes(),
                    addrs: vec![
                        "/ip4/127.0.0.1/tcp/9"
                            .parse::<Multiaddr>()
                            .expect("multiaddr")
                            .to_vec(),
                    ],
                    connection: 0,
                }],
                ..pb::Message::default()
            };
            step(&rt, &case, async {
                let mut s = client.open(protocol).await;
                within(&case, async {
                    s.write_all(&frame(&msg)).await?;
                    s.flush().await
                })
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
                let answer = client.request_on(&case, &mut s, &find_node(&me)).await;
                assert_eq!(answer.r#type, FIND_NODE, "{case}: barrier answer type");
                "not answered (as the protocol says); stream still usable"
            });
            assert_nothing_stored(&node, &case);
        }
    }

    // 6. A prefix of 100 followed by only 10 bytes, then our side closes.
    let truncated = [prefix(100), vec![0x08; 10]].concat();
    step(
        &rt,
        "6 truncated message",
        client.expect_dropped("6 truncated message", &KAD_WAN, &truncated, true),
    );
    assert_nothing_stored(&node, "a truncated message");

    // (a) The DHT still answers a well-formed FIND_NODE on a fresh stream.
    let target = PeerId::random();
    let answer = rt.block_on(client.request("(a) FIND_NODE", &KAD_WAN, &find_node(&target)));
    assert_eq!(answer.r#type, FIND_NODE, "FIND_NODE answer type");
    for p in &answer.closer_peers {
        PeerId::from_bytes(&p.id).expect("closer peer ids are peer ids");
    }
    eprintln!(
        "(a) FIND_NODE answered with {} closer peers",
        answer.closer_peers.len()
    );

    // (b) A valid /pk/ record sent the same way is stored: the filter is not refusing all.
    let pk = client.key.public().encode_protobuf();
    rt.block_on(client.put("(b) valid /pk/", &KAD_WAN, &pk_key(&me), &pk));
    let got = node
        .call("routing/get", &[("arg", &format!("/pk/{me}"))])
        .ok()
        .json();
    let extra = got["Extra"].as_str().expect("routing/get Extra");
    {
        use base64::Engine;
        let value = base64::engine::general_purpose::STANDARD
            .decode(extra)
            .expect("base64 value");
        assert_eq!(value, pk, "the stored /pk/ value is our public key");
    }

    // (c) Exactly that one value and no provider record got in.
    assert_eq!(
        records(&node),
        (1, 0, 0),
        "(values, provider keys, provider records) after the valid /pk/ record"
    );

    // (d) The API still answers.
    let id = node.call("id", &[]).ok().json();
    assert_eq!(id["ID"].as_str(), Some(node.peer_id()));

    drop(client);
    rt.shutdown_timeout(Duration::from_secs(1));
    node.stop();
    eprintln!("whole test took {:?}", started.elapsed());
}

/// `routing/get` of `path` on `node`: the value's bytes, or `None` when it answers no 200.
fn routing_get(node: &TestNode, path: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let r = node.call("routing/get", &[("arg", path)]);
    (r.status == 200).then(|| {
        base64::engine::general_purpose::STANDARD
            .decode(r.json()["Extra"].as_str().expect("Extra"))
            .expect("base64 value")
    })
}

/// Every kind of bad IPNS record, put over the wire by a peer, is refused with a reason
/// the node reports (`stats/dht` RecordsRefused, LastRefusal) and leaves the held record
/// alone; the RPC API refuses the same records with the reason in its 400.
#[test]
fn bad_ipns_records_are_refused_over_the_wire_with_their_reason() {
    use ipfsd_tests::ipns_forge::{bad_records, lower_sequence, record, tomorrow};
    let (_dir, node, rt, mut client) = lone_node_and_client();
    let owner = Keypair::generate_ed25519();
    let other = Keypair::generate_ed25519();
    let name = ipns::Name::new(owner.public().to_peer_id()).to_path();
    let key = ipfsd_tests::ipns_forge::routing_key(&owner);

    // A valid record (sequence 7) is stored: the filter is not refusing everything.
    let good = record(&owner, "/ipfs/bafkqaaa", 7, tomorrow());
    rt.block_on(client.put("valid record", &KAD_WAN, &key, &good));
    assert_eq!(routing_get(&node, &name).as_deref(), Some(&good[..]));
    let refused = |node: &TestNode| {
        let s = node.call("stats/dht", &[]).ok().json();
        (
            s["RecordsRefused"].as_u64().expect("RecordsRefused"),
            s["LastRefusal"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(refused(&node).0, 0);

    let cases: Vec<_> = bad_records(&owner, &other)
        .into_iter()
        .chain([lower_sequence(&owner, 3)])
        .collect();
    for (i, bad) in cases.iter().enumerate() {
        rt.block_on(client.put(bad.case, &KAD_WAN, &bad.key, &bad.value));
        let (count, last) = refused(&node);
        eprintln!("{}: refused: {last}", bad.case);
        assert_eq!(count, i as u64 + 1, "{}: counted as refused", bad.case);
        assert!(
            last.contains(bad.reason),
            "{}: reason {last:?} lacks {:?}",
            bad.case,
            bad.reason
        );
        assert!(
            last.starts_with(&name),
            "{}: the reason names the key: {last}",
            bad.case
        );
        assert_eq!(
            routing_get(&node, &name).as_deref(),
            Some(&good[..]),
            "{}: the held record is unchanged",
            bad.case
        );
    }

    // The API: the same records, refused before anything is sent, the reason in the 400.
    for bad in &cases {
        let r = node.call_with_file("routing/put", &[("arg", &name)], &bad.value);
        assert_eq!(r.status, 400, "{}: {}", bad.case, r.text());
        assert!(r.text().contains(bad.reason), "{}: {}", bad.case, r.text());
    }
    assert_eq!(routing_get(&node, &name).as_deref(), Some(&good[..]));

    drop(client);
    rt.shutdown_timeout(Duration::from_secs(1));
    node.stop();
}
