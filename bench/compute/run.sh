#!/usr/bin/env bash
# bench/compute/run.sh - the compute control plane under load, fake driver:
# boot $SERVERS servers through the API in batches of $BATCH (multi-create),
# time until all are ACTIVE, then time GET /servers/detail of all of them
# (what `openstack server list --long` fetches), and read the resident memory.
#
#   inproc   `oxistack up`: one process, in-process bus, one compute agent
#   rabbit   `oxistack serve`: a controller and two compute nodes as separate
#            processes over the real RabbitMQ (a vhost of its own) and
#            PostgreSQL (a database of its own)
#
# Targets (issue 4): >= 100 servers/s to ACTIVE in process, >= 50 over
# RabbitMQ with 2 agents; the list of 1,000 servers under 200 ms.
# Prints a table and writes bench/compute/results/latest.json.
#
# Environment (all optional):
#   MODES      "inproc rabbit"      SERVERS (1000)   BATCH (50)   SAMPLES (50)
#   OXI_BIN    oxistack binary (<repo>/target/release/oxistack; built if missing)
#   OFFSET     --port-offset / port_offset (20500)
#   PG         PostgreSQL server URL (postgres://postgres@127.0.0.1:5432/postgres)
#   RABBIT     RabbitMQ URL without vhost (rabbit://guest:guest@127.0.0.1:5672)
#   VENV       Python with `requests` ($HOME/.venvs/osconf)
#   KEEP_TMP   1 = keep the run directory (logs)
#   RESULTS    output JSON (bench/compute/results/latest.json)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
MODES="${MODES:-inproc rabbit}"
SERVERS="${SERVERS:-1000}" BATCH="${BATCH:-50}" SAMPLES="${SAMPLES:-50}"
OXI_BIN="${OXI_BIN:-$REPO_ROOT/target/release/oxistack}"
OFFSET="${OFFSET:-20500}"
PG="${PG:-postgres://postgres@127.0.0.1:5432/postgres}"
RABBIT="${RABBIT:-rabbit://guest:guest@127.0.0.1:5672}"
VENV="${VENV:-$HOME/.venvs/osconf}"
RESULTS="${RESULTS:-$HERE/results/latest.json}"
PW="bench-$RANDOM$RANDOM"
VHOST="oxistack-bench-$$"
DB="oxistack_bench"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }
[ -x "$VENV/bin/python" ] || die "no Python venv at $VENV (run scripts/test.sh or shared/conformance/setup.sh)"
if [ ! -x "$OXI_BIN" ]; then
    log "building $OXI_BIN"
    (cd "$REPO_ROOT" && cargo build --release -p oxistack) >&2
fi

RUN="$(mktemp -d "${TMPDIR:-/tmp}/oxi-bench-compute.XXXXXX")"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
    rabbitmqctl delete_vhost "$VHOST" >/dev/null 2>&1 || true
    psql "$PG" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    [ "${KEEP_TMP:-0}" = 1 ] && log "run directory kept: $RUN" || rm -rf "$RUN"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

wait_identity() {  # URL
    local i
    for ((i = 0; i < 240; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ] && return 0
        sleep 0.5
    done
    die "$1 did not answer"
}

wait_computes() {  # N - until N nova-compute services are up
    "$VENV/bin/python" - "$AUTH_URL" "$PW" "$1" <<'PY'
import sys, time, requests
url, pw, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
        "domain": {"id": "default"}, "password": pw}}}, "scope": {"project": {"name": "admin",
        "domain": {"id": "default"}}}}}
r = requests.post(url + "/auth/tokens", json=body); r.raise_for_status()
tok = r.headers["X-Subject-Token"]
compute = next(e["url"] for s in r.json()["token"]["catalog"] if s["type"] == "compute"
               for e in s["endpoints"] if e["interface"] == "public")
for _ in range(240):
    svcs = requests.get(compute + "/os-services?binary=nova-compute", headers={"X-Auth-Token": tok}).json()
    if sum(1 for s in svcs.get("services", []) if s["state"] == "up") >= n:
        sys.exit(0)
    time.sleep(0.5)
sys.exit("compute services not up")
PY
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

run_boot() {  # MODE
    LOAD_BEFORE="$(loadavg)"
    "$VENV/bin/python" "$HERE/boot.py" --auth-url "$AUTH_URL" --password "$PW" \
        --servers "$SERVERS" --batch "$BATCH" --samples "$SAMPLES" >"$RUN/$1.json"
    LOAD_AFTER="$(loadavg)"
    log "$1: $(cat "$RUN/$1.json") (load average before: $LOAD_BEFORE, after: $LOAD_AFTER)"
}

