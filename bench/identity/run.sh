#!/usr/bin/env bash
# bench/identity/run.sh - oxistack identity vs the real Keystone, same load, one run.
#
# Installs its tools into $BENCH_CACHE (idempotent), then, one target at a time:
#   static   nginx answering a fixed 200 (the loopback ceiling)
#   keystone Keystone 30 (PyPI) under uwsgi, 2 processes, fernet tokens,
#            memcached cache (oslo_cache.memcache_pool), SQLite in WAL mode
#   oxistack `$OXI_BIN up` (identity on 127.0.0.1:5000+OFFSET)
# and drives each with oha at concurrency $CONCURRENCY for $DURATION seconds per
# workload (after a $WARMUP s warmup):
#   validate  GET  /v3/auth/tokens   (X-Auth-Token admin, X-Subject-Token a 2nd token)
#   issue     POST /v3/auth/tokens   (password auth, project scope)
#   users     GET  /v3/users
#   catalog   GET  /v3/auth/catalog
# plus the bare bcrypt-verify rate (cost 12, 2 processes) as the reference for
# `issue`. Prints a table and writes bench/identity/results/latest.json.
#
# Environment (all optional):
#   TARGETS       "keystone oxistack" (default both; either alone works)
#   WORKLOADS     "validate issue users catalog"
#   DURATION      seconds per measured run (10)      WARMUP  seconds (2)
#   CONCURRENCY   oha connections (16)
#   STATIC        1 = measure the static ceiling (1)
#   BCRYPT        1 = measure the bare bcrypt rate (1); BCRYPT_COST (12),
#                 BCRYPT_PROCS (2), BCRYPT_SECONDS (5)
#   OXI_BIN       oxistack binary (<repo>/target/release/oxistack; built with
#                 `cargo build --release -p oxistack` if missing)
#   OFFSET        oxistack --port-offset (20300 -> identity on 25300)
#   KS_PORT       Keystone port (15001)   STATIC_PORT (15002)   MC_PORT memcached (15003)
#   KS_PROCESSES  uwsgi processes (2)
#   KS_CATALOG_SERVICES  1 = give Keystone's catalog the usual OpenStack services
#                 (7 services x 3 interfaces, like a full cloud) so /v3/auth/catalog
#                 returns a comparable body (1)
#   BENCH_CACHE   install cache ($HOME/.cache/oxistack-bench)
#   OHA_VERSION   oha crate version (1.16.0)
#   KS_CONSTRAINTS pip pins (<repo>/../shared/conformance/keystone-constraints.txt)
#   KEEP_TMP      1 = keep the run directory (logs, oha JSON) after the run
#   RESULTS       output JSON (bench/identity/results/latest.json)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

TARGETS="${TARGETS:-keystone oxistack}"
TARGETS="${TARGETS//,/ }"
WORKLOADS="${WORKLOADS:-validate issue users catalog}"
WORKLOADS="${WORKLOADS//,/ }"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONCURRENCY="${CONCURRENCY:-16}"
STATIC="${STATIC:-1}"
BCRYPT="${BCRYPT:-1}"
BCRYPT_COST="${BCRYPT_COST:-12}"
BCRYPT_PROCS="${BCRYPT_PROCS:-2}"
BCRYPT_SECONDS="${BCRYPT_SECONDS:-5}"
OXI_BIN="${OXI_BIN:-$REPO_ROOT/target/release/oxistack}"
OFFSET="${OFFSET:-20300}"
KS_PORT="${KS_PORT:-15001}"
STATIC_PORT="${STATIC_PORT:-15002}"
MC_PORT="${MC_PORT:-15003}"
KS_PROCESSES="${KS_PROCESSES:-2}"
KS_CATALOG_SERVICES="${KS_CATALOG_SERVICES:-1}"
BENCH_CACHE="${BENCH_CACHE:-$HOME/.cache/oxistack-bench}"
OHA_VERSION="${OHA_VERSION:-1.16.0}"
OHA="${OHA:-$BENCH_CACHE/oha-$OHA_VERSION/bin/oha}"
KS_VENV="${KS_VENV:-$BENCH_CACHE/keystone-venv}"
KS_VERSION_SPEC="${KS_VERSION_SPEC:-keystone>=30,<31}"
KS_CONSTRAINTS="${KS_CONSTRAINTS-$REPO_ROOT/../shared/conformance/keystone-constraints.txt}"
PYTHON="${PYTHON:-python3}"
KEEP_TMP="${KEEP_TMP:-0}"
RESULTS="${RESULTS:-$HERE/results/latest.json}"
PW="${PW:-bench-$RANDOM$RANDOM}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

