//! `swarm`, `bootstrap`, `routing`, `stats` and `config profile` through the real binary:
//! two daemons on 127.0.0.1 (ephemeral ports) that connect, find each other's content and
//! addresses, and disconnect; the bootstrap list edited with and without a daemon.

use crate::common::{Repo, random_bytes, s};
use serde_json::Value;

fn id(r: &Repo) -> Value {
    serde_json::from_str(&r.ok(&["id"])).expect("id JSON")
}

#[test]
fn two_daemons_connect_find_and_disconnect() {
    let a = Repo::init_online();
    let b = Repo::init_online();
    let a_id = id(&a);
    let a_peer = a_id["ID"].as_str().expect("ID").to_string();
    let a_addr = a_id["Addresses"][0]
        .as_str()
        .expect("an address")
        .to_string();
    assert!(a_addr.starts_with("/ip4/127.0.0.1/tcp/"), "{a_addr}");
    assert!(
        a_id["Protocols"]
            .as_array()
            .expect("Protocols")
            .iter()
            .any(|p| p == "/ipfs/kad/1.0.0")
    );
    assert_eq!(
        b.ok(&["swarm", "connect", &a_addr]).trim(),
        format!("connect {a_peer} success")
    );
    let peers = b.ok(&["swarm", "peers"]);
    assert!(peers.contains(&format!("/p2p/{a_peer}")), "{peers}");
    let listen = a.ok(&["swarm", "addrs", "listen"]);
    assert!(a_addr.starts_with(listen.trim()), "{listen} vs {a_addr}");

    // Content added on A is announced; B finds A as its provider.
    let file = a.file("f", &random_bytes(7, 50_000));
    let cid = a.add(&[s(&file)]);
    let mut found = String::new();
    for _ in 0..50 {
        found = b.ok(&["routing", "findprovs", &cid]);
        if found.lines().any(|l| l == a_peer) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(found.lines().any(|l| l == a_peer), "providers: {found:?}");
    // An explicit provide of something held works; of something not held is refused.
    a.ok(&["routing", "provide", &cid]);
    let err = a.fail(&[
        "routing",
        "provide",
        "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    ]);
    assert!(err.contains("not in the local store"), "{err}");
    let stats: Value = serde_json::from_str(&a.ok(&["stats", "provide"])).expect("JSON");
    assert!(stats["TotalProvides"].as_u64().unwrap_or(0) >= 2, "{stats}");

    // findpeer answers A's listen address.
    let addrs = b.ok(&["routing", "findpeer", &a_peer]);
    assert!(addrs.lines().any(|l| a_addr.starts_with(l)), "{addrs}");

    assert_eq!(
        b.ok(&["swarm", "disconnect", &a_peer]).trim(),
        format!("disconnect {a_peer} success")
    );
    let peers = b.ok(&["swarm", "peers"]);
    assert!(!peers.contains(&a_peer), "{peers}");
    let err = b.fail(&[
        "swarm",
        "connect",
        "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
    ]);
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn network_commands_need_the_daemon() {
    let r = Repo::init();
    for args in [
        &["swarm", "peers"][..],
        &[
            "routing",
            "findpeer",
            "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
        ],
        &["stats", "provide"],
    ] {
        let err = r.fail(args);
        assert!(err.contains("start `ipfsd daemon`"), "{args:?}: {err}");
    }
}

#[test]
fn bootstrap_list_is_empty_by_default_and_editable() {
    let mut r = Repo::init();
    assert_eq!(r.ok(&["bootstrap", "list"]), "");
    let peer = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
    assert_eq!(r.ok(&["bootstrap", "add", peer]).trim(), peer);
    assert_eq!(r.ok(&["bootstrap", "add", peer]), "", "added once");
    let err = r.fail(&["bootstrap", "add", "/ip4/127.0.0.1/tcp/4001"]);
    assert!(err.contains("/p2p/"), "{err}");
    assert_eq!(r.ok(&["bootstrap", "list"]).trim(), peer);

    // The same through a daemon (it edits the config file; read at the next start).
    r.start_daemon();
    assert_eq!(r.ok(&["bootstrap", "list"]).trim(), peer);
    assert_eq!(
        r.ok(&[
            "bootstrap",
            "rm",
            "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
        ])
        .trim(),
        peer
    );
    assert_eq!(r.ok(&["bootstrap", "list"]), "");
    r.stop_daemon();

    // The public profile fills the list (never started here); `local` empties it again.
    r.ok(&["config", "profile", "apply", "public"]);
    let public = r.ok(&["bootstrap", "list"]);
    assert!(public.lines().count() >= 4, "{public}");
    r.ok(&["config", "profile", "apply", "local"]);
    assert_eq!(r.ok(&["bootstrap", "list"]), "");
    let err = r.fail(&["config", "profile", "apply", "nope"]);
    assert!(err.contains("unknown profile"), "{err}");
}
