#!/usr/bin/env bash
# bench/network/run.sh - the network service and its data plane under load
# (issue 6, Performance): port creation rate, port-to-data-plane latency,
# security-group rule propagation with 100 ports, and forwarded throughput
# against a plain veth pair. Run as root, by hand, on a release build; never
# in CI. The phases are in netbench.py (its docstring says what each does).
#
# Targets: >= 200 ports/s; a rule change in the kernel for 100 ports within
# 1 s; >= 80 % of the veth pair's throughput.
#
# It starts its own `oxistack up` (own data dir, --port-offset $OFFSET, the
# network agent on, host = this machine's hostname), runs netbench.py, then
# deletes everything through the API, waits for the agent to remove the
# bridges and DHCP namespaces, stops the cloud, deletes the oxbench-*
# namespaces, and runs `oxistack manage network-cleanup` only if something
# of its own networks is still on the host (that command removes every
# oxistack data plane on the host, other clouds' too).
#
# The agent of `oxistack up` owns every `brq*` bridge, `qdhcp-*`/`qrouter-*`
# namespace and `oxi-*` iptables chain on the host and removes those it does
# not know: do not run this while another oxistack cloud with a network agent
# (an e2e run, another bench) is up on the same machine - the script refuses
# to start when it sees one (FORCE=1 to override).
#
# Environment (all optional):
#   PHASES       rate,ready,sg,throughput        PORTS (1000)   CONCURRENCY (1,8)
#   READY_PORTS  (20)   SG_PORTS (100)   SG_ROUNDS (5)   ROUNDS (3)   IPERF_SECONDS (5: per iperf3 run)
#   OXI_BIN      oxistack binary (<repo>/target/release/oxistack; built if missing)
#   OFFSET       --port-offset (20600: identity 25600, network 30296)
#   VENV         Python with `requests` ($HOME/.venvs/osconf)
#   KEEP_TMP     1 = keep the run directory (oxistack's log)
#   RESULTS      output JSON (bench/network/results/latest.json)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
PHASES="${PHASES:-rate,ready,sg,throughput}"
PORTS="${PORTS:-1000}" CONCURRENCY="${CONCURRENCY:-1,8}"
READY_PORTS="${READY_PORTS:-20}" SG_PORTS="${SG_PORTS:-100}" SG_ROUNDS="${SG_ROUNDS:-5}"
ROUNDS="${ROUNDS:-3}" IPERF_SECONDS="${IPERF_SECONDS:-5}"
OXI_BIN="${OXI_BIN:-$REPO_ROOT/target/release/oxistack}"
OFFSET="${OFFSET:-20600}"
VENV="${VENV:-$HOME/.venvs/osconf}"
RESULTS="${RESULTS:-$HERE/results/latest.json}"
PW="bench-$RANDOM$RANDOM"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root: the network agent builds bridges, namespaces and firewall rules"
[ -x "$VENV/bin/python" ] || die "no Python venv at $VENV (run scripts/test.sh or shared/conformance/setup.sh)"
for p in iperf3 iptables-save dnsmasq ss; do
    command -v "$p" >/dev/null || {
        log "installing iperf3 (apt)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null || die "apt-get install iperf3 failed"
        command -v "$p" >/dev/null || die "$p is missing"
    }
done
if [ "${FORCE:-0}" != 1 ]; then
    # any binary whose name holds "oxistack" (copies such as /tmp/x-oxistack too)
    others="$(pgrep -a -f 'oxistack[^ ]* (up|serve)( |$)' | grep -v -- '--no-network-agent' | grep -v "^$$ " || true)"
    [ -z "$others" ] || die "another oxistack cloud runs here (its network agent and ours would remove each other's data plane):
$others
(FORCE=1 to run anyway)"
fi
if [ ! -x "$OXI_BIN" ]; then
    log "building $OXI_BIN"
    (cd "$REPO_ROOT" && cargo build --release -p oxistack) >&2
fi

