//! Replays every committed corpus input (seeds, inputs the fuzzers found interesting, and
//! regression inputs of fixed crashes) and every freshly made seed through its harness,
//! so `cargo test` catches a regression the fuzzers once found without running them.

use fuzz_harness::{TARGETS, seeds};
use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_target_has_a_committed_corpus() {
    for t in TARGETS {
        let n = std::fs::read_dir(corpus_dir(t.name))
            .map(|d| d.count())
            .unwrap_or(0);
        assert!(n > 0, "fuzz/corpus/{} is empty or missing", t.name);
    }
}

#[test]
fn committed_corpora_replay() {
    let mut ran = 0;
    for t in TARGETS {
        let dir = corpus_dir(t.name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("reading a corpus file");
            let outcome = std::panic::catch_unwind(|| (t.run)(&data));
            assert!(outcome.is_ok(), "{} failed on {}", t.name, file.display());
            ran += 1;
        }
    }
    assert!(ran > 0, "no corpus input ran");
}

#[test]
fn fresh_seeds_replay() {
    let seeds = seeds::all();
    for t in TARGETS {
        assert!(
            seeds.iter().any(|(target, ..)| *target == t.name),
            "no seed for {}",
            t.name
        );
    }
    for (target, name, data) in seeds {
        let t = TARGETS
            .iter()
            .find(|t| t.name == target)
            .unwrap_or_else(|| panic!("seed for unknown target {target}"));
        assert!(
            data.len() <= t.max_len,
            "seed {target}/{name} is over max_len"
        );
        (t.run)(&data);
    }
}

#[test]
fn fuzz_script_runs_every_target_with_its_max_len() {
    let script = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/fuzz.sh"),
    )
    .expect("scripts/fuzz.sh");
    let listed: Vec<String> = script
        .lines()
        .skip_while(|l| !l.starts_with("TARGETS=("))
        .skip(1)
        .take_while(|l| !l.starts_with(')'))
        .map(|l| l.trim().to_string())
        .collect();
    let expected: Vec<String> = TARGETS
        .iter()
        .map(|t| format!("{}:{}", t.name, t.max_len))
        .collect();
    assert_eq!(
        listed, expected,
        "scripts/fuzz.sh TARGETS and fuzz_harness::TARGETS differ"
    );
    for t in TARGETS {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/fuzz_targets")
            .join(format!("{}.rs", t.name));
        let src = std::fs::read_to_string(&bin).unwrap_or_default();
        assert!(
            src.contains(&format!("fuzz_harness::{}(data)", t.name)),
            "{} does not call its harness",
            bin.display()
        );
    }
}
