//! `node::Node` embedded in a process, with no HTTP anywhere: several in-memory nodes find,
//! fetch, pin, publish and resolve across each other; the rules the RPC API and the CLI
//! rely on (resolve before publishing, announce after adding) hold when the node is called
//! directly; and a node dropped in the middle of a transfer leaves no task behind.

use futures::StreamExt;
use node::{AddOptions, Event, Node, Publish};
use std::time::{Duration, Instant};

/// Longest wait for something that needs the DHT to settle.
const SETTLE: Duration = Duration::from_secs(20);

async fn spawn(bootstrap: &[String]) -> Node {
    Node::builder()
        .in_memory()
        .listen(["/ip4/127.0.0.1/tcp/0"])
        .bootstrap(bootstrap.iter().cloned())
        .spawn()
        .await
        .expect("node starts")
}

async fn addr(node: &Node) -> String {
    let addrs = node.listen_addrs().await.expect("listen addrs");
    let a = addrs.first().expect("a listen address").to_string();
    assert!(a.starts_with("/ip4/127.0.0.1/"), "{a}");
    a
}

fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Polls `f` until it answers `Some`, for at most [`SETTLE`].
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + SETTLE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {SETTLE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_add_find_fetch_pin_publish_resolve() {
    let first = spawn(&[]).await;
    let boot = vec![addr(&first).await];
    let mut nodes = vec![first];
    for _ in 1..5 {
        nodes.push(spawn(&boot).await);
    }
    for n in &nodes[1..] {
        eventually("connected to the bootstrap node", || async {
            let peers = n.swarm().peers().await.ok()?;
            (!peers.is_empty()).then_some(())
        })
        .await;
    }

    // Node 0 adds a directory of two files (one spans several blocks).
    let dir = tempfile::tempdir().expect("tmp");
    let big = content(3 << 20, 1);
    std::fs::create_dir(dir.path().join("site")).expect("mkdir");
    std::fs::write(dir.path().join("site/big.bin"), &big).expect("write");
    std::fs::write(dir.path().join("site/note.txt"), b"hello from node 0\n").expect("write");
    let root = nodes[0]
        .add(dir.path().join("site"), AddOptions::default())
        .root()
        .await
        .expect("add")
        .cid;

    // Every other node finds node 0 as a provider through the DHT, then streams the file
    // from it over BitSwap.
    for n in &nodes[1..] {
        let want = nodes[0].peer_id();
        eventually("node 0 found as a provider", || async {
            let found = n.routing().find_providers(&root, 8).await.ok()?;
            found.iter().any(|p| p.peer == want).then_some(())
        })
        .await;
        let got = n
            .cat(&format!("/ipfs/{root}/big.bin"), ..)
            .await
            .expect("cat")
            .bytes()
            .await
            .expect("stream");
        assert!(got == big, "byte-for-byte");
    }

    // Node 2 pins the whole directory (fetching what it lacks) and provides it.
    let mut events = nodes[2].events();
    nodes[2]
        .pin()
        .add(&root.to_string(), true)
        .await
        .expect("pin");
    assert!(nodes[2].store().has(&root).expect("has"));
    let mut pinned = false;
    while let Ok(ev) = events.try_recv() {
        pinned |= ev == Event::Pinned { root };
    }
    assert!(pinned, "a Pinned event");
    let listed = nodes[2].ls(&root.to_string()).await.expect("ls");
    let names: Vec<_> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["big.bin", "note.txt"]);

    // Node 0 publishes its name; every node resolves it to the directory.
    let published = nodes[0]
        .names()
        .publish(&format!("/ipfs/{root}"), Publish::default())
        .await
        .expect("publish");
    assert!(published.online, "the record reached the DHT");
    let name = format!("/ipns/{}", published.name);
    for n in &nodes[1..] {
        let resolved = n.names().resolve(&name).await.expect("resolve");
        assert_eq!(resolved, format!("/ipfs/{root}"));
    }
    // A path through the name reads like any other.
    let note = nodes[3]
        .cat(&format!("{name}/note.txt"), ..)
        .await
        .expect("cat through the name")
        .bytes()
        .await
        .expect("stream");
    assert_eq!(&note[..], b"hello from node 0\n");

    // With node 0 gone, node 4 still gets the file from node 2's pin.
    nodes[0].shutdown().await;
    let want = nodes[2].peer_id();
    eventually("node 2 found as a provider", || async {
        let found = nodes[4].routing().find_providers(&root, 8).await.ok()?;
        found.iter().any(|p| p.peer == want).then_some(())
    })
    .await;
    nodes[4]
        .pin()
        .add(&root.to_string(), true)
        .await
        .expect("pin from node 2");
    assert!(
        nodes[4]
            .pin()
            .verify()
            .await
            .expect("verify")
            .iter()
            .all(dag::store::PinReport::is_ok)
    );
    for n in &nodes {
        n.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_checks_the_path_first_and_announces() {
    // Offline and with nothing stored: the value must resolve before it is signed.
    let alone = Node::builder()
        .in_memory()
        .offline()
        .spawn()
        .await
        .expect("node");
    let missing = alone
        .add(&b"never stored"[..], AddOptions::default().only_hash(true))
        .root()
        .await
        .expect("hash")
        .cid;
    let refused = alone
        .names()
        .publish(&missing.to_string(), Publish::default().allow_offline(true))
        .await
        .expect_err("an unresolvable value is refused");
    assert!(
        refused.to_string().contains(&missing.to_string()),
        "{refused}"
    );
    assert!(
        alone
            .names()
            .resolve(&alone.peer_id().to_string())
            .await
            .is_err()
    );
    // Skipping the check is explicit.
    alone
        .names()
        .publish(
            &missing.to_string(),
            Publish::default().allow_offline(true).no_resolve(true),
        )
        .await
        .expect("published without the check");
    // A key made in memory signs too.
    let key = alone.keys().generate("site", "ed25519").expect("key");
    let stored = alone
        .add(&b"stored"[..], AddOptions::default())
        .root()
        .await
        .expect("add")
        .cid;
    let p = alone
        .names()
        .publish(
            &stored.to_string(),
            Publish::default().key("site").allow_offline(true),
        )
        .await
        .expect("publish with a named key");
    assert_eq!(p.name.peer_id(), key.peer);
    assert!(!p.online);
    alone.shutdown().await;

    // Online: what is added is announced (no explicit provide), so a peer finds it.
    let a = spawn(&[]).await;
    let b = spawn(&[addr(&a).await]).await;
    let cid = a
        .add(content(300 << 10, 2), AddOptions::default())
        .root()
        .await
        .expect("add")
        .cid;
    let want = a.peer_id();
    eventually("the add was announced", || async {
        let found = b.routing().find_providers(&cid, 4).await.ok()?;
        found.iter().any(|p| p.peer == want).then_some(())
    })
    .await;
    // A name published by a resolves at b.
    let p = a
        .names()
        .publish(&cid.to_string(), Publish::default())
        .await
        .expect("publish");
    assert_eq!(
        b.names()
            .resolve(&p.name.to_string())
            .await
            .expect("resolve"),
        format!("/ipfs/{cid}")
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cat_streams_a_range_of_content_a_peer_holds() {
    let a = spawn(&[]).await;
    let mut events = a.events();
    let b = spawn(&[addr(&a).await]).await;
    let data = content(2 << 20, 3);
    let cid = a
        .add(data.clone(), AddOptions::default())
        .root()
        .await
        .expect("add")
        .cid;
    assert!(!b.store().has(&cid).expect("has"));
    let mut stream = b.cat(&cid.to_string(), 1000..1_500_000).await.expect("cat");
    assert_eq!(stream.size(), data.len() as u64);
    assert_eq!(stream.len(), 1_499_000);
    let mut got = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = stream.next().await {
        got.extend_from_slice(&piece.expect("piece"));
        pieces += 1;
    }
    assert!(pieces > 1, "streamed in pieces, not one buffer");
    assert!(got[..] == data[1000..1_500_000]);
    // a saw b connect, and its own add.
    let (mut connected, mut added) = (false, false);
    while let Ok(ev) = events.try_recv() {
        connected |= ev == Event::PeerConnected(b.peer_id());
        added |= ev == Event::Added { root: cid };
    }
    assert!(
        connected && added,
        "events: connected {connected}, added {added}"
    );
    // Not a file: refused before any byte.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("f"), b"x").expect("write");
    let d = a
        .add(dir.path(), AddOptions::default())
        .root()
        .await
        .expect("add")
        .cid;
    assert!(b.cat(&d.to_string(), ..).await.is_err());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_dropped_mid_transfer_ends_every_task() {
    let seeder = spawn(&[]).await;
    let leecher = spawn(&[addr(&seeder).await]).await;
    let data = content(16 << 20, 4);
    let cid = seeder
        .add(data, AddOptions::default())
        .root()
        .await
        .expect("add")
        .cid;
    let tasks = leecher.tasks();
    let mut stream = leecher.cat(&cid.to_string(), ..).await.expect("cat");
    let first = stream.next().await.expect("a piece").expect("ok");
    assert!(!first.is_empty());
    assert!(!tasks.is_empty(), "the leecher runs tasks");
    // The transfer is under way; the last handle goes.
    drop(leecher);
    tokio::time::timeout(Duration::from_secs(10), tasks.wait())
        .await
        .expect("every task of the dropped node ended");
    assert!(tasks.is_closed());
    assert_eq!(tasks.len(), 0);
    // The reader is told: the stream ends with an error, never a short success.
    let mut failed = false;
    let mut read = first.len();
    while let Some(piece) = stream.next().await {
        match piece {
            Ok(p) => read += p.len(),
            Err(_) => failed = true,
        }
    }
    assert!(
        failed || read == 16 << 20,
        "short read of {read} bytes without an error"
    );
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_stream_dropped_early_pins_nothing() {
    let node = Node::builder()
        .in_memory()
        .offline()
        .spawn()
        .await
        .expect("node");
    let mut stream = node.add(
        node::AddInput::Reader {
            reader: Box::new(std::io::repeat(7).take(64 << 20)),
            name: "big".into(),
        },
        AddOptions::default().progress(true),
    );
    let first = stream.next().await.expect("an event").expect("ok");
    assert!(matches!(first, node::AddEvent::Progress { .. }));
    drop(stream);
    let tasks = node.tasks();
    node.shutdown().await;
    assert_eq!(tasks.len(), 0);
    // Nothing was pinned; what the import had written is garbage, and GC takes it all.
    assert!(node.pin().ls().await.expect("pins").is_empty());
    node.store().gc().expect("gc");
    assert_eq!(node.store().stat().expect("stat").num_blocks, 0);
}

use std::io::Read as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_disk_keeps_its_content_names_and_identity() {
    let dir = tempfile::tempdir().expect("tmp");
    let repo = dir.path().join("repo");
    let node = Node::builder()
        .repo(&repo)
        .offline()
        .spawn()
        .await
        .expect("creates");
    let peer = node.peer_id();
    let cid = node
        .add(&b"kept\n"[..], AddOptions::default())
        .root()
        .await
        .expect("add")
        .cid;
    let p = node
        .names()
        .publish(&cid.to_string(), Publish::default().allow_offline(true))
        .await
        .expect("publish");
    node.shutdown().await;
    drop(node);
    let node = Node::builder()
        .repo(&repo)
        .offline()
        .spawn()
        .await
        .expect("reopens");
    assert_eq!(node.peer_id(), peer);
    assert_eq!(node.repo_path(), Some(repo.as_path()));
    let kept = node
        .cat(&cid.to_string(), ..)
        .await
        .expect("cat")
        .bytes()
        .await
        .expect("read");
    assert_eq!(&kept[..], b"kept\n");
    assert_eq!(
        node.names()
            .resolve(&p.name.to_string())
            .await
            .expect("resolve"),
        format!("/ipfs/{cid}")
    );
    assert_eq!(node.pin().ls().await.expect("pins").len(), 1);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_stops_the_swarm_it_had_started() {
    let dir = tempfile::tempdir().expect("tmp");
    let repo = dir.path().join("repo");
    Node::builder()
        .repo(&repo)
        .offline()
        .spawn()
        .await
        .expect("creates")
        .shutdown()
        .await;
    // The IPNS state is read after the swarm has started: the start fails there.
    std::fs::write(repo.join("ipns.json"), b"not json").expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let failed = Node::builder()
        .repo(&repo)
        .listen([format!("/ip4/127.0.0.1/tcp/{port}")])
        .spawn()
        .await
        .expect_err("a damaged IPNS state fails the start");
    assert!(failed.to_string().contains("ipns.json"), "{failed}");
    // Nothing of the half-started node is left: its swarm no longer holds the port.
    eventually("the swarm's port released", || async {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .ok()
            .map(drop)
    })
    .await;
}

/// A node listening on TCP and QUIC, and the first of its listen addresses of each kind.
async fn spawn_both() -> (Node, String, String) {
    let node = Node::builder()
        .in_memory()
        .listen(["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"])
        .spawn()
        .await
        .expect("node starts");
    let addrs = node.listen_addrs().await.expect("listen addrs");
    let pick = |quic: bool| {
        addrs
            .iter()
            .map(|a| a.to_string())
            .find(|a| a.contains("/quic-v1") == quic)
            .expect("a listen address of each kind")
    };
    let (tcp, quic) = (pick(false), pick(true));
    (node, tcp, quic)
}

/// The address `node` reaches `peer` at, once connected.
async fn connection_to(node: &Node, peer: libp2p::PeerId) -> String {
    eventually("connected", || async {
        let peers = node.swarm().peers().await.ok()?;
        peers
            .into_iter()
            .find(|c| c.peer == peer)
            .map(|c| c.addr.to_string())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_known_at_tcp_and_quic_is_reached_over_quic() {
    let (a, tcp, quic) = spawn_both().await;
    let id = a.peer_id();
    // TCP listed first: the order of the list does not decide, the transport does.
    let b = spawn(&[format!("{tcp}/p2p/{id}"), format!("{quic}/p2p/{id}")]).await;
    let via = connection_to(&b, id).await;
    assert!(via.contains("/quic-v1"), "connected over {via}");
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_quic_address_falls_back_to_tcp() {
    let a = spawn(&[]).await;
    let id = a.peer_id();
    let tcp = addr(&a).await;
    // A UDP port nobody answers on: the QUIC dial never completes, TCP follows its head
    // start and connects.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let port = silent.local_addr().expect("udp port").port();
    let dead = format!("/ip4/127.0.0.1/udp/{port}/quic-v1/p2p/{id}");
    let b = spawn(&[dead, format!("{tcp}/p2p/{id}")]).await;
    let via = connection_to(&b, id).await;
    assert!(via.contains("/tcp/"), "connected over {via}");
    b.shutdown().await;
    a.shutdown().await;
    drop(silent);
}
