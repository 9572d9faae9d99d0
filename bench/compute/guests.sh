#!/usr/bin/env bash
# bench/compute/guests.sh - real guests under the qemu driver (issue 5,
# Performance): `oxistack up --with-test-image`, then guests.py boots
# $COUNTS servers of the test image at once (1, then 10) and splits each
# boot into the control plane's time (POST to QEMU's exec), QEMU's start to
# ACTIVE, and the guest's own boot to its ready marker; and reads each
# QEMU's resident memory beside the flavor's RAM.
#
# Targets: control-plane overhead (to_exec) under 100 ms at p50; 10
# concurrent boots limited by the host CPU (load average printed), not by
# the control plane. Prints a table and writes bench/compute/results/guests.json.
#
# Environment (all optional):
#   COUNTS     "1,1,10" (the first boot fills the image cache)
#   FLAVOR     m1.tiny        VIRT_TYPE (qemu: TCG)
#   CPU_RATIO  --cpu-allocation-ratio (8: ten 1-vCPU guests on 2 CPUs)
#   OXI_BIN    oxistack binary (<repo>/target/release/oxistack; built if missing)
#   OFFSET     --port-offset (20700)
#   VENV       Python with `requests` ($HOME/.venvs/osconf)
#   KEEP_TMP   1 = keep the run directory (logs, instances)
#   RESULTS    output JSON (bench/compute/results/guests.json)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
COUNTS="${COUNTS:-1,1,10}" CPU_RATIO="${CPU_RATIO:-8}" FLAVOR="${FLAVOR:-m1.tiny}" VIRT_TYPE="${VIRT_TYPE:-qemu}"
OXI_BIN="${OXI_BIN:-$REPO_ROOT/target/release/oxistack}"
OFFSET="${OFFSET:-20700}"
VENV="${VENV:-$HOME/.venvs/osconf}"
RESULTS="${RESULTS:-$HERE/results/guests.json}"
PW="bench-$RANDOM$RANDOM"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }
[ -x "$VENV/bin/python" ] || die "no Python venv at $VENV (run scripts/test.sh or shared/conformance/setup.sh)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
if [ ! -x "$OXI_BIN" ]; then
    log "building $OXI_BIN"
    (cd "$REPO_ROOT" && cargo build --release -p oxistack) >&2
fi

RUN="$(mktemp -d "${TMPDIR:-/tmp}/oxi-bench-guests.XXXXXX")"
UP_PID=""
cleanup() {
    if [ -n "$UP_PID" ]; then kill -TERM "$UP_PID" 2>/dev/null || true; wait "$UP_PID" 2>/dev/null || true; fi
    # guests outlive `oxistack up` by design; the bench's must not
    pkill -KILL -f -- "[q]emu-system.*$RUN" || true
    [ "${KEEP_TMP:-0}" = 1 ] && log "run directory kept: $RUN" || rm -rf "$RUN"
}
trap cleanup EXIT

AUTH_URL="http://127.0.0.1:$((5000 + OFFSET))/v3"
log "oxistack up --with-test-image (data $RUN/up)"
"$OXI_BIN" up --data-dir "$RUN/up" --port-offset "$OFFSET" --admin-password "$PW" \
    --password-hash-rounds 4 --with-test-image --virt-type "$VIRT_TYPE" \
    --cpu-allocation-ratio "$CPU_RATIO" </dev/null >"$RUN/up.log" 2>&1 &
UP_PID=$!
# identity answers first; guests.py waits for the test image
for ((i = 0; i < 600; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$AUTH_URL" || true)" = 200 ] && break
    kill -0 "$UP_PID" 2>/dev/null || die "oxistack up exited (see $RUN/up.log)"
    sleep 0.5
done

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
"$VENV/bin/python" "$HERE/guests.py" --auth-url "$AUTH_URL" --password "$PW" \
    --counts "$COUNTS" --flavor "$FLAVOR" >"$RUN/guests.jsonl"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
UP_RSS="$(awk '/^VmRSS/ {print $2}' "/proc/$UP_PID/status")"

mkdir -p "$(dirname "$RESULTS")"
"$VENV/bin/python" - "$RUN/guests.jsonl" "$RESULTS" "$LOAD_BEFORE" "$LOAD_AFTER" "$UP_RSS" "$VIRT_TYPE" <<'PY'
import json, sys
src, out, before, after, up_rss, virt = sys.argv[1:]
rows = [json.loads(l) for l in open(src) if l.strip()]
print("%-6s %12s %14s %17s %13s %14s %15s" % ("boots", "to exec p50", "to ACTIVE p50",
      "exec->ACTIVE p50", "to ready p50", "QEMU RSS p50", "beyond RAM p50"))
for r in rows:
    print("%-6d %10dms %12dms %15dms %11dms %10.1f MiB %11.1f MiB" % (
        r["count"], r["to_exec_p50_ms"], r["to_active_p50_ms"], r["exec_to_active_p50_ms"],
        r["to_marker_p50_ms"], r["qemu_rss_mib_p50"], r["qemu_overhead_mib_p50"]))
    print("       max: %d / %d / %d / %d ms; guest RAM touched %.1f of %d MiB; overhead max %.1f MiB" % (
        r["to_exec_max_ms"], r["to_active_max_ms"], r["exec_to_active_max_ms"], r["to_marker_max_ms"],
        r["guest_ram_touched_mib_p50"], r["flavor_ram_mib"], r["qemu_overhead_mib_max"]))
res = {"virt_type": virt, "runs": rows, "load_before": before, "load_after": after,
       "oxistack_rss_mib_after": round(int(up_rss) / 1024, 1), "target_to_exec_p50_ms": 100}
json.dump(res, open(out, "w"), indent=2)
print("load average before %s, after %s; oxistack RSS %.1f MiB; written %s" % (
      before, after, int(up_rss) / 1024, out))
PY