for t in $TARGETS; do
    case "$t" in keystone|oxistack) ;; *) die "unknown target '$t' (keystone, oxistack)";; esac
done
for w in $WORKLOADS; do
    case "$w" in validate|issue|users|catalog) ;; *) die "unknown workload '$w'";; esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$WARMUP" =~ ^[0-9]+$ && "$CONCURRENCY" =~ ^[0-9]+$ ]] \
    || die "DURATION, WARMUP and CONCURRENCY must be whole numbers"

# ---------------------------------------------------------------- cleanup
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/oxi-bench-identity.XXXXXX")"
RES="$RUN_DIR/res"
mkdir -p "$RES"
declare -A SVC_PID=()   # name -> pid of a process this script started
FAILED=1

descendants() {  # PID -> the pid and all its descendants, one per line
    local root="$1"
    ps -e -o pid=,ppid= 2>/dev/null | awk -v root="$root" '
        { kids[$2] = kids[$2] " " $1 }
        END {
            n = 1; q[1] = root; print root
            for (i = 1; i <= n; i++) {
                m = split(kids[q[i]], k, " ")
                for (j = 1; j <= m; j++) { q[++n] = k[j]; print k[j] }
            }
        }'
}

stop_svc() {  # NAME - TERM the process (and its tree), KILL after 15 s
    local name="$1" pid tree i
    pid="${SVC_PID[$name]:-}"
    [ -n "$pid" ] || return 0
    unset "SVC_PID[$name]"
    tree="$(descendants "$pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    # anything of the tree still alive (the root, or orphaned children)
    local p left=""
    for p in $tree; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    if [ -n "$left" ]; then
        log "$name: killing leftover pids$left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local n
    for n in oxistack uwsgi memcached nginx; do stop_svc "$n"; done
    if [ "$FAILED" = 1 ] && [ "$rc" != 130 ]; then
        local f
        for f in "$RUN_DIR"/ks/log/uwsgi.log "$RUN_DIR"/ks/log/keystone.log \
                 "$RUN_DIR"/ks/log/manage.log "$RUN_DIR"/oxi/oxistack.log "$RUN_DIR"/nginx/error.log; do
            [ -s "$f" ] || continue
            log "---- last 25 lines of $f"
            tail -n 25 "$f" >&2
        done
    fi
    if [ "$KEEP_TMP" = 1 ]; then
        log "run directory kept: $RUN_DIR"
    else
        rm -rf "$RUN_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- installs
run_root() {  # run a command as root (directly, or with non-interactive sudo)
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else die "need root to run: $* (install it yourself and re-run)"
    fi
}

ensure_apt() {
    local want=() 
    if has_target keystone && ! command -v memcached >/dev/null && [ ! -x /usr/bin/memcached ]; then
        want+=(memcached)
    fi
    if [ "$STATIC" = 1 ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
        want+=(nginx-light)
    fi
    [ "${#want[@]}" = 0 ] && return 0
    log "apt-get install ${want[*]}"
    mkdir -p "$BENCH_CACHE"
    { run_root apt-get update -q &&
      run_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${want[@]}"
    } >"$BENCH_CACHE/apt-install.log" 2>&1 \
        || { tail -n 30 "$BENCH_CACHE/apt-install.log" >&2; die "apt-get install ${want[*]} failed"; }
    # the Debian packages start their system services where an init runs; the
    # bench starts its own instances on its own ports and does not touch those
}

ensure_oha() {
    if [ -x "$OHA" ]; then return 0; fi
    command -v cargo >/dev/null || die "cargo not found (needed to install oha)"
    log "cargo install oha $OHA_VERSION (into $BENCH_CACHE/oha-$OHA_VERSION; a few minutes the first time)"
    mkdir -p "$BENCH_CACHE"
    # its own target dir: never the repo's (whose lock the lead's builds hold)
    CARGO_TARGET_DIR="$BENCH_CACHE/oha-build" \
        cargo install oha --version "$OHA_VERSION" --locked --root "$BENCH_CACHE/oha-$OHA_VERSION" \
        >"$BENCH_CACHE/oha-install.log" 2>&1 \
        || { tail -n 30 "$BENCH_CACHE/oha-install.log" >&2; die "cargo install oha failed"; }
    rm -rf "$BENCH_CACHE/oha-build"
}

ensure_venv() {
    if [ -x "$KS_VENV/bin/keystone-manage" ] && [ -x "$KS_VENV/bin/uwsgi" ] \
        && "$KS_VENV/bin/python" -c 'import memcache, bcrypt' 2>/dev/null; then
        return 0
    fi
    log "creating $KS_VENV: $KS_VERSION_SPEC, uwsgi, python-memcached (a few minutes the first time)"
    mkdir -p "$BENCH_CACHE"
    [ -x "$KS_VENV/bin/python" ] || "$PYTHON" -m venv "$KS_VENV"
    local cons=()
    if [ -n "$KS_CONSTRAINTS" ] && [ -f "$KS_CONSTRAINTS" ]; then cons=(-c "$KS_CONSTRAINTS"); fi
    {
        "$KS_VENV/bin/pip" install -q --upgrade pip wheel setuptools &&
        # oslo_cache.memcache_pool imports `memcache` (python-memcached);
        # uwsgi builds from source (needs a C compiler and the Python headers)
        "$KS_VENV/bin/pip" install -q "${cons[@]}" "$KS_VERSION_SPEC" uwsgi python-memcached bcrypt
    } >"$BENCH_CACHE/venv-install.log" 2>&1 \
        || { tail -n 30 "$BENCH_CACHE/venv-install.log" >&2; die "pip install failed"; }
}

ensure_oxistack() {
    [ -x "$OXI_BIN" ] && return 0
    [ "$OXI_BIN" = "$REPO_ROOT/target/release/oxistack" ] || die "OXI_BIN=$OXI_BIN is not executable"
    log "building oxistack (cargo build --release -p oxistack)"
    (cd "$REPO_ROOT" && cargo build --release -p oxistack) || die "cargo build failed"
    [ -x "$OXI_BIN" ] || die "no $OXI_BIN after the build"
}

T_INSTALL=$SECONDS
ensure_apt
ensure_oha
ensure_venv
has_target oxistack && ensure_oxistack
T_INSTALL=$((SECONDS - T_INSTALL))
OHA_VER="$("$OHA" --version 2>/dev/null | head -1)"
KS_VER="$("$KS_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("keystone"))' 2>/dev/null || echo '?')"
log "tools ready in ${T_INSTALL}s: $OHA_VER, keystone $KS_VER, $(nginx -v 2>&1 | head -1 || true), $(memcached -V 2>/dev/null || true)"

# ---------------------------------------------------------------- helpers
wait_http() {  # URL PID SECONDS NAME - wait until URL answers 200
    local url="$1" pid="$2" secs="$3" name="$4" code="" i
    for ((i = 0; i < secs * 2; i++)); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
        [ "$code" = 200 ] && return 0
        kill -0 "$pid" 2>/dev/null || die "$name exited before $url answered"
        sleep 0.5
    done
    die "$name: $url did not answer 200 within ${secs}s (last: $code)"
}

port_free() {  # PORT - fail if something already listens there
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        die "127.0.0.1:$1 is already in use (set another port)"
    fi
}

auth_body() {
    printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"%s"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}' "$PW"
}

