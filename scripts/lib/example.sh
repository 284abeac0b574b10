# Shared by the scripts that run one of the benchmarks in tests/examples/ (bench-dht.sh,
# bench-reprovide.sh, bench-node.sh). Source it after setting ROOT to the workspace root:
#
#   . "$ROOT/scripts/lib/example.sh"
#   example_header "$@"              # machine, commit, rustc, arguments (stdout)
#   example_build dht_bench          # release build; sets BIN to a private copy
#
# The copy lives in a temporary directory (WORK, removed on exit), so a concurrent rebuild
# cannot swap the binary mid-run. The build may wait on cargo's build lock; it is bounded
# by BUILD_TIMEOUT seconds (default 1800).

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"

example_header() {
    local commit cpu
    commit="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [ "$commit" != unknown ] && [ -n "$(cd "$ROOT" && git status --porcelain 2>/dev/null)" ]; then
        commit="$commit (uncommitted changes present)"
    fi
    cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
    echo "machine: $(nproc) CPU(s) available${cpu:+, $cpu}; $(uname -sm); $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB RAM"}'); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
    echo "commit:  $commit"
    echo "rustc:   $(rustc --version 2>/dev/null || echo unknown)"
    echo "args:    ${*:-(defaults)}"
}

example_build() {
    local name="$1"
    echo "[$name] building (cargo build --release -p ipfsd-tests --example $name, at most ${BUILD_TIMEOUT}s)" >&2
    (cd "$ROOT" && timeout "$BUILD_TIMEOUT" cargo build --release -p ipfsd-tests --example "$name" >&2)
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/ipfsd-$name.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
    cp "$TARGET_DIR/release/examples/$name" "$WORK/$name"
    BIN="$WORK/$name"
}
