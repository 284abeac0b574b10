//! Helpers shared by the integration tests in `tests/tests/` (multi-crate scenarios and
//! interop with the reference peers).

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether interop tests are to be skipped (`IPFSD_SKIP_INTEROP=1`, for machines without
/// the reference peers); says so on stderr.
pub fn skip_interop() -> bool {
    let skip = std::env::var_os("IPFSD_SKIP_INTEROP").is_some_and(|v| v == "1");
    if skip {
        eprintln!("IPFSD_SKIP_INTEROP=1: interop test skipped");
    }
    skip
}

pub mod fixtures;
pub mod hostile;
pub mod http;
pub mod ipns_forge;
pub mod kad_wire;
pub mod peer;
pub mod script;
pub mod testnet;
