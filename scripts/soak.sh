#!/usr/bin/env bash
# Soak benchmark: one release daemon with Datastore.StorageMax 200MB and --enable-gc under
# steady load for --minutes (default 30): gateway byte-range requests on 16 keep-alive
# connections (every body compared with the file), requests that must fail (416, 400),
# unpinned 8 MiB adds so the store keeps crossing the GC watermark, and pins/unpins of
# 1 MiB files read back whole. It fails on any other error, on resident memory above
# 256 MiB, on a pinned file that changed, or if `repo verify` fails at the end.
#
#   bash scripts/soak.sh [--minutes 30] [--out DIR] [--png PATH]
#
# The driver is the ignored test `soak::soak_long` of the CLI's end-to-end tests
# (cli/tests/cli/soak.rs; the suite runs the same load for 2 minutes in a debug build).
# It samples the daemon's RSS and thread count every second into DIR/soak.csv; this
# script then plots RSS (and stored bytes) against time into PATH (default
# DIR/soak-rss.png), installing matplotlib from PyPI if it is missing.
# Everything listens on 127.0.0.1 (the daemon is offline: no swarm). Stops by itself.
set -euo pipefail

MINUTES=30 OUT="" PNG=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) MINUTES="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --png) PNG="$2"; shift 2 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$MINUTES" =~ ^[0-9]+$ && "$MINUTES" -ge 1 ]] || { echo "soak: --minutes must be a whole number >= 1" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$(mktemp -d /tmp/ipfsd-soak.XXXXXX)}"
mkdir -p "$OUT"
PNG="${PNG:-$OUT/soak-rss.png}"
log() { echo "[soak] $*" >&2; }

COMMIT="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "commit $COMMIT, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "building the release driver and daemon"
cargo test --release --locked -q -p ipfsd-cli --test cli --no-run --manifest-path "$ROOT/Cargo.toml" >&2

SECS=$((MINUTES * 60))
log "running for $MINUTES min; samples in $OUT/soak.csv"
# The test's own limits end it; this bounds a hung run (build excluded).
set +e
(cd "$ROOT/cli" && IPFSD_SOAK_SECS="$SECS" IPFSD_SOAK_CSV="$OUT/soak.csv" \
  timeout $((SECS + 600)) cargo test --release --locked -q -p ipfsd-cli --test cli \
  soak::soak_long -- --ignored --exact --nocapture) 2>&1 | tee "$OUT/soak.log" >&2
STATUS=${PIPESTATUS[0]}
set -e

if ! python3 -c "import matplotlib" 2>/dev/null; then
  log "installing matplotlib (pip)"
  python3 -m pip install -q --disable-pip-version-check matplotlib==3.9.2 >&2 \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages matplotlib==3.9.2 >&2
fi
if [[ -s "$OUT/soak.csv" ]]; then
  python3 - "$OUT/soak.csv" "$PNG" "$COMMIT" <<'PY'
import csv, math, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
path, png, commit = sys.argv[1:4]
rows = list(csv.DictReader(open(path)))
t = [float(r["seconds"]) / 60 for r in rows]
rss = [float(r["rss_mib"]) for r in rows]
stored = [float(r["stored_mb"]) for r in rows]
fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
ax.plot(t, rss, color="tab:blue", linewidth=1, label="daemon RSS (MiB)")
ax.axhline(256, color="tab:red", linestyle="--", linewidth=1, label="budget 256 MiB")
pts = [(x, y) for x, y in zip(t, stored) if not math.isnan(y)]
if pts:
    ax.plot([p[0] for p in pts], [p[1] for p in pts], color="tab:green", linewidth=1,
            label="blocks stored (MB; StorageMax 200)")
ax.set_xlabel("minutes")
ax.set_ylabel("MiB / MB")
ax.set_ylim(0, max(300, max(rss) * 1.1))
last = rows[-1]
ax.set_title(f"ipfsd soak ({commit}): {int(last['range_requests'])} range requests, "
             f"{last['adds']} adds, {last['unpins']} unpins, {last['gc_runs']} GCs; "
             f"max RSS {max(rss):.0f} MiB", fontsize=9)
ax.legend(loc="lower right", fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(png)
print(f"plot: {png}", file=sys.stderr)
PY
fi
if [[ "$STATUS" -eq 0 ]]; then
  log "passed: $(grep -h '^soak:' "$OUT/soak.log" | tail -1)"
else
  log "FAILED (exit $STATUS): see $OUT/soak.log"
fi
exit "$STATUS"
