#!/usr/bin/env bash
# Issue 14's hostile-peer test at full size: a peer serves a HAMT of 10^6 tiny entries
# (besides the deep, looping and wide DAGs of the default run) while the node under test
# lists it through its gateway (capped, truncated) and its API (`ls`, streamed) and keeps
# serving a normal client. Too slow for the suite's debug build, so it is `#[ignore]`d
# there; this runs it (release by default: `--debug` to use the debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
if [[ "${1:-}" == "--debug" ]]; then
    profile=()
fi
exec cargo test "${profile[@]}" -p ipfsd-tests --test hostile_peer -- \
    --ignored --nocapture hostile_dags_with_a_million_entry_hamt