get_token() {  # BASE(/v3) -> prints a project-scoped token
    local base="$1" code hdr
    hdr="$RUN_DIR/token.hdr"
    code="$(curl -s -o "$RUN_DIR/token.body" -D "$hdr" -w '%{http_code}' --max-time 60 \
        -H 'Content-Type: application/json' -d "$(auth_body)" "$base/auth/tokens" || true)"
    [ "$code" = 201 ] || die "password auth at $base/auth/tokens answered $code: $(head -c 300 "$RUN_DIR/token.body" 2>/dev/null)"
    awk 'tolower($1) == "x-subject-token:" { print $2 }' "$hdr" | tr -d '\r'
}

rss_tree() {  # NAME PID... -> JSON {"name", "pids", "rss_kb", "pss_kb"} over the trees
    local name="$1" p pids="" rss=0 pss=0 v csv
    shift
    for p in "$@"; do pids="$pids $(descendants "$p" | tr '\n' ' ')"; done
    # shellcheck disable=SC2086
    csv="$(printf '%s\n' $pids | paste -sd, -)"
    for p in $pids; do
        v="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
        rss=$((rss + ${v:-0}))
        v="$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true)"
        pss=$((pss + ${v:-0}))
    done
    printf '{"name":"%s","pids":[%s],"rss_kb":%d,"pss_kb":%d}\n' \
        "$name" "$csv" "$rss" "$pss"
}