AUTH_URL="http://127.0.0.1:$((5000 + OFFSET))/v3"
for mode in $MODES; do
    case "$mode" in
    inproc)
        log "inproc: oxistack up (data $RUN/up)"
        "$OXI_BIN" up --data-dir "$RUN/up" --port-offset "$OFFSET" --admin-password "$PW" \
            --password-hash-rounds 4 </dev/null >"$RUN/up.log" 2>&1 &
        PIDS=($!)
        wait_identity "$AUTH_URL"
        wait_computes 1
        idle=$(rss_kib "${PIDS[0]}")
        run_boot inproc
        printf '{"idle_rss_kib": %s, "rss_kib": %s, "peak_rss_kib": %s, "load_before": "%s", "load_after": "%s"}\n' "$idle" \
            "$(rss_kib "${PIDS[0]}")" "$(hwm_kib "${PIDS[0]}")" "$LOAD_BEFORE" "$LOAD_AFTER" >"$RUN/inproc.mem.json"
        cleanup_pids=("${PIDS[@]}")
        for p in "${cleanup_pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
        PIDS=()
        ;;
    rabbit)
        log "rabbit: controller + 2 compute nodes over RabbitMQ vhost $VHOST, PostgreSQL database $DB"
        rabbitmqctl add_vhost "$VHOST" >/dev/null
        rabbitmqctl set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
        psql "$PG" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
        common="transport_url = $RABBIT/$VHOST
my_ip = 127.0.0.1
bind_host = 127.0.0.1
port_offset = $OFFSET"
        printf '[DEFAULT]\nroles = controller\nhost = bench-controller\nstate_path = %s\n%s\n[database]\nconnection = %s\n[identity]\nadmin_password = %s\npassword_hash_rounds = 4\n' \
            "$RUN/controller" "$common" "${PG%/*}/$DB" "$PW" >"$RUN/controller.conf"
        "$OXI_BIN" serve --config "$RUN/controller.conf" </dev/null >"$RUN/controller.log" 2>&1 &
        PIDS=($!)
        for i in 1 2; do
            printf '[DEFAULT]\nroles = compute\nhost = bench-compute-%s\nstate_path = %s\n%s\n' \
                "$i" "$RUN/compute-$i" "$common" >"$RUN/compute-$i.conf"
            "$OXI_BIN" serve --config "$RUN/compute-$i.conf" </dev/null >"$RUN/compute-$i.log" 2>&1 &
            PIDS+=($!)
        done
        wait_identity "$AUTH_URL"
        wait_computes 2
        idle=$(rss_kib "${PIDS[0]}")
        run_boot rabbit
        printf '{"idle_rss_kib": %s, "rss_kib": %s, "peak_rss_kib": %s, "agent_rss_kib": [%s, %s], "load_before": "%s", "load_after": "%s"}\n' "$idle" \
            "$(rss_kib "${PIDS[0]}")" "$(hwm_kib "${PIDS[0]}")" "$(rss_kib "${PIDS[1]}")" "$(rss_kib "${PIDS[2]}")" \
            "$LOAD_BEFORE" "$LOAD_AFTER" \
            >"$RUN/rabbit.mem.json"
        for p in "${PIDS[@]}"; do kill -TERM "$p"; wait "$p" || true; done
        PIDS=()
        ;;
    *) die "unknown mode $mode (inproc, rabbit)" ;;
    esac
done

mkdir -p "$(dirname "$RESULTS")"
"$VENV/bin/python" - "$RUN" "$RESULTS" $MODES <<'PY'
import json, sys, os
run, out, modes = sys.argv[1], sys.argv[2], sys.argv[3:]
res = {}
target = {"inproc": 100, "rabbit": 50}
print("%-8s %8s %12s %10s %10s %12s %12s" % ("mode", "servers", "servers/s", "list p50", "list p99", "RSS MiB", "peak MiB"))
for m in modes:
    r = json.load(open(os.path.join(run, m + ".json")))
    r.update(json.load(open(os.path.join(run, m + ".mem.json"))))
    r["target_servers_per_second"] = target[m]
    res[m] = r
    print("%-8s %8d %12.1f %8.1fms %8.1fms %12.1f %12.1f" % (m, r["servers"], r["servers_per_second"],
          r["list_p50_ms"], r["list_p99_ms"], r["rss_kib"] / 1024, r["peak_rss_kib"] / 1024))
json.dump(res, open(out, "w"), indent=2)
print("written", out)
PY
