//! Fuzz harnesses for every decoder that takes bytes from outside the node: one
//! `pub fn <target>(data: &[u8])` per target, written once and run two ways.
//!
//! Data flow: the cargo-fuzz binaries in `fuzz/fuzz_targets/` are one-liners handing
//! libFuzzer's input to the function of the same name here; the `replay` test of this crate
//! runs every committed seed and regression input in `fuzz/corpus/<target>/` through the
//! same function under `cargo test`. A harness panics (the fuzzer's "crash") when a decoder
//! panics or when a cheap invariant fails: a re-encoded value must decode to itself, a
//! block handed out must hash to its CID, a range must lie inside the file, and so on.
//! Decoders that reject input return errors; that is never a crash.
//!
//! `seed_corpus` (an example of this crate) writes the seed corpora from the crates' own
//! encoders, so a seed is always a valid input of the current code.

mod bitswap;
mod config;
mod dag;
mod dht;
mod gateway;
mod ipld;
mod ipns;
mod multipart;
pub mod seeds;
mod source;

pub use crate::bitswap::{bitswap_message, ledger_exchange};
pub use crate::config::config_file;
pub use crate::dag::{car, dag_pb, hamt, unixfs};
pub use crate::dht::dht_record;
pub use crate::gateway::gateway_request;
pub use crate::ipld::{dag_cbor, dag_json};
pub use crate::ipns::ipns_record;
pub use crate::multipart::multipart_add;

/// A harness: takes any bytes, panics only on a defect.
pub type Harness = fn(&[u8]);

/// One fuzz target: its name (the binary in `fuzz/fuzz_targets/`, the corpus directory)
/// and libFuzzer settings suited to its input.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Target and corpus directory name.
    pub name: &'static str,
    /// The harness.
    pub run: Harness,
    /// `-max_len`: the largest input worth trying.
    pub max_len: usize,
}

/// Every target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "dag_pb",
        run: dag_pb,
        max_len: 16 << 10,
    },
    Target {
        name: "unixfs",
        run: unixfs,
        max_len: 4 << 10,
    },
    Target {
        name: "hamt",
        run: hamt,
        max_len: 64 << 10,
    },
    Target {
        name: "car",
        run: car,
        max_len: 64 << 10,
    },
    Target {
        name: "bitswap_message",
        run: bitswap_message,
        max_len: 64 << 10,
    },
    Target {
        name: "ledger_exchange",
        run: ledger_exchange,
        max_len: 2 << 10,
    },
    Target {
        name: "dht_record",
        run: dht_record,
        max_len: 12 << 10,
    },
    Target {
        name: "ipns_record",
        run: ipns_record,
        max_len: 12 << 10,
    },
    Target {
        name: "multipart_add",
        run: multipart_add,
        max_len: 64 << 10,
    },
    Target {
        name: "gateway_request",
        run: gateway_request,
        max_len: 12 << 10,
    },
    Target {
        name: "config_file",
        run: config_file,
        max_len: 16 << 10,
    },
    Target {
        name: "dag_cbor",
        run: dag_cbor,
        max_len: 64 << 10,
    },
    Target {
        name: "dag_json",
        run: dag_json,
        max_len: 64 << 10,
    },
];

/// Splits `data` into at most `n` fields at `sep` (the last field keeps the rest).
pub(crate) fn fields(data: &[u8], sep: u8, n: usize) -> Vec<&[u8]> {
    data.splitn(n, |b| *b == sep).collect()
}

/// `bytes` as text for harnesses whose decoder takes `&str` (lossy: keeps fuzzing on).
pub(crate) fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}
