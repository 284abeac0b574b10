//! Seed inputs for every target, made with the crates' own encoders (so they are valid
//! inputs of the current code and reach deep into each decoder). The `seed_corpus`
//! example writes them to `fuzz/corpus/<target>/seed-<name>`; the replay test also runs
//! them fresh, so a seed that stops being valid is noticed.

use crate::bitswap::{key, ledger_body};
use crate::multipart::BOUNDARY;
use crate::source::join_blocks;
use bitswap::ledger::LedgerView;
use bitswap::protocol::{Outbound, Presence, Version as Dialect, Want, WantType};
use bytes::Bytes;
use dag::block::{DAG_PB, RAW, cid_of};
use dag::import::{Importer, Params, TreeEntry};
use dag::pb::{Link, Node};
use dag::unixfs::{Data, DataType, Mtime};
use dag::{Block, Cid, Version, car, hamt};
use std::time::{Duration, UNIX_EPOCH};

/// One seed: target, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        out.push((target, name.to_string(), bytes));
    };
    for (name, bytes) in dag_pb() {
        add("dag_pb", name, bytes);
    }
    for (name, bytes) in unixfs() {
        add("unixfs", name, bytes);
    }
    for (name, bytes) in hamt() {
        add("hamt", name, bytes);
    }
    for (name, bytes) in car() {
        add("car", name, bytes);
    }
    for (name, bytes) in bitswap() {
        add("bitswap_message", name, bytes);
    }
    for (name, bytes) in ledger() {
        add("ledger_exchange", name, bytes);
    }
    for (name, bytes) in dht() {
        add("dht_record", name, bytes);
    }
    for (name, bytes) in ipns() {
        add("ipns_record", name, bytes);
    }
    for (name, bytes) in multipart() {
        add("multipart_add", name, bytes);
    }
    for (name, bytes) in gateway() {
        add("gateway_request", name, bytes);
    }
    for (name, bytes) in config() {
        add("config_file", name, bytes);
    }
    for (name, value) in ipld_values() {
        let cbor = dag::codec::encode(dag::Codec::DagCbor, &value).expect("seed encodes");
        let json = dag::codec::encode(dag::Codec::DagJson, &value).expect("seed encodes");
        add("dag_cbor", name, cbor);
        add("dag_json", name, json);
    }
    // Spellings the decoders must refuse (dag-cbor) or accept and canonicalise (dag-json).
    add(
        "dag_cbor",
        "unsorted-keys",
        vec![0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02],
    );
    add("dag_cbor", "indefinite-list", vec![0x9f, 0x01, 0xff]);
    add("dag_cbor", "f32", vec![0xfa, 0x3f, 0x80, 0, 0]);
    add(
        "dag_json",
        "spaced-unsorted",
        br#" { "b" : [1, {"/": "bafkqaaa"}], "a" : {"/": {"bytes": "aGk"}} } "#.to_vec(),
    );
    out
}

