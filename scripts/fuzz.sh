#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/, harnesses in fuzz-harness/) for a set
# time each and prints a summary; exits non-zero if any target crashed, timed out or ran
# out of memory.
#
#   scripts/fuzz.sh [DURATION] [-j N | --jobs N] [--no-build] [TARGET...]
#
#   DURATION   time per target: 90s, 10m, 1h or plain seconds (default 10m)
#   -j N       run N targets at once (default 1; each target is one process)
#   --no-build use the binaries already built
#   TARGET...  only these targets (default: all, in the order below)
#
# Needs cargo-fuzz (installed here if missing) and libFuzzer's nightly-only build flags,
# which a stable toolchain allows with RUSTC_BOOTSTRAP=1. No sanitizer (the workspace
# denies unsafe code), debug assertions and overflow checks on.
#
# Inputs: the committed seeds and regressions in fuzz/corpus/<target>/ (read only) plus
# what earlier runs found, kept in fuzz/target/corpus/<target>/ (the fuzzer adds to it).
# A failing input goes to fuzz/artifacts/<target>/; once the defect is fixed, commit it as
# fuzz/corpus/<target>/crash-<what> so the replay test (`cargo test -p
# ipfsd-fuzz-harness`) keeps checking it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# name:max_len, in run order; the replay test checks this list against fuzz_harness::TARGETS.
TARGETS=(
  dag_pb:16384
  unixfs:4096
  hamt:65536
  car:65536
  bitswap_message:65536
  ledger_exchange:2048
  dht_record:12288
  ipns_record:12288
  multipart_add:65536
  gateway_request:12288
  config_file:16384
  dag_cbor:65536
  dag_json:65536
)
RSS_LIMIT_MB=2048
TIMEOUT_S=10

duration=600 jobs=1 build=1 only=()
while (($#)); do
  case "$1" in
    -j | --jobs) jobs="$2"; shift 2 ;;
    -j*) jobs="${1#-j}"; shift ;;
    --jobs=*) jobs="${1#--jobs=}"; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    [0-9]*)
      case "$1" in
        *h) duration=$((${1%h} * 3600)) ;;
        *m) duration=$((${1%m} * 60)) ;;
        *s) duration=${1%s} ;;
        *) duration=$1 ;;
      esac
      shift ;;
    *) only+=("$1"); shift ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: bad --jobs $jobs" >&2; exit 2; }

selected=()
for t in "${TARGETS[@]}"; do
  name="${t%%:*}"
  if ((${#only[@]} == 0)) || [[ " ${only[*]} " == *" $name "* ]]; then
    selected+=("$t")
  fi
done
for o in "${only[@]}"; do
  [[ " ${TARGETS[*]} " == *" $o:"* ]] || { echo "fuzz.sh: unknown target $o" >&2; exit 2; }
done

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz…"
  cargo install cargo-fuzz --locked
fi
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN="fuzz/target/$TRIPLE/release"
if ((build)); then
  RUSTC_BOOTSTRAP=1 cargo fuzz build -s none --debug-assertions --codegen-units 16
fi

LOGS="fuzz/target/logs"
mkdir -p "$LOGS"

run_one() { # name max_len
  local name="$1" max_len="$2"
  mkdir -p "fuzz/target/corpus/$name" "fuzz/artifacts/$name"
  set +e
  "$BIN/$name" "fuzz/target/corpus/$name" "fuzz/corpus/$name" \
    -max_total_time="$duration" -max_len="$max_len" -rss_limit_mb="$RSS_LIMIT_MB" \
    -timeout="$TIMEOUT_S" -artifact_prefix="fuzz/artifacts/$name/" \
    -print_final_stats=1 >"$LOGS/$name.log" 2>&1
  echo $? >"$LOGS/$name.rc"
  set -e
}

echo "fuzzing ${#selected[@]} target(s), ${duration}s each, $jobs at a time (logs in $LOGS/)"
running=0
for t in "${selected[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  echo "  start ${t%%:*}"
  run_one "${t%%:*}" "${t#*:}" &
  running=$((running + 1))
done
wait || true

failed=0
printf '\n%-16s %-8s %12s %8s %7s %8s %6s  %s\n' target status execs exec/s cov features corpus artifact
for t in "${selected[@]}"; do
  name="${t%%:*}" log="$LOGS/${t%%:*}.log"
  rc="$(cat "$LOGS/$name.rc" 2>/dev/null || echo 1)"
  fstat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs="$(fstat number_of_executed_units)" speed="$(fstat average_exec_per_sec)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")"
  artifact="$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)"
  status=ok
  if [[ "$rc" != 0 ]]; then
    failed=1
    if grep -q 'ERROR: libFuzzer: timeout' "$log"; then status=timeout
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then status=oom
    else status=crash
    fi
  fi
  printf '%-16s %-8s %12s %8s %7s %8s %6s  %s\n' "$name" "$status" "${execs:--}" "${speed:--}" \
    "${cov:--}" "${ft:--}" "${corp:--}" "${artifact:-}"
done
if ((failed)); then
  echo "FAILED: see the logs in $LOGS/ and the inputs in fuzz/artifacts/" >&2
  exit 1
fi
echo "no crashes"