memcached_stats() {  # -> JSON of memcached's counters (proof the cache is used)
    local line out="" k v
    exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT" || { echo '{}'; return 0; }
    printf 'stats\r\n' >&3
    while IFS=' ' read -r -t 5 k v line <&3; do
        v="${v%$'\r'}"
        [ "$k" = END ] || [ "${k%$'\r'}" = END ] && break
        case "$v" in
            get_hits|get_misses|cmd_get|cmd_set|curr_items|curr_connections|bytes) out="$out\"$v\":${line%$'\r'}," ;;
        esac
    done
    exec 3<&- 3>&-
    printf '{%s}\n' "${out%,}"
}

# oha's flags: -z duration, -c connections, -w wait for the requests still in
# flight at the deadline (else they count as errors and the server keeps
# working on them into the next run), JSON on stdout, no TUI
oha_run() {  # OUT SECONDS URL [oha args...]
    local out="$1" secs="$2" url="$3"
    shift 3
    "$OHA" --no-tui --output-format json -c "$CONCURRENCY" -z "${secs}s" -w "$@" "$url" >"$out" 2>"$out.err" \
        || { cat "$out.err" >&2; die "oha failed on $url"; }
}

# WORKLOAD -> sets REQ_URL, REQ_ARGS (oha), REQ_CURL (curl), REQ_CODE
workload_req() {  # WORKLOAD BASE ADMIN_TOKEN SUBJECT_TOKEN
    local w="$1" base="$2" tok="$3" sub="$4"
    case "$w" in
        validate)
            REQ_URL="$base/auth/tokens"; REQ_CODE=200
            REQ_ARGS=(-H "X-Auth-Token: $tok" -H "X-Subject-Token: $sub")
            REQ_CURL=(-H "X-Auth-Token: $tok" -H "X-Subject-Token: $sub") ;;
        issue)
            REQ_URL="$base/auth/tokens"; REQ_CODE=201
            REQ_ARGS=(-m POST -T application/json -d "$(auth_body)")
            REQ_CURL=(-X POST -H 'Content-Type: application/json' -d "$(auth_body)") ;;
        users)
            REQ_URL="$base/users"; REQ_CODE=200
            REQ_ARGS=(-H "X-Auth-Token: $tok"); REQ_CURL=(-H "X-Auth-Token: $tok") ;;
        catalog)
            REQ_URL="$base/auth/catalog"; REQ_CODE=200
            REQ_ARGS=(-H "X-Auth-Token: $tok"); REQ_CURL=(-H "X-Auth-Token: $tok") ;;
    esac
}

preflight() {  # NAME URL EXPECTED curl-args... - one request must answer EXPECTED
    local name="$1" url="$2" expect="$3" code
    shift 3
    code="$(curl -s -o "$RUN_DIR/pre.body" -w '%{http_code}' --max-time 60 "$@" "$url" || true)"
    [ "$code" = "$expect" ] \
        || die "$name: $url answered $code, not $expect - refusing to benchmark errors: $(head -c 300 "$RUN_DIR/pre.body" 2>/dev/null)"
    wc -c <"$RUN_DIR/pre.body" | tr -d ' '
}

