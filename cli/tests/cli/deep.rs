//! Issue 14, item 1, from the command line: DAGs far deeper than any real tree (16000
//! nested HAMT shards, 16000 nested directories), imported from a CAR. Offline `ls` of the
//! HAMT aborted the process with a stack overflow; now it is a one-line error, offline
//! and through the daemon alike, while `refs -r`, `pin add`, `dag export` and `repo gc`
//! walk the deep chain iteratively.

use crate::common::{Mode, Repo, expect_error};

const LEVELS: usize = 16_000;

fn pb(links: Vec<dag::pb::Link>, data: dag::unixfs::Data) -> dag::Block {
    let node = dag::pb::Node {
        links,
        data: Some(data.encode().into()),
    };
    dag::Block::encode(dag::Version::V1, dag::block::DAG_PB, node.encode())
}

/// A chain of `LEVELS` nodes made by `level` (given the child), over a file: its blocks,
/// root last.
fn chain(
    first: impl Fn(dag::Cid) -> dag::Block,
    level: impl Fn(dag::Cid) -> dag::Block,
) -> Vec<dag::Block> {
    let file = dag::Block::encode(dag::Version::V1, dag::block::RAW, &b"bottom"[..]);
    let mut blocks = vec![first(*file.cid())];
    blocks.insert(0, file);
    for _ in 1..LEVELS {
        let next = *blocks.last().expect("blocks").cid();
        blocks.push(level(next));
    }
    blocks
}

fn shard() -> dag::unixfs::Data {
    dag::unixfs::Data {
        data: vec![1u8].into(),
        hash_type: Some(dag::hamt::HASH_MURMUR3),
        fanout: Some(256),
        ..dag::unixfs::Data::new(dag::unixfs::DataType::HamtShard)
    }
}

fn dir() -> dag::unixfs::Data {
    dag::unixfs::Data::new(dag::unixfs::DataType::Directory)
}

fn car(blocks: &[dag::Block]) -> (String, Vec<u8>) {
    let root = *blocks.last().expect("blocks").cid();
    let mut out = Vec::new();
    dag::car::write(
        &mut out,
        &[root],
        blocks.iter().cloned().map(Ok::<_, dag::car::CarError>),
    )
    .expect("CAR");
    (root.to_string(), out)
}

fn deep_dags_give_errors_or_answers_never_crashes(mode: Mode) {
    use dag::pb::Link;
    let r = Repo::new(mode);
    let hamt = chain(
        |f| pb(vec![Link::new(f, "00file", 6)], shard()),
        |c| pb(vec![Link::new(c, "00", 1)], shard()),
    );
    let dirs = chain(
        |f| pb(vec![Link::new(f, "file", 6)], dir()),
        |c| pb(vec![Link::new(c, "d", 1)], dir()),
    );
    let (hamt_root, hamt_car) = car(&hamt);
    let (dir_root, dir_car) = car(&dirs);
    r.ok_in(&["dag", "import"], &hamt_car);
    r.ok_in(&["dag", "import"], &dir_car);

    // Listing the HAMT: one clean error line, exit code 1 (was: SIGABRT, stack overflow).
    let args = ["ls", hamt_root.as_str()];
    let err = expect_error(&args, &r.run(&args));
    assert!(
        err.contains("HAMT deeper than its 64-bit hash allows"),
        "{err}"
    );

    // The chain of directories: every walk that is not a path goes all the way down.
    let refs = r.ok(&["refs", "-r", &dir_root]);
    assert_eq!(refs.lines().count(), LEVELS);
    let refs = r.ok(&["refs", "-r", &hamt_root]);
    assert_eq!(refs.lines().count(), LEVELS);
    r.ok(&["pin", "add", &dir_root]);
    r.ok(&["pin", "add", &hamt_root]);
    let exported = r.ok_bytes(&["dag", "export", &dir_root]);
    let blocks: Vec<dag::Block> = dag::car::Reader::new(&exported[..])
        .expect("CAR header")
        .collect::<Result<_, _>>()
        .expect("verified blocks");
    assert_eq!(blocks.len(), LEVELS + 1, "every block exported");
    r.ok(&["repo", "gc"]);
    // Both chains and their shared leaf survive.
    assert_eq!(r.num_objects() as usize, 2 * LEVELS + 1);
    // A path of more than MAX_TREE_DEPTH names is refused.
    let long = format!("{dir_root}/{}file", "d/".repeat(2100));
    let args = ["cat", long.as_str()];
    let err = expect_error(&args, &r.run(&args));
    assert!(err.contains("deeper than 2048 levels"), "{err}");
}

both_modes!(deep_dags_give_errors_or_answers_never_crashes);