# dnsmasq drops root and re-reads its hosts file: the data directory must be
# reachable by other users for the agent to keep its files there
RUN="$(mktemp -d "${TMPDIR:-/tmp}/oxi-bench-network.XXXXXX")"
chmod 755 "$RUN"
OXI_PID=""
cleanup() {
    local rc=$? ns left=""
    trap - EXIT INT TERM
    if [ -n "$OXI_PID" ]; then
        kill -TERM "$OXI_PID" 2>/dev/null || true
        wait "$OXI_PID" 2>/dev/null || true
    fi
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^oxbench-' || true); do
        ip netns delete "$ns" 2>/dev/null || true
    done
    ip link delete oxbv0 2>/dev/null || true
    if [ -s "$RUN/networks" ]; then
        while read -r id; do
            [ -e "/sys/class/net/brq${id:0:11}" ] || [ -e "/run/netns/qdhcp-$id" ] && left="$left $id"
        done <"$RUN/networks"
    fi
    if [ -n "$left" ]; then
        log "data plane of networks$left left behind: oxistack manage network-cleanup"
        "$OXI_BIN" manage network-cleanup --data-dir "$RUN/up" >&2 || true
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

HOST="$(cat /proc/sys/kernel/hostname)"
AUTH_URL="http://127.0.0.1:$((5000 + OFFSET))/v3"
for port in $((5000 + OFFSET)) $((9696 + OFFSET)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "127.0.0.1:$port is already in use"; fi
done
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; oxistack up in $RUN/up (host $HOST)"
"$OXI_BIN" up --data-dir "$RUN/up" --bind 127.0.0.1 --port-offset "$OFFSET" --admin-password "$PW" \
    --password-hash-rounds 4 --compute-driver fake </dev/null >"$RUN/up.log" 2>&1 &
OXI_PID=$!
for ((i = 0; i < 240; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$((9696 + OFFSET))/" || true)" = 200 ] && break
    kill -0 "$OXI_PID" 2>/dev/null || die "oxistack exited"
    sleep 0.5
done
grep -q 'network agent started' "$RUN/up.log" || sleep 2
grep -q 'network agent started' "$RUN/up.log" || die "oxistack up did not start its network agent"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
set +e
"$VENV/bin/python" "$HERE/netbench.py" --auth-url "$AUTH_URL" --password "$PW" --host "$HOST" \
    --phases "$PHASES" --ports "$PORTS" --concurrency "$CONCURRENCY" --ready-ports "$READY_PORTS" \
    --sg-ports "$SG_PORTS" --sg-rounds "$SG_ROUNDS" --rounds "$ROUNDS" --seconds "$IPERF_SECONDS" \
    --networks-file "$RUN/networks" >"$RUN/result.json"
rc=$?
set -e
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$(dirname "$RESULTS")"
"$VENV/bin/python" - "$RUN/result.json" "$RESULTS" "$LOAD_BEFORE" "$LOAD_AFTER" "$OXI_BIN" "$REPO_ROOT" <<'PY'
import json, subprocess, sys
src, dst, before, after, binary, repo = sys.argv[1:]
try:
    r = json.load(open(src))
except ValueError:
    r = {"error": "netbench.py printed no JSON"}
r["meta"] = {"load_before": before, "load_after": after, "nproc": __import__("os").cpu_count(),
             "kernel": __import__("platform").release(),
             "git": subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                                   capture_output=True, text=True).stdout.strip()}
json.dump(r, open(dst, "w"), indent=1)
t = []
def row(what, measured, target, met):
    t.append((what, measured, target, "yes" if met else "NO"))
for run in r.get("rate", {}).get("runs", []):
    row("port create, 1,000 ports, c=%d" % run["concurrency"], "%.1f ports/s (p50 %s ms)" % (run["ports_per_s"], run["p50_ms"]),
        ">= 200 ports/s", run["ports_per_s"] >= 200 and not run["errors"] and not run["duplicate_ips"])
rd = r.get("ready")
if rd:
    row("bound port -> tap on bridge + DHCP entry + ACTIVE", "p50 %s ms, p95 %s ms" % (rd["all_ready"]["p50_ms"], rd["all_ready"]["p95_ms"]),
        "(none)", True)
sg = r.get("sg")
if sg:
    row("SG rule -> kernel, %d ports" % sg["ports"], "p50 %s ms, max %s ms" % (sg["add_after_answer"]["p50_ms"], sg["add_after_answer"]["max_ms"]),
        "<= 1000 ms", sg["add_after_answer"]["max_ms"] <= 1000)
tp = r.get("throughput")
if tp:
    for k in ("bridge", "router", "nosec"):
        row("iperf3 %s vs veth" % {"bridge": "bridge+SG", "router": "router+SG", "nosec": "bridge, no SG"}[k], "%s of %s Gbit/s = %s %%" % (tp[k + "_median_gbps"], tp["veth_median_gbps"], tp[k + "_pct_of_veth"]),
            "(diagnostic)" if k == "nosec" else ">= 80 %", k == "nosec" or tp[k + "_pct_of_veth"] >= 80)
w = max([len(x[0]) for x in t] + [4])
for x in t:
    print("%-*s  %-40s %-16s %s" % (w, *x))
if "error" in r:
    print("ERROR:", r["error"])
print("load average before %s, after %s; results in %s" % (before, after, dst))
PY
exit "$rc"
