//! The IPLD RPC commands in Kubo's shapes, on daemons on 127.0.0.1: `dag/get`,
//! `dag/resolve` and `dag/stat` on a daemon that does not hold the blocks (they come over
//! BitSwap from a second ipfsd, through dag-json, dag-cbor and raw blocks; sha2-256 only:
//! other hash functions over BitSwap are another lane's work); `dag/stat`'s progress
//! stream; `dag/put` of many nodes in one request and its all-or-nothing pin; `cid/*`.
//! (The CLI tests drive every command through these routes too, in their online mode.)

use ipfsd_tests::testnet::{TestNode, init_repo};

fn start(dir: &std::path::Path, name: &str) -> TestNode {
    let path = dir.join(name);
    init_repo(&path, None, |_| {});
    TestNode::start(&path, None)
}

fn put(node: &TestNode, args: &[(&str, &str)], input: &[u8]) -> String {
    let lines = node.call_with_file("dag/put", args, input).ok().lines();
    lines[0]["Cid"]["/"].as_str().expect("Cid").to_string()
}

#[test]
fn dag_get_resolve_and_stat_fetch_over_bitswap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path(), "a");
    let b = start(dir.path(), "b");
    b.call("swarm/connect", &[("arg", a.swarm_addr())]).ok();

    let raw = a.block_put(&[("cid-codec", "raw")], b"leaf bytes");
    let mid = put(
        &a,
        &[],
        format!(r#"{{"leaf":{{"/":"{raw}"}},"xs":[1.5,"two"]}}"#).as_bytes(),
    );
    let root = put(
        &a,
        &[("store-codec", "dag-json")],
        format!(r#"{{"mid":{{"/":"{mid}"}}}}"#).as_bytes(),
    );

    // b has none of them: each read fetches what it walks through.
    let got = b
        .call("dag/get", &[("arg", &format!("{root}/mid/xs/1"))])
        .ok();
    assert_eq!(got.text(), r#""two""#);
    let r = b
        .call("dag/resolve", &[("arg", &format!("/ipfs/{root}/mid/leaf"))])
        .ok()
        .json();
    assert_eq!(r["Cid"]["/"], raw.as_str());
    assert_eq!(r["RemPath"], "");
    let leaf = b
        .call(
            "dag/get",
            &[
                ("arg", &format!("{root}/mid/leaf")),
                ("output-codec", "raw"),
            ],
        )
        .ok();
    assert_eq!(leaf.body, b"leaf bytes");
    let s = b
        .call("dag/stat", &[("arg", &root), ("progress", "false")])
        .ok()
        .json();
    assert_eq!(s["UniqueBlocks"], 3, "{s}");
    assert_eq!(s["DagStats"][0]["NumBlocks"], 3, "{s}");
    assert_eq!(s["DagStats"][0]["Cid"]["/"], root.as_str(), "{s}");
    assert_eq!(s["SharedSize"], 0, "{s}");
    assert_eq!(s["Ratio"], 1.0, "{s}");
    let a_stat = a
        .call("dag/stat", &[("arg", &root), ("progress", "false")])
        .ok()
        .json();
    assert_eq!(a_stat, s);
    a.stop();
    b.stop();
}

#[test]
fn dag_stat_streams_progress() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path(), "a");
    // 599 nodes in one dag/put (one answer line each), and a root linking to them all:
    // progress lines every 256 blocks, then the summary.
    let values: Vec<Vec<u8>> = (0..599)
        .map(|i| format!("{{\"i\":{i}}}").into_bytes())
        .collect();
    let parts: Vec<(&str, Option<&[u8]>)> =
        values.iter().map(|v| ("", Some(v.as_slice()))).collect();
    let reply = a.call_with_parts("dag/put", &[], &parts).ok();
    let cids: Vec<String> = reply
        .lines()
        .iter()
        .map(|l| l["Cid"]["/"].as_str().expect("Cid").to_string())
        .collect();
    assert_eq!(cids.len(), 599);
    let links: Vec<String> = cids.iter().map(|c| format!(r#"{{"/":"{c}"}}"#)).collect();
    let root = put(&a, &[], format!("[{}]", links.join(",")).as_bytes());
    let lines = a.call("dag/stat", &[("arg", &root)]).ok().lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["UniqueBlocks"], 256);
    assert_eq!(lines[1]["UniqueBlocks"], 512);
    assert_eq!(lines[2]["UniqueBlocks"], 600);
    assert_eq!(lines[2]["DagStats"][0]["NumBlocks"], 600);
    // Pinning in the same request: all or nothing.
    let missing = put(&a, &[], b"\"never stored\"");
    a.call("block/rm", &[("arg", &missing)]).ok();
    let bad = format!(r#"{{"gone":{{"/":"{missing}"}}}}"#);
    let reply = a.call_with_parts(
        "dag/put",
        &[("pin", "true")],
        &[
            ("", Some(b"\"fine\"".as_slice())),
            ("", Some(bad.as_bytes())),
        ],
    );
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains(&format!("linked block {missing} is not stored"))
    );
    // The failed request stored nothing, not even its valid first node.
    let fine = dag::block::cid_with(
        dag::Version::V1,
        dag::block::DAG_CBOR,
        dag::hash::HashFn::Sha2_256,
        b"\x64fine",
    )
    .expect("cid")
    .to_string();
    assert_eq!(a.call("block/stat", &[("arg", &fine)]).status, 404);
    assert_eq!(put(&a, &[("pin", "true")], b"\"fine\""), fine);
    a.stop();
}

#[test]
fn cid_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path(), "a");
    let v0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
    let v1 = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";
    let lines = a
        .call(
            "cid/format",
            &[("arg", v0), ("arg", "nope"), ("f", "%P %s"), ("v", "1")],
        )
        .ok()
        .lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["CidStr"], v0);
    assert_eq!(
        lines[0]["Formatted"],
        format!("cidv1-dag-pb-sha2-256-32 {v1}")
    );
    assert_eq!(lines[0]["ErrorMsg"], "");
    assert_eq!(lines[1]["Formatted"], "");
    assert!(
        lines[1]["ErrorMsg"]
            .as_str()
            .unwrap_or("")
            .contains("invalid CID")
    );
    let b32 = a.call("cid/base32", &[("arg", v0)]).ok().lines();
    assert_eq!(b32[0]["Formatted"], v1);
    let bad = a.call("cid/format", &[("arg", v0), ("b", "base99")]);
    assert_eq!(bad.status, 400, "{}", bad.text());
    let bases = a.call("cid/bases", &[]).ok().json();
    assert!(
        bases
            .as_array()
            .expect("array")
            .iter()
            .any(|b| b["Code"] == 98 && b["Name"] == "base32"),
        "{bases}"
    );
    let codecs = a.call("cid/codecs", &[]).ok().json();
    assert!(
        codecs
            .as_array()
            .expect("array")
            .iter()
            .any(|c| c["Code"] == 0x0129 && c["Name"] == "dag-json"),
        "{codecs}"
    );
    let hashes = a.call("cid/hashes", &[]).ok().json();
    assert!(
        hashes
            .as_array()
            .expect("array")
            .iter()
            .any(|h| h["Code"] == 0x1e && h["Name"] == "blake3"),
        "{hashes}"
    );
    a.stop();
}
