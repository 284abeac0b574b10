//! The gateway over IPLD data (a real daemon on 127.0.0.1): a mixed-codec DAG (dag-cbor
//! root → dag-json → dag-pb file → raw leaves, with blake3 and sha2-512 blocks) imported as
//! a CAR, then read back in every format and `Accept` type (as stored, converted, refused),
//! with boxo's ETags, `Content-Disposition` and caching headers; the HTML view browsers get
//! (escaped, links clickable, from a path and a subdomain origin); IPLD paths through
//! dag-cbor and dag-json links to a UnixFS file, to another node, and ending inside a node
//! (501, as boxo); `X-Ipfs-Roots`; a `dag-scope=all` CAR checked by the JS reference
//! (`tests/interop/car-verify.mjs`: @ipld/car, every hash with its own hasher) to hold
//! exactly the DAG's blocks; and `format=dag-json`/`dag-cbor` conversions byte-equal to the
//! JS codecs' (`tests/interop/ipld-convert.mjs`) over generated values.

use base64::Engine;
use dag::codec::{self, Codec, Ipld};
use dag::pb::{Link, Node};
use dag::unixfs::{Data, DataType};
use dag::{Block, Cid, HashFn, Version};
use ipfsd_tests::http::{self, HttpReply};
use ipfsd_tests::skip_interop;
use ipfsd_tests::testnet::{TestNode, init_repo};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn start(dir: &std::path::Path) -> TestNode {
    let path = dir.join("a");
    init_repo(&path, Some(2), |_| {});
    TestNode::start(&path, None)
}

fn get(node: &TestNode, target: &str, headers: &[(&str, &str)]) -> HttpReply {
    http::get(node.gateway_url(), target, headers)
}

fn map(kv: Vec<(&str, Ipld)>) -> Ipld {
    Ipld::Map(
        kv.into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn block(codec: Codec, hash: HashFn, value: &Ipld) -> Block {
    let data = codec::encode(codec, value).expect("encode");
    Block::encode_with(Version::V1, codec.code(), hash, data).expect("hash")
}

/// The mixed DAG: every block (root last), and the names of the interesting ones.
struct Mixed {
    blocks: Vec<Block>,
    root: Cid,
    json: Cid,
    leafy: Cid,
    file: Cid,
    content: Vec<u8>,
    /// A dag-cbor block without links or bytes (plain JSON fits it).
    plain: Cid,
    /// Stored but not part of the DAG.
    stray: Cid,
}

fn mixed() -> Mixed {
    let one = b"first leaf of the file, hashed with blake3\n".to_vec();
    let two = b"second leaf, sha2-256\n".to_vec();
    let r1 = Block::encode_with(Version::V1, dag::block::RAW, HashFn::Blake3, one.clone())
        .expect("blake3");
    let r2 = Block::encode(Version::V1, dag::block::RAW, two.clone());
    let mut d = Data::new(DataType::File);
    d.filesize = Some((one.len() + two.len()) as u64);
    d.blocksizes = vec![one.len() as u64, two.len() as u64];
    let f = Node {
        links: vec![
            Link::new(*r1.cid(), "", one.len() as u64),
            Link::new(*r2.cid(), "", two.len() as u64),
        ],
        data: Some(d.encode().into()),
    };
    let file = Block::encode_with(
        Version::V1,
        dag::block::DAG_PB,
        HashFn::Sha2_512,
        f.encode(),
    )
    .expect("sha2-512");
    let leafy = block(
        Codec::DagCbor,
        HashFn::Blake3,
        &map(vec![("deep", Ipld::Bool(true)), ("n", Ipld::Integer(-7))]),
    );
    let json = block(
        Codec::DagJson,
        HashFn::Sha2_512,
        &map(vec![
            ("file", Ipld::Link(*file.cid())),
            ("k", Ipld::Link(*leafy.cid())),
            (
                "name",
                Ipld::String("</script><script>alert(2)</script>".into()),
            ),
        ]),
    );
    let plain = block(
        Codec::DagCbor,
        HashFn::Sha2_256,
        &map(vec![
            ("a", Ipld::Integer(1)),
            ("f", Ipld::Float(0.25)),
            ("s", Ipld::String("é".into())),
        ]),
    );
    let root = block(
        Codec::DagCbor,
        HashFn::Sha2_256,
        &map(vec![
            (
                "<script>alert(1)</script>",
                Ipld::String("<b>hostile</b>".into()),
            ),
            ("bytes", Ipld::Bytes(vec![0, 1, 254, 255])),
            ("file", Ipld::Link(*file.cid())),
            (
                "list",
                Ipld::List(vec![Ipld::Integer(1), Ipld::Integer(-2), Ipld::Float(1.5)]),
            ),
            ("meta", map(vec![("json", Ipld::Link(*json.cid()))])),
            ("plain", Ipld::Link(*plain.cid())),
        ]),
    );
    let stray = Block::encode(Version::V1, dag::block::RAW, b"not in the DAG".to_vec());
    let mut content = one;
    content.extend_from_slice(&two);
    Mixed {
        root: *root.cid(),
        json: *json.cid(),
        leafy: *leafy.cid(),
        file: *file.cid(),
        plain: *plain.cid(),
        stray: *stray.cid(),
        content,
        blocks: vec![r1, r2, file, leafy, json, plain, stray, root],
    }
}

fn import(node: &TestNode, roots: &[Cid], blocks: &[Block]) {
    let car = ipfsd_tests::hostile::car(roots, blocks);
    node.call_with_file("dag/import", &[("pin-roots", "false")], &car)
        .ok();
}

fn data_of(m: &Mixed, cid: &Cid) -> Vec<u8> {
    m.blocks
        .iter()
        .find(|b| b.cid() == cid)
        .expect("block of the DAG")
        .data()
        .to_vec()
}

fn html_accept() -> [(&'static str, &'static str); 1] {
    [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]
}

fn header<'a>(r: &'a HttpReply, name: &str) -> &'a str {
    r.header(name).unwrap_or("")
}