bench_target() {  # TARGET BASE(/v3)
    local target="$1" base="$2" tok sub w size
    tok="$(get_token "$base")"
    sub="$(get_token "$base")"
    [ -n "$tok" ] && [ -n "$sub" ] || die "$target: no X-Subject-Token in the auth response"
    for w in $WORKLOADS; do
        workload_req "$w" "$base" "$tok" "$sub"
        size="$(preflight "$target/$w" "$REQ_URL" "$REQ_CODE" "${REQ_CURL[@]}")"
        log "$target/$w: warmup ${WARMUP}s, then ${DURATION}s at c=$CONCURRENCY ($REQ_URL -> $REQ_CODE, $size bytes)"
        if [ "$WARMUP" -gt 0 ]; then
            oha_run "$RES/$target-$w.warmup.json" "$WARMUP" "$REQ_URL" "${REQ_ARGS[@]}"
        fi
        oha_run "$RES/$target-$w.json" "$DURATION" "$REQ_URL" "${REQ_ARGS[@]}"
        printf '{"expected_status":%s,"body_bytes":%s,"url":"%s"}\n' "$REQ_CODE" "$size" "$REQ_URL" \
            >"$RES/$target-$w.meta.json"
        "$PYTHON" "$HERE/report.py" --one "$RES/$target-$w.json" "$REQ_CODE" >&2
    done
}

# ---------------------------------------------------------------- bcrypt reference
printf '{"loadavg_start":"%s","nproc":%s,"oha":"%s","keystone":"%s","duration_s":%s,"warmup_s":%s,"concurrency":%s,"targets":"%s","workloads":"%s","install_s":%s,"ks_processes":%s,"kernel":"%s","cpu":"%s"}\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$OHA_VER" "$KS_VER" "$DURATION" "$WARMUP" "$CONCURRENCY" \
    "$TARGETS" "$WORKLOADS" "$T_INSTALL" "$KS_PROCESSES" "$(uname -r)" \
    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo | tr -d '"')" >"$RES/meta.json"
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (other load on the machine skews every figure)"

if [ "$BCRYPT" = 1 ]; then
    log "bare bcrypt verify: cost $BCRYPT_COST, $BCRYPT_PROCS processes, ${BCRYPT_SECONDS}s"
    "$KS_VENV/bin/python" "$HERE/bcrypt_rate.py" --cost "$BCRYPT_COST" --procs "$BCRYPT_PROCS" \
        --seconds "$BCRYPT_SECONDS" >"$RES/bcrypt.json" || die "bcrypt_rate.py failed"
    log "bcrypt: $(cat "$RES/bcrypt.json")"
fi

# ---------------------------------------------------------------- static ceiling
if [ "$STATIC" = 1 ]; then
    port_free "$STATIC_PORT"
    mkdir -p "$RUN_DIR/nginx/tmp"
    cat >"$RUN_DIR/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $RUN_DIR/nginx/nginx.pid;
error_log $RUN_DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $RUN_DIR/nginx/tmp/body;
    proxy_temp_path $RUN_DIR/nginx/tmp/proxy;
    fastcgi_temp_path $RUN_DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $RUN_DIR/nginx/tmp/uwsgi;
    scgi_temp_path $RUN_DIR/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$STATIC_PORT;
        default_type text/plain;
        location / { return 200 "ok\n"; }
    }
}
EOF
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
    "$NGINX" -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx/nginx.conf" -e "$RUN_DIR/nginx/error.log" \
        -g 'daemon off;' </dev/null >"$RUN_DIR/nginx/stdout.log" 2>&1 &
    SVC_PID[nginx]=$!
    wait_http "http://127.0.0.1:$STATIC_PORT/" "${SVC_PID[nginx]}" 20 nginx
    preflight static "http://127.0.0.1:$STATIC_PORT/" 200 >/dev/null
    log "static: nginx $(nginx -v 2>&1 | sed 's/.*\///'), fixed 200, ${DURATION}s at c=$CONCURRENCY"
    [ "$WARMUP" -gt 0 ] && oha_run "$RES/static.warmup.json" "$WARMUP" "http://127.0.0.1:$STATIC_PORT/"
    oha_run "$RES/static.json" "$DURATION" "http://127.0.0.1:$STATIC_PORT/"
    "$PYTHON" "$HERE/report.py" --one "$RES/static.json" 200 >&2
    stop_svc nginx
