#!/usr/bin/env bash
# bench/volume/run.sh - block storage's data path against the disk itself
# (issue 8, Performance): volume create from a raw and from a qcow2 image and
# volume clone vs `qemu-img convert` / `cp` of the same bytes on the same
# disk, and the time to create 100 empty (thin) 1 GiB volumes. Run as root
# (it drops the page cache), by hand, on a release build; never in CI. The
# phases are in volbench.py (its docstring says what each does).
#
# Targets: >= 80 % of the plain copy's throughput; >= 50 empty volumes/s.
#
# It starts its own `oxistack up` (own data dir in a mktemp -d under
# $TMPDIR, --port-offset $OFFSET, no network agent: volumes need none), whose
# volume agent keeps its files in that data dir, so the baselines run on the
# same filesystem; everything is removed at the end.
#
# Environment (all optional):
#   PHASES       image,empty     SIZE_MIB (1024)   ROUNDS (3)
#   EMPTY_VOLUMES (100)          CONCURRENCY (1,8)
#   OXI_BIN      oxistack binary (<repo>/target/release/oxistack; built if missing)
#   OFFSET       --port-offset (20700: identity 25700, volume 29476)
#   VENV         Python with `requests` ($HOME/.venvs/osconf)
#   KEEP_TMP     1 = keep the run directory (oxistack's log)
#   RESULTS      output JSON (bench/volume/results/latest.json)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
PHASES="${PHASES:-image,empty}" SIZE_MIB="${SIZE_MIB:-1024}" ROUNDS="${ROUNDS:-3}"
EMPTY_VOLUMES="${EMPTY_VOLUMES:-100}" CONCURRENCY="${CONCURRENCY:-1,8}"
OXI_BIN="${OXI_BIN:-$REPO_ROOT/target/release/oxistack}"
OFFSET="${OFFSET:-20700}"
VENV="${VENV:-$HOME/.venvs/osconf}"
RESULTS="${RESULTS:-$HERE/results/latest.json}"
PW="bench-$RANDOM$RANDOM"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (the page cache is dropped before every copy)"
[ -x "$VENV/bin/python" ] || die "no Python venv at $VENV (run scripts/test.sh or shared/conformance/setup.sh)"
command -v qemu-img >/dev/null || die "qemu-img is missing (apt-get install qemu-utils)"
if [ ! -x "$OXI_BIN" ]; then
    log "building $OXI_BIN"
    (cd "$REPO_ROOT" && cargo build --release -p oxistack) >&2
fi

RUN="$(mktemp -d "${TMPDIR:-/tmp}/oxi-bench-volume.XXXXXX")"
OXI_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$OXI_PID" ]; then
        kill -TERM "$OXI_PID" 2>/dev/null || true
        wait "$OXI_PID" 2>/dev/null || true
    fi
    if [ "$rc" != 0 ] && [ -s "$RUN/up.log" ]; then
        log "---- last 30 lines of oxistack's log"
        tail -n 30 "$RUN/up.log" >&2
    fi
    [ "${KEEP_TMP:-0}" = 1 ] && log "run directory kept: $RUN" || rm -rf "$RUN"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_kb=$(( SIZE_MIB * 1024 * 8 ))
avail_kb="$(df -Pk "$RUN" | awk 'NR==2 { print $4 }')"
[ "$avail_kb" -gt "$need_kb" ] || die "need about $((need_kb / 1024)) MiB free in $RUN, have $((avail_kb / 1024))"
AUTH_URL="http://127.0.0.1:$((5000 + OFFSET))/v3"
for port in $((5000 + OFFSET)) $((8776 + OFFSET)) $((9292 + OFFSET)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "127.0.0.1:$port is already in use"; fi
done
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; run dir $RUN ($(df -PT "$RUN" | awk 'NR==2 { print $1 " " $2 }'))"
"$OXI_BIN" up --data-dir "$RUN/up" --bind 127.0.0.1 --port-offset "$OFFSET" --admin-password "$PW" \
    --password-hash-rounds 4 --compute-driver fake --no-network-agent </dev/null >"$RUN/up.log" 2>&1 &
OXI_PID=$!
for ((i = 0; i < 240; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$((8776 + OFFSET))/" || true)" = 300 ] && break
    kill -0 "$OXI_PID" 2>/dev/null || die "oxistack exited"
    sleep 0.5
done
mkdir -p "$RUN/work"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
set +e
"$VENV/bin/python" "$HERE/volbench.py" --auth-url "$AUTH_URL" --password "$PW" --data-dir "$RUN/up" \
    --work "$RUN/work" --phases "$PHASES" --size-mib "$SIZE_MIB" --rounds "$ROUNDS" \
    --empty-volumes "$EMPTY_VOLUMES" --concurrency "$CONCURRENCY" >"$RUN/result.json"
rc=$?
set -e
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
left="$(find "$RUN/up/block-storage" -type f 2>/dev/null | wc -l)"
[ "$left" = 0 ] || log "WARNING: $left files left under $RUN/up/block-storage after the deletes"
mkdir -p "$(dirname "$RESULTS")"
"$VENV/bin/python" - "$RUN/result.json" "$RESULTS" "$LOAD_BEFORE" "$LOAD_AFTER" "$REPO_ROOT" "$left" <<'PY'
import json, os, platform, subprocess, sys
src, dst, before, after, repo, left = sys.argv[1:]
try:
    r = json.load(open(src))
except ValueError:
    r = {"error": "volbench.py printed no JSON"}
r["meta"] = {"load_before": before, "load_after": after, "nproc": os.cpu_count(), "kernel": platform.release(),
             "files_left": int(left),
             "git": subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                                   capture_output=True, text=True).stdout.strip()}
json.dump(r, open(dst, "w"), indent=1)
t = []
def row(what, measured, target, met):
    t.append((what, measured, target, "yes" if met else "NO"))
im = r.get("image")
if im:
    for k, ref in (("vol-raw", "convert"), ("vol-qcow2", "qconvert"), ("fetch+qconvert", "qconvert"), ("clone", "cp")):
        row("%s (%d MiB) vs %s" % (k, im["size_mib"], ref),
            "%s of %s MB/s = %s %%" % (im[k]["median_mbps"], im[ref]["median_mbps"], im[k]["pct_of_" + ref]),
            "(diagnostic)" if k == "fetch+qconvert" else ">= 80 %",
            k == "fetch+qconvert" or im[k]["pct_of_" + ref] >= 80)
for run in r.get("empty", {}).get("runs", []):
    row("100 empty 1 GiB volumes, c=%d" % run["concurrency"], "%.1f volumes/s" % run["volumes_per_s"],
        ">= 50/s", run["volumes_per_s"] >= 50)
w = max([len(x[0]) for x in t] + [4])
for x in t:
    print("%-*s  %-36s %-10s %s" % (w, *x))
if "error" in r:
    print("ERROR:", r["error"])
print("load average before %s, after %s; results in %s" % (before, after, dst))
PY
exit "$rc"
