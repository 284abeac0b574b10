//! End-to-end tests of the `ipfsd` binary: each test runs the real command line against a
//! fresh temporary repository and checks the exact output where the format is defined.
//! Most run twice ([`both_modes!`]): offline, and through a daemon holding the repository.
//! One test binary (modules by command family) keeps link time down.

/// Runs test bodies `fn name(mode: Mode)` in both modes, as the tests `name::offline`
/// (each command opens the repository) and `name::online` (a daemon holds it and every
/// command goes through its RPC API).
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn offline() {
                super::$name(crate::common::Mode::Offline)
            }

            #[test]
            fn online() {
                super::$name(crate::common::Mode::Online)
            }
        }
    )*};
}

mod add;
mod block_dag;
mod common;
mod config;
#[cfg(unix)]
mod crash;
mod damage;
mod deep;
mod disk_full;
mod errors;
mod ipld;
mod ipld_pins;
mod name;
mod net;
mod observe;
mod online;
mod pin;
mod quota;
mod read;
mod soak;
mod streams;

use common::{
    Mode, Repo, assert_same_tree, bin, dag_blocks, multihash, random_bytes, s, stat_field,
};
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