fi

# ---------------------------------------------------------------- keystone
if has_target keystone; then
    KS="$RUN_DIR/ks"
    KS_BASE="http://127.0.0.1:$KS_PORT"
    port_free "$KS_PORT"
    port_free "$MC_PORT"
    mkdir -p "$KS/etc" "$KS/log" "$KS/fernet-keys" "$KS/credential-keys"
    chmod 700 "$KS/fernet-keys" "$KS/credential-keys"
    cat >"$KS/etc/keystone.conf" <<EOF
# generated by bench/identity/run.sh
[DEFAULT]
log_dir = $KS/log
log_file = keystone.log
debug = false

[database]
connection = sqlite:///$KS/keystone.db?timeout=60

[token]
provider = fernet

[fernet_tokens]
key_repository = $KS/fernet-keys

[fernet_receipts]
key_repository = $KS/fernet-keys

[credential]
key_repository = $KS/credential-keys

[cache]
enabled = true
backend = oslo_cache.memcache_pool
memcache_servers = 127.0.0.1:$MC_PORT
EOF
    km() { "$KS_VENV/bin/keystone-manage" --config-file "$KS/etc/keystone.conf" "$@" >>"$KS/log/manage.log" 2>&1; }
    t0=$SECONDS
    log "keystone: db_sync, fernet_setup, credential_setup, bootstrap"
    km db_sync || die "keystone-manage db_sync failed"
    "$KS_VENV/bin/python" -c 'import sqlite3, sys; sys.exit(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal")' \
        "$KS/keystone.db" || die "could not switch the keystone db to WAL"
    km fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" || die "fernet_setup failed"
    km credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" || die "credential_setup failed"
    km bootstrap --bootstrap-username admin --bootstrap-password "$PW" \
        --bootstrap-project-name admin --bootstrap-role-name admin \
        --bootstrap-service-name keystone --bootstrap-region-id RegionOne \
        --bootstrap-admin-url "$KS_BASE" --bootstrap-internal-url "$KS_BASE" \
        --bootstrap-public-url "$KS_BASE" || die "keystone-manage bootstrap failed"

    MC_ARGS=(-l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64)
    [ "$(id -u)" = 0 ] && MC_ARGS+=(-u root)
    memcached "${MC_ARGS[@]}" </dev/null >"$KS/log/memcached.log" 2>&1 &
    SVC_PID[memcached]=$!

    # as devstack runs it (lib/apache write_uwsgi_config), with http-socket
    # instead of a unix socket behind Apache: "Connection: close" because
    # uwsgi's plain http-socket does not keep connections alive (devstack adds
    # the same header); one request per connection, like Apache's proxy gives it
    (cd "$KS" && OS_KEYSTONE_CONFIG_DIR="$KS/etc" exec "$KS_VENV/bin/uwsgi" \
        --master --processes "$KS_PROCESSES" --enable-threads --lazy-apps --need-app \
        --http-socket "127.0.0.1:$KS_PORT" --add-header 'Connection: close' \
        --module 'keystone.wsgi.api:application' \
        --die-on-term --hook-master-start 'unix_signal:15 gracefully_kill_them_all' \
        --worker-reload-mercy 1 --thunder-lock --buffer-size 65535 \
        --disable-logging --logto "$KS/log/uwsgi.log" </dev/null) &
    SVC_PID[uwsgi]=$!
    wait_http "$KS_BASE/v3" "${SVC_PID[uwsgi]}" 120 "keystone (uwsgi)"
    log "keystone up in $((SECONDS - t0))s: uwsgi pid ${SVC_PID[uwsgi]} ($KS_PROCESSES processes), memcached pid ${SVC_PID[memcached]}"

    if [ "$KS_CATALOG_SERVICES" = 1 ]; then
        # the catalog of a full cloud, so /v3/auth/catalog bodies are comparable
        tok="$(get_token "$KS_BASE/v3")"
        for svc in compute:nova:8774/v2.1 image:glance:9292 network:neutron:9696 \
                   placement:placement:8778 volumev3:cinderv3:8776/v3 \
                   object-store:swift:8080/v1/AUTH_%\(project_id\)s orchestration:heat:8004/v1/%\(project_id\)s; do
            IFS=: read -r stype sname spath <<<"$svc"
            sid="$(curl -s --max-time 30 -H "X-Auth-Token: $tok" -H 'Content-Type: application/json' \
                -d "{\"service\":{\"type\":\"$stype\",\"name\":\"$sname\",\"enabled\":true}}" \
                "$KS_BASE/v3/services" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["service"]["id"])')" \
                || die "could not create service $stype in keystone"
            for iface in public internal admin; do
                code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H "X-Auth-Token: $tok" \
                    -H 'Content-Type: application/json' \
                    -d "{\"endpoint\":{\"service_id\":\"$sid\",\"interface\":\"$iface\",\"region_id\":\"RegionOne\",\"url\":\"http://127.0.0.1:${spath}\"}}" \
                    "$KS_BASE/v3/endpoints")"
                [ "$code" = 201 ] || die "could not create the $iface endpoint of $stype ($code)"
            done
        done
    fi

    rss_tree keystone-idle "${SVC_PID[uwsgi]}" "${SVC_PID[memcached]}" >"$RES/rss-keystone-idle.json"
    bench_target keystone "$KS_BASE/v3"
    rss_tree keystone "${SVC_PID[uwsgi]}" "${SVC_PID[memcached]}" >"$RES/rss-keystone.json"
    memcached_stats >"$RES/memcached-stats.json"
    log "memcached after load: $(cat "$RES/memcached-stats.json")"
    log "keystone RSS after load: $(cat "$RES/rss-keystone.json")"
    stop_svc uwsgi
    stop_svc memcached
