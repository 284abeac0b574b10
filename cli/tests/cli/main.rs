//! End-to-end tests of the `ipfsd` binary: each test runs the real command line against a
//! fresh temporary repository and checks the exact output where the format is defined.
//! One test binary (modules by command family) keeps link time down.

mod add;
mod block_dag;
mod common;
#[cfg(unix)]
mod crash;
mod errors;
mod pin;
mod read;

use common::{Repo, assert_same_tree, bin, dag_blocks, multihash, random_bytes, s, stat_field};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

/// "hello world\n", default flags (CIDv0, dag-pb leaf).
const HELLO: &str = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
/// "hello world\n" with `--cid-version 1` (a single raw leaf).
const HELLO_V1: &str = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4";
/// The empty file.
const EMPTY_FILE: &str = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH";
/// The empty directory.
const EMPTY_DIR: &str = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";

fn set(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_string).collect()
}
