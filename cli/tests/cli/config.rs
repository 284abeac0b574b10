//! The config file: every value checked when it loads (item 10 of issue 14), and one
//! writer at a time, atomically, also while a daemon runs (item 12).

use crate::common::{Mode, Repo};
use std::sync::atomic::{AtomicBool, Ordering};

/// A bootstrap address for peer `i` (a fixed valid peer ID, a distinct port).
fn peer_addr(i: u32) -> String {
    format!(
        "/ip4/127.0.0.1/tcp/{}/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
        10_000 + i
    )
}

#[test]
fn out_of_range_values_are_refused_with_their_key() {
    let mut r = Repo::init();
    let e = r.fail(&["config", "Provide.Interval", "18446744073709551615s"]);
    assert!(e.contains("Provide.Interval"), "{e}");
    assert!(e.contains("at most"), "{e}");
    // Written by hand: the node refuses to start, naming the key, and does not panic.
    let path = r.path.join("config");
    let text = std::fs::read_to_string(&path).expect("config");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["Provide"]["Interval"] = serde_json::json!("18446744073709551615s");
    std::fs::write(&path, v.to_string()).expect("write");
    let e = r.fail(&["repo", "stat"]);
    assert!(e.contains("Provide.Interval"), "{e}");
    let out = r.run(&["daemon", "--api-addr", "/ip4/127.0.0.1/tcp/0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Provide.Interval") && !err.contains("panicked"),
        "{err}"
    );
    // Not an object: refused, whatever JSON it is.
    for text in ["[]", "null", "3"] {
        std::fs::write(&path, text).expect("write");
        let e = r.fail(&["repo", "stat"]);
        assert!(e.contains("must be a JSON object"), "{text}: {e}");
    }
    std::fs::write(&path, text).expect("restore");
    r.start_daemon();
    let e = r.fail(&["config", "Ipns.RepublishPeriod", "0"]);
    assert!(e.contains("Ipns.RepublishPeriod"), "{e}");
}

fn concurrent_edits_all_land(mode: Mode) {
    let r = Repo::new(mode);
    let path = r.path.join("config");
    // A reader that checks the file is a whole config every time it looks.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let text = std::fs::read(&path).expect("the config file is always there");
                let v: serde_json::Value = serde_json::from_slice(&text)
                    .unwrap_or_else(|e| panic!("half-written config ({e}): {text:?}"));
                assert!(v.is_object());
                reads += 1;
            }
            reads
        });
        let workers: Vec<_> = (0..12u32)
            .map(|i| {
                let r = &r;
                scope.spawn(move || {
                    let header = format!("API.HTTPHeaders.X-Test-{i}");
                    r.ok(&["config", "--json", &header, &format!("[\"v{i}\"]")]);
                    r.ok(&["bootstrap", "add", &peer_addr(i)]);
                })
            })
            .collect();
        for w in workers {
            w.join().expect("worker");
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().expect("reader") > 0);
    });
    let v: serde_json::Value =
        serde_json::from_str(&r.ok(&["config", "show"])).expect("config show is JSON");
    for i in 0..12 {
        assert_eq!(
            v["API"]["HTTPHeaders"][format!("X-Test-{i}")],
            serde_json::json!([format!("v{i}")]),
            "config edit {i} lost: {v}"
        );
        assert!(
            v["Bootstrap"]
                .as_array()
                .expect("list")
                .contains(&serde_json::json!(peer_addr(i))),
            "bootstrap add {i} lost: {v}"
        );
    }
    // The temp files of the atomic writes are gone.
    let leftovers: Vec<_> = std::fs::read_dir(&r.path)
        .expect("repo dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

both_modes!(concurrent_edits_all_land);
