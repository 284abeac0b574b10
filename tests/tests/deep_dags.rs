//! Issue 14, item 1, through a running daemon: crafted DAGs far deeper than any real tree
//! (4000 nested HAMT shards, 3000 and 16000 nested directories), imported as CARs, then
//! listed on the gateway, and listed, fetched as a tar, walked by `refs -r`, pinned,
//! exported and garbage-collected through the API. The old recursive walks overflowed the
//! stack and aborted the whole process; now every answer is an error naming the problem
//! or, where the DAG is legitimately walkable (refs, pins, export, GC), the right answer.
//! And a HAMT wider than the gateway's listing cap: the listing stops at the cap and says
//! so, the API's `ls` streams every entry.

use dag::export::MAX_TREE_DEPTH;
use ipfsd_tests::hostile::{self, Crafted};
use ipfsd_tests::http;
use ipfsd_tests::testnet::{TestNode, init_repo};

fn node(dir: &tempfile::TempDir) -> TestNode {
    let path = dir.path().join("n");
    init_repo(&path, None, |_| {});
    TestNode::start(&path, None)
}

fn import(n: &TestNode, c: &Crafted) {
    n.call_with_file("dag/import", &[], &c.car()).ok();
}

fn alive(n: &TestNode) {
    n.call("id", &[]).ok();
}

fn refs_count(n: &TestNode, cid: &str) -> usize {
    let r = n.call("refs", &[("arg", cid), ("recursive", "true")]).ok();
    let lines = r.lines();
    assert!(lines.iter().all(|l| l["Err"] == ""), "{}", r.text());
    lines.len()
}

fn car_blocks(bytes: &[u8]) -> usize {
    let blocks: Vec<dag::Block> = dag::car::Reader::new(bytes)
        .expect("CAR header")
        .collect::<Result<_, _>>()
        .expect("verified blocks");
    blocks.len()
}

/// Pin, export and GC: walks over any DAG, which must handle any depth iteratively.
fn pin_export_gc(n: &TestNode, c: &Crafted) {
    let cid = c.cid();
    n.call("pin/add", &[("arg", &cid)]).ok();
    let car = n.call("dag/export", &[("arg", &cid)]).ok();
    assert_eq!(car_blocks(&car.body), c.blocks.len());
    n.call("repo/gc", &[]).ok();
    n.call("block/stat", &[("arg", &cid)]).ok();
}

#[test]
fn a_4000_deep_hamt_is_refused_by_listings_and_walked_by_refs_pins_export_gc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = node(&dir);
    let hamt = hostile::hamt_chain(4000, "deep hamt");
    import(&n, &hamt);
    let cid = hamt.cid();

    // The gateway's directory listing (the request any web page can make a browser send).
    let r = http::get(n.gateway_url(), &format!("/ipfs/{cid}/"), &[]);
    assert!(r.status >= 400, "{} {}", r.status, r.text());
    assert!(r.text().contains("HAMT deeper"), "{}", r.text());
    alive(&n);

    // `ls` and `get` through the API.
    let r = n.call("ls", &[("arg", &cid)]);
    assert!(r.status >= 400, "{} {}", r.status, r.text());
    assert!(r.text().contains("HAMT deeper"), "{}", r.text());
    let r = n.call("get", &[("arg", &cid)]);
    assert_ne!(r.status, 200, "{}", r.text());
    alive(&n);

    // Walks that do not interpret the HAMT: every block, iteratively.
    assert_eq!(refs_count(&n, &cid), hamt.blocks.len() - 1);
    pin_export_gc(&n, &hamt);
    alive(&n);
}

#[test]
fn deep_directory_chains_get_to_the_limit_and_refuse_beyond() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = node(&dir);

    // The deepest tree `get` writes: the file at MAX_TREE_DEPTH names below the root.
    let deepest = hostile::dir_chain(MAX_TREE_DEPTH, "deepest");
    import(&n, &deepest);
    let r = n.call("get", &[("arg", &deepest.cid())]).ok();
    assert!(!r.body.is_empty());
    let path = format!(
        "/ipfs/{}/{}file",
        deepest.cid(),
        "d/".repeat(MAX_TREE_DEPTH - 1)
    );
    assert_eq!(n.cat(&path), b"deepest");

    // 3000 levels (this aborted the daemon through `get`): a clear error.
    let deep = hostile::dir_chain(3000, "3000");
    import(&n, &deep);
    // (The tar stream has started when the limit is met: the error breaks it off.)
    let r = n.call("get", &[("arg", &deep.cid())]);
    assert_ne!(r.status, 200, "{}", r.text());
    alive(&n);
    // A path longer than the limit is refused before any walk.
    let long = format!(
        "/ipfs/{}/{}file",
        deep.cid(),
        "d/".repeat(MAX_TREE_DEPTH + 1)
    );
    let r = n.call("ls", &[("arg", &long)]);
    assert!(r.status >= 400, "{} {}", r.status, r.text());
    assert!(r.text().contains("deeper than"), "{}", r.text());

    // 16000 levels: refs, pins, export and GC walk it; listing one level is fine.
    let deeper = hostile::dir_chain(16_000, "16000");
    import(&n, &deeper);
    let cid = deeper.cid();
    assert_eq!(refs_count(&n, &cid), deeper.blocks.len() - 1);
    pin_export_gc(&n, &deeper);
    let ls = n.call("ls", &[("arg", &cid)]).ok().json();
    assert_eq!(ls["Objects"][0]["Links"][0]["Name"], "d");
    let r = http::get(n.gateway_url(), &format!("/ipfs/{cid}/"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    alive(&n);
}

/// The gateway's listing cap (`LISTING_LIMIT` in the node's gateway).
const LISTING_LIMIT: usize = 10_000;

#[test]
fn a_hamt_wider_than_the_listing_cap_is_listed_truncated_and_ls_streams_it_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = node(&dir);
    let wide = hostile::wide_hamt(LISTING_LIMIT + 500);
    import(&n, &wide);
    let cid = wide.cid();

    // The gateway: exactly the cap, and a note that says so (was: every entry, no note).
    let r = http::get(n.gateway_url(), &format!("/ipfs/{cid}/"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    assert_eq!(page.matches("<td class=\"cid\">").count(), LISTING_LIMIT);
    assert!(page.contains("Listing truncated"), "no truncation note");
    assert!(page.contains(&format!("first {LISTING_LIMIT} entries")));
    assert!(page.contains("href=\"?format=car\""));

    // The API's `ls`: every entry, as one document and as one object per line.
    let ls = n.call("ls", &[("arg", &cid)]).ok().json();
    let links = ls["Objects"][0]["Links"].as_array().expect("links");
    assert_eq!(links.len(), LISTING_LIMIT + 500);
    assert_eq!(ls["Objects"][0]["Hash"], cid.as_str());
    let names: std::collections::HashSet<_> = links
        .iter()
        .map(|l| l["Name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), LISTING_LIMIT + 500, "names repeat");
    let lines = n
        .call("ls", &[("arg", &cid), ("stream", "true")])
        .ok()
        .lines();
    assert_eq!(lines.len(), LISTING_LIMIT + 500);
    for (line, link) in lines.iter().zip(links) {
        assert_eq!(&line["Objects"][0]["Links"][0], link);
    }
    alive(&n);
}