fi

# ---------------------------------------------------------------- oxistack
if has_target oxistack; then
    OXI="$RUN_DIR/oxi"
    OXI_BASE="http://127.0.0.1:$((5000 + OFFSET))"
    port_free "$((5000 + OFFSET))"
    mkdir -p "$OXI"
    t0=$SECONDS
    "$OXI_BIN" up --data-dir "$OXI" --bind 127.0.0.1 --port-offset "$OFFSET" \
        --admin-password "$PW" </dev/null >"$OXI/oxistack.log" 2>&1 &
    SVC_PID[oxistack]=$!
    wait_http "$OXI_BASE/v3" "${SVC_PID[oxistack]}" 60 oxistack
    if [ -f "$OXI/openrc" ]; then
        # shellcheck source=/dev/null
        url="$(. "$OXI/openrc" && echo "${OS_AUTH_URL:-}")"
        [ "${url%/}" = "$OXI_BASE/v3" ] || log "WARNING: openrc OS_AUTH_URL=$url (expected $OXI_BASE/v3)"
    else
        log "WARNING: oxistack up wrote no $OXI/openrc"
    fi
    log "oxistack up in $((SECONDS - t0))s: pid ${SVC_PID[oxistack]}"
    rss_tree oxistack-idle "${SVC_PID[oxistack]}" >"$RES/rss-oxistack-idle.json"
    bench_target oxistack "$OXI_BASE/v3"
    rss_tree oxistack "${SVC_PID[oxistack]}" >"$RES/rss-oxistack.json"
    log "oxistack RSS after load: $(cat "$RES/rss-oxistack.json")"
    stop_svc oxistack
fi

# ---------------------------------------------------------------- report
mkdir -p "$(dirname "$RESULTS")"
"$PYTHON" "$HERE/report.py" --dir "$RES" --out "$RESULTS"
FAILED=0