/// IPLD data-model values for the dag-cbor and dag-json seeds: every kind, links, nesting.
fn ipld_values() -> Vec<(&'static str, dag::codec::Ipld)> {
    use dag::codec::Ipld;
    use std::collections::BTreeMap;
    let link = cid_of(Version::V1, RAW, b"linked");
    let v0 = cid_of(Version::V0, DAG_PB, b"v0 link");
    let map = |kv: Vec<(&str, Ipld)>| {
        Ipld::Map(
            kv.into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    vec![
        ("empty-map", map(vec![])),
        ("scalar", Ipld::Integer(-1_000_000_000_000)),
        (
            "kinds",
            map(vec![
                ("null", Ipld::Null),
                ("bool", Ipld::Bool(true)),
                ("big", Ipld::Integer(u64::MAX.into())),
                ("neg", Ipld::Integer(i64::MIN.into())),
                ("float", Ipld::Float(-0.125)),
                ("bytes", Ipld::Bytes(vec![0, 1, 2, 255])),
                ("ünïcödé ключ", Ipld::String("значение ✓".into())),
            ]),
        ),
        (
            "links",
            map(vec![
                ("a", Ipld::Link(link)),
                (
                    "list",
                    Ipld::List(vec![Ipld::Link(v0), Ipld::Integer(3), Ipld::Link(link)]),
                ),
                (
                    "nested",
                    map(vec![("deep", map(vec![("l", Ipld::Link(v0))]))]),
                ),
            ]),
        ),
    ]
}

/// Imports a small tree with tiny chunks; blocks root first (as `FuzzSource` wants).
fn import_tree(files: &[(&str, &[u8])], wrap: bool) -> Vec<Block> {
    let params = Params {
        cid_version: Version::V1,
        chunk_size: 8,
        max_links: 2,
        hamt_threshold: 64,
        hamt_fanout: 8,
        ..Params::default()
    };
    let mut blocks: Vec<Block> = Vec::new();
    let roots = {
        let mut importer = Importer::new(params, &mut blocks).expect("valid params");
        let entries = files.iter().map(|(path, content)| {
            Ok(TreeEntry::File {
                path: path.to_string(),
                reader: std::io::Cursor::new(content.to_vec()),
            })
        });
        importer.add_tree(entries, wrap).expect("seed tree imports")
    };
    let root = roots.last().expect("a root").cid;
    let i = blocks
        .iter()
        .position(|b| *b.cid() == root)
        .expect("root block");
    let r = blocks.remove(i);
    blocks.insert(0, r);
    blocks
}

fn joined(blocks: &[Block]) -> Vec<u8> {
    join_blocks(blocks.iter().map(|b| &b.data()[..]))
}

fn dag_pb() -> Vec<(&'static str, Vec<u8>)> {
    let leaf = Node {
        links: vec![],
        data: Some(
            Data::file_leaf(Bytes::from_static(b"hello world\n"))
                .encode()
                .into(),
        ),
    };
    let dir = Node {
        links: vec![Link::new(
            cid_of(Version::V0, DAG_PB, &leaf.encode()),
            "hello.txt",
            20,
        )],
        data: Some(Data::new(DataType::Directory).encode().into()),
    };
    let file = import_tree(&[("f", b"0123456789abcdefghijklmnopqrstuvwxyz")], false);
    let tree = import_tree(&[("d/a", b"first file"), ("d/b", b"second")], true);
    vec![
        (
            "empty-dir",
            Node {
                links: vec![],
                data: Some(Data::new(DataType::Directory).encode().into()),
            }
            .encode(),
        ),
        ("leaf", leaf.encode()),
        ("dir", dir.encode()),
        ("file-dag", joined(&file)),
        ("tree-dag", joined(&tree)),
    ]
}

fn unixfs() -> Vec<(&'static str, Vec<u8>)> {
    let mut meta = Data::file_leaf(Bytes::from_static(b"abc"));
    meta.mode = Some(0o644);
    meta.mtime = Some(Mtime {
        seconds: 1_700_000_000,
        nanos: Some(5),
    });
    meta.blocksizes = vec![1, 2, 300];
    let shard = Data {
        data: Bytes::from_static(&[0x81]),
        hash_type: Some(hamt::HASH_MURMUR3),
        fanout: Some(256),
        ..Data::new(DataType::HamtShard)
    };
    let symlink = Data {
        data: Bytes::from_static(b"../target"),
        ..Data::new(DataType::Symlink)
    };
    // Packed blocksizes (field 4, wire type 2), as some old encoders wrote them.
    let packed = vec![0x08, 0x02, 0x22, 0x03, 0x01, 0x80, 0x01];
    vec![
        ("file-meta", meta.encode()),
        ("shard", shard.encode()),
        ("symlink", symlink.encode()),
        ("dir", Data::new(DataType::Directory).encode()),
        ("packed-blocksizes", packed),
    ]
}

fn hamt() -> Vec<(&'static str, Vec<u8>)> {
    let names: Vec<String> = (0..40).map(|i| format!("file-{i}")).collect();
    let entries = names
        .iter()
        .map(|n| hamt::Entry {
            name: n.clone(),
            cid: cid_of(Version::V1, RAW, n.as_bytes()),
            tsize: 1,
        })
        .collect();
    let (mut blocks, _) = hamt::build(entries, Version::V1, 8).expect("distinct names");
    if let Some(root) = blocks.pop() {
        blocks.insert(0, root);
    }
    let mut lookup = vec![0u8];
    lookup.extend_from_slice(b"file-3\nfile-17\nmissing");
    lookup.extend_from_slice(crate::source::BLOCK_SEP);
    lookup.extend_from_slice(&joined(&blocks));
    let mut build = vec![1u8, 0];
    build.extend_from_slice(names.join("\n").as_bytes());
    let mut build256 = vec![1u8, 5];
    build256.extend_from_slice(b"a\nb\nc\nindex.html\n\xc3\xa9t\xc3\xa9");
    vec![
        ("lookup", lookup),
        ("build-fanout8", build),
        ("build-fanout256", build256),
    ]
}

fn car() -> Vec<(&'static str, Vec<u8>)> {
    let tree = import_tree(&[("d/a", b"first file"), ("d/b", b"second")], true);
    let root = *tree[0].cid();
    let mut v1 = Vec::new();
    car::write(
        &mut v1,
        &[root],
        tree.iter().cloned().map(Ok::<_, std::convert::Infallible>),
    )
    .expect("in memory");
    // CARv2: pragma, 40-byte header (characteristics, data offset/size, index offset), v1.
    let mut v2 = vec![
        0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02,
    ];
    let offset = (v2.len() + 40) as u64;
    v2.extend_from_slice(&[0u8; 16]);
    v2.extend_from_slice(&offset.to_le_bytes());
    v2.extend_from_slice(&(v1.len() as u64).to_le_bytes());
    v2.extend_from_slice(&0u64.to_le_bytes());
    v2.extend_from_slice(&v1);
    let mut empty = Vec::new();
    car::write(
        &mut empty,
        &[],
        std::iter::empty::<Result<Block, std::convert::Infallible>>(),
    )
    .expect("in memory");
    vec![("v1", v1), ("v2", v2), ("empty", empty)]
}

fn bitswap() -> Vec<(&'static str, Vec<u8>)> {
    let b0 = Block::encode(Version::V0, DAG_PB, Node::default().encode());
    let b1 = Block::encode(Version::V1, RAW, &b"raw block"[..]);
    let want = |cid: Cid, want_type, cancel| Want {
        cid,
        priority: 7,
        cancel,
        want_type,
        send_dont_have: true,
    };
    let msg = Outbound {
        wants: vec![
            want(*b0.cid(), WantType::Block, false),
            want(*b1.cid(), WantType::Have, false),
            want(cid_of(Version::V1, RAW, b"x"), WantType::Block, true),
        ],
        full: true,
        blocks: vec![b0.clone(), b1.clone()],
        presences: vec![
            (*b0.cid(), Presence::Have),
            (cid_of(Version::V1, RAW, b"y"), Presence::DontHave),
        ],
    };
    let v12 = msg.encode(Dialect::V1_2);
    let mut two = v12.clone();
    two.extend_from_slice(&msg.encode(Dialect::V1_1));
    vec![
        ("v1.2", v12),
        ("v1.1-after-v1.2", two),
        ("v1.0", msg.encode(Dialect::V1_0)),
        ("empty", Outbound::default().encode(Dialect::V1_2)),
    ]
}

fn ledger() -> Vec<(&'static str, Vec<u8>)> {
    let view = LedgerView {
        bytes_sent: 1 << 20,
        bytes_recv: 300,
        blocks_sent: 4,
        blocks_recv: 1,
    };
    vec![
        ("signed", ledger_body(&view)),
        ("signed-zero", ledger_body(&LedgerView::default())),
    ]
}

/// A valid record for peer 1's name, valid until 2100.
fn record(seq: u64) -> Vec<u8> {
    let eol = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
    ipns::Record::create(
        &key(1),
        b"/ipfs/bafkqaaa",
        seq,
        eol,
        Duration::from_secs(60),
    )
    .expect("record")
    .encode()
}

fn dht() -> Vec<(&'static str, Vec<u8>)> {
    let sep = crate::source::BLOCK_SEP;
    let pk = key(1).public().encode_protobuf();
    let provider = cid_of(Version::V1, RAW, b"x").hash().to_bytes();
    vec![
        ("ipns", [&[0u8][..], sep, &record(1)].concat()),
        (
            "ipns-vs-held",
            [&[0u8][..], sep, &record(2), sep, &record(1)].concat(),
        ),
        ("pk", [&[1u8][..], sep, &pk].concat()),
        ("provider", [&[4u8][..], &provider, sep, b"v"].concat()),
    ]
}

fn ipns() -> Vec<(&'static str, Vec<u8>)> {
    let name = ipns::Name::new(key(1).public().to_peer_id());
    vec![
        ("record", record(3)),
        ("pk", key(1).public().encode_protobuf()),
        ("routing-key", name.routing_key()),
        ("path", format!("{}/a/b", name.to_path()).into_bytes()),
        ("time", b"2123-08-14T12:17:03.694052+01:00".to_vec()),
    ]
}

fn part(name: &str, ctype: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    out
}

fn multipart() -> Vec<(&'static str, Vec<u8>)> {
    let end = format!("--{BOUNDARY}--\r\n").into_bytes();
    let one = [
        part("hello.txt", "application/octet-stream", b"hello world\n"),
        end.clone(),
    ]
    .concat();
    let tree = [
        part("dir", "application/x-directory", b""),
        part(
            "dir%2Fa.txt",
            "application/octet-stream",
            b"0123456789abcdefghij",
        ),
        part("dir%2Fsub%2Fb", "application/octet-stream", b"b"),
        part("dir%2Flink", "application/symlink", b"a.txt"),
        end.clone(),
    ]
    .concat();
    let many: Vec<u8> = (0..12)
        .map(|i| part(&format!("d%2Ff{i}"), "application/octet-stream", b"x"))
        .chain([end])
        .collect::<Vec<_>>()
        .concat();
    vec![
        ("one-file", [&[0u8][..], &one].concat()),
        ("tree-wrapped", [&[0x80 | 0x13][..], &tree].concat()),
        ("sharded", [&[0x40 | 0x80][..], &many].concat()),
    ]
}

fn gateway() -> Vec<(&'static str, Vec<u8>)> {
    let v0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
    let v1 = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";
    let name = ipns::Name::new(key(1).public().to_peer_id());
    let lines = |l: &[&str]| l.join("\n").into_bytes();
    vec![
        (
            "path",
            lines(&[
                "127.0.0.1:8080",
                &format!("/ipfs/{v0}/a/b%20c/"),
                "",
                "",
                "bytes=0-99",
                "1000",
            ]),
        ),
        (
            "subdomain",
            lines(&[
                &format!("{v1}.ipfs.localhost:8080"),
                "/index.html",
                "format=raw",
                "",
                "bytes=-5",
                "10",
            ]),
        ),
        (
            "to-subdomain",
            lines(&[
                "localhost:8080",
                &format!("/ipfs/{v0}/x"),
                "a=b",
                "application/vnd.ipld.car",
                "",
                "0",
            ]),
        ),
        (
            "name",
            lines(&[
                "127.0.0.1",
                &format!("{}/sub/", name.to_path()),
                "format=car&dag-scope=entity&entity-bytes=0:10",
                "",
                "bytes=5-",
                "100",
                &format!("/ipfs/{v1}/x"),
            ]),
        ),
        (
            "name-subdomain",
            lines(&[
                &format!("{name}.ipns.localhost"),
                "/",
                "filename=a.txt&download=true",
                "text/html",
                "",
                "",
                &format!("/ipfs/{v0}"),
            ]),
        ),
    ]
}

fn config() -> Vec<(&'static str, Vec<u8>)> {
    let default = serde_json::to_vec_pretty(&node::Config::default()).expect("serializes");
    let public = node::config::apply_profile(&node::Config::default(), "public").expect("profile");
    vec![
        ("default", default),
        ("public", serde_json::to_vec(&public).expect("serializes")),
        (
            "sparse",
            br#"{"Import": {"CidVersion": 1}, "Provide": {"Interval": "12h"}}"#.to_vec(),
        ),
    ]
}