const IMMUTABLE: &str = "public, max-age=29030400, immutable";

#[test]
fn formats_accept_types_etags_and_refusals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path());
    let m = mixed();
    import(&a, &[m.root], &m.blocks);
    let root = m.root.to_string();
    let root_cbor = data_of(&m, &m.root);
    let root_json = codec::encode(
        Codec::DagJson,
        &codec::decode(Codec::DagCbor, &root_cbor).expect("decode"),
    )
    .expect("encode");

    // (query, Accept) → (status, type, body, ETag suffix, disposition).
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        &'a [u8],
        &'a str,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        // No format: as stored, with the codec's type.
        (
            "",
            None,
            "application/vnd.ipld.dag-cbor",
            &root_cbor,
            "dag-cbor",
            "attachment; filename=\"{c}.cbor\"",
        ),
        (
            "?format=dag-cbor",
            None,
            "application/vnd.ipld.dag-cbor",
            &root_cbor,
            "dag-cbor",
            "attachment; filename=\"{c}.cbor\"",
        ),
        (
            "",
            Some("application/vnd.ipld.dag-cbor"),
            "application/vnd.ipld.dag-cbor",
            &root_cbor,
            "dag-cbor",
            "attachment; filename=\"{c}.cbor\"",
        ),
        (
            "?format=dag-json",
            None,
            "application/vnd.ipld.dag-json",
            &root_json,
            "dag-json",
            "inline; filename=\"{c}.json\"",
        ),
        (
            "",
            Some("application/vnd.ipld.dag-json"),
            "application/vnd.ipld.dag-json",
            &root_json,
            "dag-json",
            "inline; filename=\"{c}.json\"",
        ),
        (
            "?format=cbor",
            None,
            "application/cbor",
            &root_cbor,
            "cbor",
            "attachment; filename=\"{c}.cbor\"",
        ),
        (
            "",
            Some("application/cbor"),
            "application/cbor",
            &root_cbor,
            "cbor",
            "attachment; filename=\"{c}.cbor\"",
        ),
        (
            "?format=raw",
            None,
            "application/vnd.ipld.raw",
            &root_cbor,
            "raw",
            "attachment; filename=\"{c}.bin\"",
        ),
        (
            "",
            Some("application/vnd.ipld.raw"),
            "application/vnd.ipld.raw",
            &root_cbor,
            "raw",
            "attachment; filename=\"{c}.bin\"",
        ),
        // The first known type of the header wins.
        (
            "",
            Some("text/plain, application/vnd.ipld.dag-json;q=0.1, application/vnd.ipld.raw"),
            "application/vnd.ipld.dag-json",
            &root_json,
            "dag-json",
            "inline; filename=\"{c}.json\"",
        ),
        // download=true makes JSON an attachment; filename names it.
        (
            "?format=dag-json&download=true&filename=x.json",
            None,
            "application/vnd.ipld.dag-json",
            &root_json,
            "dag-json",
            "attachment; filename=\"x.json\"",
        ),
    ];
    for (q, accept, ty, body, tag, disp) in &cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = get(&a, &format!("/ipfs/{root}{q}"), &headers);
        let what = format!("{q} {accept:?}");
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        assert_eq!(header(&r, "content-type"), *ty, "{what}");
        assert!(r.body == *body, "{what}: body {:?}", r.text());
        assert_eq!(header(&r, "etag"), format!("\"{root}.{tag}\""), "{what}");
        assert_eq!(header(&r, "cache-control"), IMMUTABLE, "{what}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{what}");
        assert_eq!(
            header(&r, "content-length"),
            body.len().to_string(),
            "{what}"
        );
        let disp = disp.replace("{c}", &root);
        assert!(
            header(&r, "content-disposition").starts_with(&disp),
            "{what}: {:?}",
            r.header("content-disposition")
        );
        assert_eq!(header(&r, "x-ipfs-roots"), root, "{what}");
        // Conditional requests with the same ETag: 304.
        let etag = header(&r, "etag").to_string();
        let mut h2 = headers.clone();
        h2.push(("If-None-Match", &etag));
        assert_eq!(
            get(&a, &format!("/ipfs/{root}{q}"), &h2).status,
            304,
            "{what}"
        );
        // HEAD: the same headers, no body.
        let h = http::request(
            http::addr_of(a.gateway_url()),
            "HEAD",
            &format!("/ipfs/{root}{q}"),
            &headers,
        );
        assert_eq!(h.status, 200, "{what}");
        assert!(h.body.is_empty());
        assert_eq!(
            header(&h, "content-length"),
            body.len().to_string(),
            "{what}"
        );
    }

    // Plain JSON cannot hold the root's links and bytes: 400 (boxo's status), saying why.
    for (q, accept) in [("?format=json", None), ("", Some("application/json"))] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = get(&a, &format!("/ipfs/{root}{q}"), &headers);
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(r.text().contains("dag-json"), "{}", r.text());
    }
    // A link-free dag-cbor node converts to plain JSON; the same bytes as dag-json.
    let plain = m.plain.to_string();
    let r = get(&a, &format!("/ipfs/{plain}?format=json"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(r.text(), r#"{"a":1,"f":0.25,"s":"é"}"#);
    assert_eq!(header(&r, "etag"), format!("\"{plain}.json\""));
    let r2 = get(&a, &format!("/ipfs/{plain}?format=dag-json"), &[]);
    assert_eq!(r2.body, r.body);

    // The dag-json node: as stored by default and as json; converted to dag-cbor; not cbor.
    let json = m.json.to_string();
    let stored = data_of(&m, &m.json);
    for (q, accept, ty) in [
        ("", None, "application/vnd.ipld.dag-json"),
        ("?format=dag-json", None, "application/vnd.ipld.dag-json"),
        (
            "",
            Some("application/vnd.ipld.dag-json"),
            "application/vnd.ipld.dag-json",
        ),
        ("?format=json", None, "application/json"),
        ("", Some("application/json"), "application/json"),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let r = get(&a, &format!("/ipfs/{json}{q}"), &headers);
        assert_eq!(r.status, 200, "{q} {accept:?}");
        assert_eq!(r.body, stored, "{q} {accept:?}");
        assert_eq!(header(&r, "content-type"), ty, "{q} {accept:?}");
        assert!(header(&r, "content-disposition").starts_with("inline"));
    }
    assert_eq!(
        header(
            &get(&a, &format!("/ipfs/{json}?format=json"), &[]),
            "content-type"
        ),
        "application/json"
    );
    let r = get(&a, &format!("/ipfs/{json}?format=dag-cbor"), &[]);
    assert_eq!(r.status, 200);
    let want = codec::encode(
        Codec::DagCbor,
        &codec::decode(Codec::DagJson, &stored).expect("decode"),
    )
    .expect("encode");
    assert_eq!(r.body, want);
    assert_eq!(
        get(&a, &format!("/ipfs/{json}?format=cbor"), &[]).status,
        400
    );
    let r = get(
        &a,
        &format!("/ipfs/{json}"),
        &[("Accept", "application/vnd.ipld.dag-cbor")],
    );
    assert_eq!(r.body, want);
    assert_eq!(header(&r, "etag"), format!("\"{json}.dag-cbor\""));

    // Plain json (0x0200) and cbor (0x51) blocks: served as stored with their own types,
    // converted to dag-json / dag-cbor when asked, never the HTML view.
    let value = map(vec![(
        "k",
        Ipld::List(vec![Ipld::Integer(1), Ipld::Float(2.5)]),
    )]);
    let pj = block(Codec::Json, HashFn::Sha2_256, &value);
    let pc = block(Codec::Cbor, HashFn::Sha2_256, &value);
    import(&a, &[*pj.cid()], &[pj.clone(), pc.clone()]);
    for (b, ty, other, converted) in [
        (
            &pj,
            "application/json",
            "dag-cbor",
            codec::encode(Codec::DagCbor, &value).expect("e"),
        ),
        (
            &pc,
            "application/cbor",
            "dag-json",
            codec::encode(Codec::DagJson, &value).expect("e"),
        ),
    ] {
        let c = b.cid();
        let r = get(&a, &format!("/ipfs/{c}"), &html_accept());
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "content-type"), ty);
        assert_eq!(r.body, b.data().to_vec());
        let r = get(&a, &format!("/ipfs/{c}?format={other}"), &[]);
        assert_eq!(r.status, 200, "{c} as {other}: {}", r.text());
        assert_eq!(r.body, converted, "{c} as {other}");
    }

    // UnixFS: as json/cbor the file itself (boxo), as dag-json its data-model form.
    let file = m.file.to_string();
    let r = get(&a, &format!("/ipfs/{file}?format=json"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, m.content);
    let r = get(&a, &format!("/ipfs/{file}?format=dag-json"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "content-type"), "application/vnd.ipld.dag-json");
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(v["Links"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v["Links"][1]["Hash"]["/"], m.blocks[1].cid().to_string());

    // Unknown formats are 400; an unknown Accept type is ignored.
    assert_eq!(
        get(&a, &format!("/ipfs/{root}?format=yaml"), &[]).status,
        400
    );
    let r = get(
        &a,
        &format!("/ipfs/{root}"),
        &[("Accept", "application/x-unknown")],
    );
    assert_eq!(header(&r, "content-type"), "application/vnd.ipld.dag-cbor");
}

#[test]
fn html_view_paths_roots_and_car() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path());
    let m = mixed();
    import(&a, &[m.root], &m.blocks);
    let (root, json, file, leafy) = (
        m.root.to_string(),
        m.json.to_string(),
        m.file.to_string(),
        m.leafy.to_string(),
    );
    let html = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];

    // A browser is sent to the trailing-slash URL (relative download links), then gets
    // the view: escaped, every link clickable, download links, no immutable caching.
    let r = get(&a, &format!("/ipfs/{root}?x=1"), &html);
    assert_eq!(r.status, 301);
    assert_eq!(header(&r, "location"), format!("/ipfs/{root}/?x=1"));
    let r = get(&a, &format!("/ipfs/{root}/"), &html);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(
        header(&r, "etag"),
        format!("\"DagIndex-ipfsd1_CID-{root}\"")
    );
    assert_eq!(r.header("cache-control"), None);
    let page = r.text();
    assert!(!page.contains("<script>"), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;b&gt;hostile&lt;/b&gt;"), "{page}");
    for target in [&json, &file, &m.plain.to_string()] {
        assert!(
            page.contains(&format!("href=\"/ipfs/{target}\"")),
            "{target}: {page}"
        );
    }
    assert!(page.contains("<code>meta/json</code>"), "{page}");
    assert!(page.contains("href=\"?format=dag-json\""));
    assert!(page.contains("href=\"?format=dag-cbor\""));
    assert!(
        page.contains("00019eff") || page.contains("0001feff"),
        "{page}"
    );
    // Following a link: the dag-json node's view (hostile string escaped too).
    let r = get(&a, &format!("/ipfs/{json}/"), &html);
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("<script>"));
    assert!(r.text().contains(&format!("href=\"/ipfs/{leafy}\"")));
    // A download asked for is the block, not the page; an explicit format too.
    let r = get(&a, &format!("/ipfs/{root}/?download=true"), &html);
    assert_eq!(header(&r, "content-type"), "application/vnd.ipld.dag-cbor");
    let r = get(&a, &format!("/ipfs/{root}/?format=dag-json"), &html);
    assert_eq!(header(&r, "content-type"), "application/vnd.ipld.dag-json");
    // From a subdomain origin, links go through the path gateway's host (which redirects
    // to the target's own origin).
    let port = http::addr_of(a.gateway_url()).port();
    let b32 = {
        let v1 = Cid::new_v1(m.root.codec(), *m.root.hash());
        v1.to_string()
    };
    let host = format!("{b32}.ipfs.localhost:{port}");
    let r = get(&a, "/", &[("Host", &host), html[0]]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text()
            .contains(&format!("href=\"//localhost:{port}/ipfs/{json}\"")),
        "{}",
        r.text()
    );

    // IPLD paths. Through dag-cbor and dag-json links to the UnixFS file: its bytes.
    for p in ["file", "meta/json/file"] {
        let r = get(&a, &format!("/ipfs/{root}/{p}"), &[]);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        assert_eq!(r.body, m.content, "{p}");
        assert_eq!(header(&r, "etag"), format!("\"{file}\""));
    }
    let r = get(&a, &format!("/ipfs/{root}/meta/json/file"), &[]);
    assert_eq!(
        header(&r, "x-ipfs-roots"),
        format!("{root},{root},{json},{file}"),
        "one CID per segment, as boxo"
    );
    // To another node: served per format / Accept.
    let r = get(&a, &format!("/ipfs/{root}/meta/json/k"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "content-type"), "application/vnd.ipld.dag-cbor");
    assert_eq!(r.body, data_of(&m, &m.leafy));
    assert_eq!(
        header(&r, "x-ipfs-roots"),
        format!("{root},{root},{json},{leafy}")
    );
    let r = get(
        &a,
        &format!("/ipfs/{root}/meta/json/k?format=dag-json"),
        &[],
    );
    assert_eq!(r.text(), r#"{"deep":true,"n":-7}"#);
    assert_eq!(header(&r, "etag"), format!("\"{leafy}.dag-json\""));
    let r = get(&a, &format!("/ipfs/{root}/meta/json/k/"), &html);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("deep"));
    // Ending inside a node at a value that is not a link: 501, as boxo.
    for p in ["list/1", "meta", "bytes", "meta/json/name"] {
        let r = get(&a, &format!("/ipfs/{root}/{p}"), &[]);
        assert_eq!(r.status, 501, "{p}: {}", r.text());
        assert!(r.text().contains("not implemented"), "{p}: {}", r.text());
        let r = get(&a, &format!("/ipfs/{root}/{p}?format=car"), &[]);
        assert_eq!(r.status, 501, "{p} as CAR");
    }
    // A path that is not there: 404.
    for p in ["nope", "list/7", "meta/json/file/x", "list/01"] {
        let r = get(&a, &format!("/ipfs/{root}/{p}"), &[]);
        assert_eq!(r.status, 404, "{p}: {}", r.text());
    }

    if skip_interop() {
        return;
    }
    // dag-scope=all: exactly the DAG's blocks (not the stray one), each verified by the JS
    // reference with its own hasher (blake3, sha2-512, sha2-256).
    let r = get(&a, &format!("/ipfs/{root}?format=car&dag-scope=all"), &[]);
    assert_eq!(r.status, 200);
    let v = ipfsd_tests::script::car_verify(&r.body, &root, None);
    let got: BTreeSet<String> = v["cids"]
        .as_array()
        .expect("cids")
        .iter()
        .map(|c| c.as_str().expect("str").to_string())
        .collect();
    let want: BTreeSet<String> = m
        .blocks
        .iter()
        .map(|b| b.cid().to_string())
        .filter(|c| *c != m.stray.to_string())
        .collect();
    assert_eq!(got, want);
    assert_eq!(v["blocks"], want.len(), "no block twice");
    assert_eq!(v["roots"][0], root);
    // A path through both codecs as a CAR: the path's blocks and the file, which the JS
    // exporter reads by the same path from those blocks alone.
    let r = get(&a, &format!("/ipfs/{root}/meta/json/file?format=car"), &[]);
    assert_eq!(r.status, 200);
    let v = ipfsd_tests::script::car_verify(&r.body, &format!("{root}/meta/json/file"), None);
    assert_eq!(v["kind"], "file", "{v}");
    assert_eq!(v["size"], m.content.len(), "{v}");
    assert_eq!(v["blocks"], 5, "root, json, file, two leaves: {v}");
}

/// `format=dag-json` of every generated dag-cbor block, and `format=dag-cbor` of every
/// dag-json one, byte-equal to the JS codecs' conversion.
#[test]
fn conversions_equal_the_js_codecs() {
    if skip_interop() {
        return;
    }
    let script = ipfsd_tests::workspace_root().join("tests/interop/ipld-convert.mjs");
    let out = ipfsd_tests::script::run_node(
        &script,
        &["120".as_ref(), "15".as_ref()],
        Duration::from_secs(60),
    )
    .expect("run node");
    let stdout = out
        .stdout_if_ok()
        .unwrap_or_else(|e| panic!("ipld-convert.mjs: {e:#}"));
    let v: serde_json::Value = serde_json::from_str(stdout).expect("JSON");
    let b64 = |s: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str().expect("str"))
            .expect("base64")
    };
    let items = v["items"].as_array().expect("items");
    assert!(items.len() >= 100, "{} items", items.len());
    let mut blocks = Vec::new();
    let mut expect = Vec::new();
    for it in items {
        let cid = dag::block::parse_cid(it["cid"].as_str().expect("cid")).expect("parse");
        // Our own encoder agrees on the CID (the block is verified on import too).
        let block = Block::verified(cid, b64(&it["block"])).expect("JS block verifies");
        let to = match it["codec"].as_str() {
            Some("dag-cbor") => "dag-json",
            _ => "dag-cbor",
        };
        expect.push((cid, to, b64(&it["convert"])));
        blocks.push(block);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let a = start(dir.path());
    import(&a, &[*blocks[0].cid()], &blocks);
    let mut differ = Vec::new();
    for (cid, to, want) in &expect {
        let r = get(&a, &format!("/ipfs/{cid}?format={to}"), &[]);
        assert_eq!(r.status, 200, "{cid} as {to}: {}", r.text());
        if r.body != *want {
            differ.push(format!(
                "{cid} as {to}: {}",
                first_difference(&r.body, want)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} conversions differ from the JS codecs:\n{}",
        differ.len(),
        expect.len(),
        differ.join("\n")
    );
}

/// Where two encodings part: the offset and some bytes (hex) of each from a little before.
fn first_difference(ours: &[u8], theirs: &[u8]) -> String {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let hex = |b: &[u8]| {
        let from = at.saturating_sub(8);
        b[from.min(b.len())..(at + 24).min(b.len())]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    format!(
        "at byte {at} of {}/{}: ipfsd …{}… js …{}…",
        ours.len(),
        theirs.len(),
        hex(ours),
        hex(theirs)
    )
}
