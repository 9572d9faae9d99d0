#!/usr/bin/env bash
# bench/image/run.sh - image data path: oxistack vs the disk itself (and the real
# Glance if it installs), same bytes, same disk, one run. Issue 3, Performance.
#
#   disk      dd of a random file (bs=4M conv=fsync) into the run directory,
#             which is also where oxistack (and Glance) store images; then a
#             dd read of it to /dev/null (page cache dropped first if permitted)
#   oxistack  `$OXI_BIN up` (image on 127.0.0.1:9292+OFFSET): POST /v2/images,
#             PUT .../file of the same file (curl -T), timed; GET .../file to
#             /dev/null, timed (cache dropped first if permitted), ROUNDS times,
#             each after a dd read of the stored file itself; GET once more
#             into a file and cmp; checksum == md5sum, os_hash_value == sha512sum
#   glance    the same through Glance 33 (PyPI, file store, gunicorn 1 worker,
#             via shared/conformance/reference-glance.sh), authenticating
#             against oxistack's identity; optional (GLANCE=0 to skip)
# for each size in $SIZES (MiB), sampling the server's VmRSS every $SAMPLE_MS ms
# during every upload and download (idle / peak upload / peak download).
# Prints a table and writes bench/image/results/latest.json.
#
# Environment (all optional):
#   SIZES        image sizes in MiB ("256 1024"); the last one is the throughput figure
#   TARGETS      "oxistack glance" (default both; glance is skipped if it cannot run)
#   GLANCE_INSTALL_TIMEOUT  seconds allowed for the first pip install of Glance (300)
#   OXI_BIN      oxistack binary (<repo>/target/release/oxistack; built with
#                `cargo build --release -p oxistack` if missing or if it serves no image API)
#   OFFSET       oxistack --port-offset (20400 -> identity 25400, image 29692)
#   GL_PORT      Glance port (19392)
#   SAMPLE_MS    RSS sampling period (100)
#   DROP_CACHES  1 = drop the page cache before every read (if permitted) (1)
#   ROUNDS       downloads per size, each paired with a cold dd read of the
#                stored file; the figures are the medians (3)
#   BENCH_CACHE  install cache ($HOME/.cache/oxistack-bench); Glance venv in it
#   OSC_VENV     venv with the `openstack` CLI, used by reference-glance.sh to
#                register Glance ($HOME/.venvs/osconf)
#   KEEP_TMP     1 = keep the run directory (logs, RSS samples) after the run
#   RESULTS      output JSON (bench/image/results/latest.json)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

SIZES="${SIZES:-256 1024}"
TARGETS="${TARGETS:-oxistack glance}"
TARGETS="${TARGETS//,/ }"
OXI_BIN="${OXI_BIN:-$REPO_ROOT/target/release/oxistack}"
OFFSET="${OFFSET:-20400}"
GL_PORT="${GL_PORT:-19392}"
SAMPLE_MS="${SAMPLE_MS:-100}"
DROP_CACHES="${DROP_CACHES:-1}"
ROUNDS="${ROUNDS:-3}"
BENCH_CACHE="${BENCH_CACHE:-$HOME/.cache/oxistack-bench}"
GL_VENV="${GL_VENV:-$BENCH_CACHE/glance-venv}"
OSC_VENV="${OSC_VENV:-$HOME/.venvs/osconf}"
GLANCE_INSTALL_TIMEOUT="${GLANCE_INSTALL_TIMEOUT:-300}"
REF_GLANCE="${REF_GLANCE:-$REPO_ROOT/../shared/conformance/reference-glance.sh}"
PYTHON="${PYTHON:-python3}"
KEEP_TMP="${KEEP_TMP:-0}"
RESULTS="${RESULTS:-$HERE/results/latest.json}"
PW="${PW:-bench-$RANDOM$RANDOM}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 2; }
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }
for t in $TARGETS; do
    case "$t" in oxistack|glance) ;; *) die "unknown target '$t' (oxistack, glance)";; esac
done
for s in $SIZES; do [[ "$s" =~ ^[0-9]+$ && "$s" -gt 0 ]] || die "SIZES must be MiB counts"; done
[[ "$SAMPLE_MS" =~ ^[0-9]+$ && "$SAMPLE_MS" -gt 0 ]] || die "SAMPLE_MS must be a whole number"
BIG="${SIZES##* }"   # the throughput figure is the last (largest) size

# ---------------------------------------------------------------- cleanup
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/oxi-bench-image.XXXXXX")"
RES="$RUN_DIR/res"
mkdir -p "$RES"
FIG="$RES/figures.tsv"   # KEY<TAB>VALUE lines, turned into JSON at the end
: >"$FIG"
OXI_PID=""
SAMPLER_PID=""
GLANCE_STARTED=0
FAILED=1

fig() { printf '%s\t%s\n' "$1" "$2" >>"$FIG"; }

stop_pid() {  # PID NAME - TERM, KILL after 15 s
    local pid="$1" name="$2" i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then log "$name: KILL $pid"; kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

glance_ctl() {  # start|stop through reference-glance.sh, in this run's own state dir
    GL_VENV="$GL_VENV" GL_STATE_DIR="$RUN_DIR/glance" GL_PORT="$GL_PORT" VENV="$OSC_VENV" \
        PYTHON="$PYTHON" bash "$REF_GLANCE" "$1"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$SAMPLER_PID" ] && { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; }
    if [ "$GLANCE_STARTED" = 1 ]; then glance_ctl stop >/dev/null 2>&1 || true; fi
    stop_pid "$OXI_PID" oxistack
    if [ "$FAILED" = 1 ] && [ "$rc" != 130 ]; then
        local f
        for f in "$RUN_DIR"/oxi/oxistack.log "$RUN_DIR"/glance/log/glance-api.log "$RUN_DIR"/glance/log/gunicorn.log; do
            [ -s "$f" ] || continue
            log "---- last 25 lines of $f"
            tail -n 25 "$f" >&2
        done
    fi
    if [ "$KEEP_TMP" = 1 ]; then log "run directory kept: $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }   # BYTES SECONDS
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

CACHE_DROP=0
if [ "$DROP_CACHES" = 1 ] && sync && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then CACHE_DROP=1; fi
drop_caches() { if [ "$CACHE_DROP" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi; }

port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then die "127.0.0.1:$1 is already in use"; fi
}

wait_http() {  # URL PID SECONDS NAME - until URL answers 2xx/3xx
    local url="$1" pid="$2" secs="$3" name="$4" code="" i
    for ((i = 0; i < secs * 2; i++)); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
        [[ "$code" =~ ^[23] ]] && return 0
        [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || die "$name exited before $url answered"
        sleep 0.5
    done
    die "$name: $url did not answer within ${secs}s (last: $code)"
}

tree_pids() {  # PID -> the pid and its descendants, space-separated
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        END { n = 1; q[1] = root; printf "%s", root
              for (i = 1; i <= n; i++) { m = split(kids[q[i]], k, " ")
                  for (j = 1; j <= m; j++) { q[++n] = k[j]; printf " %s", k[j] } } }'
}

rss_kb() {  # PID... -> summed VmRSS in kB
    local p v t=0
    for p in "$@"; do
        v="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

start_sampler() {  # OUT PID... - VmRSS sum every SAMPLE_MS, at most 30 min
    local out="$1"; shift
    local period max
    period="$(awk -v ms="$SAMPLE_MS" 'BEGIN { printf "%.3f", ms / 1000 }')"
    max=$((1800 * 1000 / SAMPLE_MS))
    (
        for ((i = 0; i < max; i++)); do
            rss_kb "$@"
            sleep "$period"
        done
    ) >"$out" &
    SAMPLER_PID=$!
}
stop_sampler() {  # -> peak kB of the samples
    local out="$1"
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    sort -n "$out" | tail -n 1
}

get_token() {  # IDENTITY_BASE(/v3)
    local base="$1" code
    code="$(curl -s -o "$RUN_DIR/token.body" -D "$RUN_DIR/token.hdr" -w '%{http_code}' --max-time 60 \
        -H 'Content-Type: application/json' \
        -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"admin\",\"domain\":{\"name\":\"Default\"},\"password\":\"$PW\"}}},\"scope\":{\"project\":{\"name\":\"admin\",\"domain\":{\"name\":\"Default\"}}}}}" \
        "$base/auth/tokens" || true)"
    [ "$code" = 201 ] || die "password auth at $base answered $code: $(head -c 300 "$RUN_DIR/token.body")"
    awk 'tolower($1) == "x-subject-token:" { print $2 }' "$RUN_DIR/token.hdr" | tr -d '\r'
}

json_field() {  # FILE FIELD
    "$PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# ---------------------------------------------------------------- oxistack binary
oxi_has_image() { "$OXI_BIN" up --help 2>/dev/null | grep -q -- '--image-store-dir'; }
if [ ! -x "$OXI_BIN" ] || ! oxi_has_image; then
    [ "$OXI_BIN" = "$REPO_ROOT/target/release/oxistack" ] || die "$OXI_BIN is missing or serves no image API"
    log "cargo build --release -p oxistack (binary missing or without the image service)"
    (cd "$REPO_ROOT" && cargo build --release -p oxistack) >"$RUN_DIR/build.log" 2>&1 \
        || { tail -n 30 "$RUN_DIR/build.log" >&2; die "cargo build failed"; }
    oxi_has_image || die "$OXI_BIN still serves no image API"
fi

# ---------------------------------------------------------------- source files
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; run dir $RUN_DIR ($(df -P "$RUN_DIR" | awk 'NR==2 { print $1 }'))"
[ "$CACHE_DROP" = 1 ] && log "page cache is dropped before every read" \
    || log "WARNING: cannot drop the page cache (not root?): reads may be served from memory, for the disk and the servers alike"
need_kb=$(( (BIG * 3 + 512) * 1024 ))
for s in $SIZES; do need_kb=$((need_kb + s * 1024 * 3)); done
avail_kb="$(df -Pk "$RUN_DIR" | awk 'NR==2 { print $4 }')"
[ "$avail_kb" -gt "$need_kb" ] || die "need about $((need_kb / 1024)) MiB free in $RUN_DIR, have $((avail_kb / 1024))"

declare -A SRC_MD5=() SRC_SHA512=()
for s in $SIZES; do
    f="$RUN_DIR/src-$s"
    log "making $f: $s MiB from /dev/urandom"
    dd if=/dev/urandom of="$f" bs=4M count=$((s / 4 > 0 ? s / 4 : 1)) iflag=fullblock status=none
    [ $((s % 4)) = 0 ] || dd if=/dev/urandom of="$f" bs=1M count="$s" iflag=fullblock status=none
    SRC_MD5[$s]="$(md5sum "$f" | cut -d' ' -f1)"
    SRC_SHA512[$s]="$(sha512sum "$f" | cut -d' ' -f1)"
    fig "size.$s.bytes" "$(stat -c %s "$f")"
done
sync

# ---------------------------------------------------------------- the disk itself
mkdir -p "$RUN_DIR/disk"
for s in $SIZES; do
    src="$RUN_DIR/src-$s"; dst="$RUN_DIR/disk/dst-$s"; bytes="$(stat -c %s "$src")"
    drop_caches
    t0="$(now)"; dd if="$src" of="$dst" bs=4M conv=fsync status=none; t1="$(now)"
    w="$(mbps "$bytes" "$(secs "$t0" "$t1")")"
    fig "disk.$s.write_s" "$(secs "$t0" "$t1")"
    fig "disk.$s.write_mbps" "$w"
    drop_caches
    t0="$(now)"; dd if="$dst" of=/dev/null bs=4M status=none; t1="$(now)"
    r="$(mbps "$bytes" "$(secs "$t0" "$t1")")"
    fig "disk.$s.read_s" "$(secs "$t0" "$t1")"
    fig "disk.$s.read_mbps" "$r"
    log "disk $s MiB: write (dd bs=4M conv=fsync) $w MB/s, read (dd bs=4M) $r MB/s"
    rm -f "$dst"
done

# the hashing an upload must do on the fly (Glance's checksum = md5, os_hash =
# sha512), on one CPU from the page cache: the CPU ceiling of a streamed upload
src="$RUN_DIR/src-$BIG"; bytes="$(stat -c %s "$src")"
cat "$src" >/dev/null
t0="$(now)"; md5sum "$src" >/dev/null; t1="$(now)"; sha512sum "$src" >/dev/null; t2="$(now)"
fig "cpu.md5_mbps" "$(mbps "$bytes" "$(secs "$t0" "$t1")")"
fig "cpu.sha512_mbps" "$(mbps "$bytes" "$(secs "$t1" "$t2")")"
fig "cpu.md5_plus_sha512_mbps" "$(mbps "$bytes" "$(secs "$t0" "$t2")")"
# both at once, one CPU each: the ceiling of an upload that produces both
t0="$(now)"; md5sum "$src" >/dev/null & sha512sum "$src" >/dev/null; wait; t1="$(now)"
fig "cpu.md5_and_sha512_parallel_mbps" "$(mbps "$bytes" "$(secs "$t0" "$t1")")"
log "hashing on one CPU (cached): md5 $(mbps "$bytes" "$(secs "$t0" "$t1")") MB/s, sha512 $(mbps "$bytes" "$(secs "$t1" "$t2")") MB/s, both in series $(mbps "$bytes" "$(secs "$t0" "$t2")") MB/s"

# ---------------------------------------------------------------- one target
# bench_target NAME IMAGE_BASE TOKEN STORE_DIR PID...
bench_target() {
    local name="$1" base="$2" tok="$3" store="$4"; shift 4
    local pids=("$@") s src bytes id code t0 t1 t2 peak idle out
    for s in $SIZES; do
        src="$RUN_DIR/src-$s"; bytes="$(stat -c %s "$src")"
        code="$(curl -s -o "$RES/$name-create.json" -w '%{http_code}' --max-time 60 \
            -H "X-Auth-Token: $tok" -H 'Content-Type: application/json' \
            -d "{\"name\":\"bench-$s\",\"disk_format\":\"raw\",\"container_format\":\"bare\"}" "$base/v2/images")"
        [ "$code" = 201 ] || die "$name: POST /v2/images answered $code: $(head -c 300 "$RES/$name-create.json")"
        id="$(json_field "$RES/$name-create.json" id)"
        sleep 1
        idle="$(rss_kb "${pids[@]}")"
        fig "$name.$s.rss_idle_kb" "$idle"

        # upload: the source read from disk as for dd (cache dropped)
        drop_caches
        start_sampler "$RES/$name-$s-up.rss" "${pids[@]}"
        t0="$(now)"
        code="$(curl -s -o "$RES/$name-up.body" -w '%{http_code}' --max-time 1800 -X PUT -T "$src" \
            -H "X-Auth-Token: $tok" -H 'Content-Type: application/octet-stream' "$base/v2/images/$id/file")"
        t1="$(now)"
        sync -f "$store" 2>/dev/null || sync
        t2="$(now)"
        peak="$(stop_sampler "$RES/$name-$s-up.rss")"
        [ "$code" = 204 ] || die "$name: PUT file answered $code: $(head -c 300 "$RES/$name-up.body")"
        fig "$name.$s.upload_s" "$(secs "$t0" "$t1")"
        fig "$name.$s.upload_mbps" "$(mbps "$bytes" "$(secs "$t0" "$t1")")"
        fig "$name.$s.upload_synced_mbps" "$(mbps "$bytes" "$(secs "$t0" "$t2")")"
        fig "$name.$s.rss_upload_peak_kb" "$peak"

        curl -s -o "$RES/$name-show.json" --max-time 60 -H "X-Auth-Token: $tok" "$base/v2/images/$id"
        [ "$(json_field "$RES/$name-show.json" status)" = active ] \
            || die "$name: image not active after upload: $(head -c 300 "$RES/$name-show.json")"
        [ "$(json_field "$RES/$name-show.json" size)" = "$bytes" ] || die "$name: size mismatch"
        [ "$(json_field "$RES/$name-show.json" checksum)" = "${SRC_MD5[$s]}" ] \
            || die "$name: checksum $(json_field "$RES/$name-show.json" checksum) != md5sum ${SRC_MD5[$s]}"
        [ "$(json_field "$RES/$name-show.json" os_hash_value)" = "${SRC_SHA512[$s]}" ] \
            || die "$name: os_hash_value != sha512sum"
        fig "$name.$s.checksum_ok" true
        out="$(find "$store" -type f -size "${bytes}c" 2>/dev/null | head -1)"
        [ -n "$out" ] && fig "$name.$s.stored_same_fs" "$([ "$(stat -c %d "$out")" = "$(stat -c %d "$RUN_DIR/disk")" ] && echo true || echo false)"

        # download to /dev/null from a cold cache, ROUNDS times, each round
        # paired with a cold dd read of the very file the store holds: the
        # physical limit of these bytes at that moment (this VM's "disk" is
        # the host's cache, whose speed drifts over minutes)
        local downs=() reads=() r
        start_sampler "$RES/$name-$s-down.rss" "${pids[@]}"
        for r in $(seq "$ROUNDS"); do
            if [ -n "$out" ]; then
                drop_caches
                t0="$(now)"; dd if="$out" of=/dev/null bs=4M status=none; t1="$(now)"
                reads+=("$(mbps "$bytes" "$(secs "$t0" "$t1")")")
            fi
            drop_caches
            t0="$(now)"
            code="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' --max-time 1800 \
                -H "X-Auth-Token: $tok" "$base/v2/images/$id/file")"
            t1="$(now)"
            [ "$code" = "200 $bytes" ] || die "$name: GET file answered '$code' (status bytes), expected '200 $bytes'"
            downs+=("$(mbps "$bytes" "$(secs "$t0" "$t1")")")
        done
        peak="$(stop_sampler "$RES/$name-$s-down.rss")"
        fig "$name.$s.download_rounds_mbps" "${downs[*]}"
        fig "$name.$s.download_mbps" "$(median "${downs[@]}")"
        if [ ${#reads[@]} -gt 0 ]; then
            fig "$name.$s.stored_file_read_rounds_mbps" "${reads[*]}"
            fig "$name.$s.stored_file_read_mbps" "$(median "${reads[@]}")"
        fi
        fig "$name.$s.rss_download_peak_kb" "$peak"

        # correctness: once more into a file, byte-compared
        curl -s -f -o "$RUN_DIR/got" --max-time 1800 -H "X-Auth-Token: $tok" "$base/v2/images/$id/file" \
            || die "$name: second GET file failed"
        cmp -s "$RUN_DIR/got" "$src" || die "$name: downloaded bytes differ from the source"
        rm -f "$RUN_DIR/got"
        fig "$name.$s.cmp_ok" true

        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X DELETE -H "X-Auth-Token: $tok" "$base/v2/images/$id")"
        [ "$code" = 204 ] || log "WARNING: $name: DELETE image answered $code"
        log "$name $s MiB: upload $(awk -F'\t' -v k="$name.$s.upload_mbps" '$1==k{print $2}' "$FIG") MB/s, download $(awk -F'\t' -v k="$name.$s.download_mbps" '$1==k{print $2}' "$FIG") MB/s, RSS idle $((idle / 1024)) MiB / up $(( $(awk -F'\t' -v k="$name.$s.rss_upload_peak_kb" '$1==k{print $2}' "$FIG") / 1024 )) / down $((peak / 1024)) MiB"
    done
}

# ---------------------------------------------------------------- oxistack (always: Glance authenticates against it)
OXI="$RUN_DIR/oxi"
ID_BASE="http://127.0.0.1:$((5000 + OFFSET))"
IMG_BASE="http://127.0.0.1:$((9292 + OFFSET))"
port_free "$((5000 + OFFSET))"; port_free "$((9292 + OFFSET))"
mkdir -p "$OXI"
"$OXI_BIN" up --data-dir "$OXI" --bind 127.0.0.1 --port-offset "$OFFSET" --admin-password "$PW" --no-network-agent \
    </dev/null >"$OXI/oxistack.log" 2>&1 &
OXI_PID=$!
wait_http "$ID_BASE/v3" "$OXI_PID" 60 oxistack
wait_http "$IMG_BASE/" "$OXI_PID" 60 "oxistack image"
TOKEN="$(get_token "$ID_BASE/v3")"
[ -n "$TOKEN" ] || die "no X-Subject-Token from oxistack"
fig "oxistack.version" "$("$OXI_BIN" --version 2>/dev/null | head -1 || echo unknown)"
fig "oxistack.git" "$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if has_target oxistack; then
    log "oxistack up: pid $OXI_PID, image $IMG_BASE"
    bench_target oxistack "$IMG_BASE" "$TOKEN" "$OXI/image" "$OXI_PID"
fi

# ---------------------------------------------------------------- glance (optional)
glance_skip() { log "glance: SKIPPED - $1"; fig "glance.skipped" "$1"; }
if has_target glance; then
    if [ ! -f "$REF_GLANCE" ]; then glance_skip "no $REF_GLANCE"
    elif [ ! -x "$OSC_VENV/bin/openstack" ]; then glance_skip "no openstack CLI in $OSC_VENV (shared/conformance/setup.sh)"
    else
        ok=1
        if ! [ -x "$GL_VENV/bin/glance-manage" ] || ! [ -x "$GL_VENV/bin/gunicorn" ]; then
            log "installing Glance 33 into $GL_VENV (at most ${GLANCE_INSTALL_TIMEOUT}s)"
            mkdir -p "$BENCH_CACHE"
            GL_VENV="$GL_VENV" PYTHON="$PYTHON" timeout "$GLANCE_INSTALL_TIMEOUT" bash "$REF_GLANCE" install \
                >"$BENCH_CACHE/glance-install.log" 2>&1 || { ok=0; glance_skip "pip install glance failed or took over ${GLANCE_INSTALL_TIMEOUT}s (see $BENCH_CACHE/glance-install.log)"; }
        fi
        if [ "$ok" = 1 ]; then
            port_free "$GL_PORT"
            GLANCE_STARTED=1
            # registered in oxistack's identity (the openrc's admin), which its
            # keystonemiddleware then validates tokens against
            if ( set +u; . "$OXI/openrc"; glance_ctl start ) >"$RUN_DIR/glance-start.log" 2>&1; then
                GL_PID="$(cat "$RUN_DIR/glance/gunicorn.pid")"
                GL_PIDS="$(tree_pids "$GL_PID")"
                fig "glance.version" "$("$GL_VENV/bin/pip" show glance 2>/dev/null | awk '/^Version/ { print $2 }')"
                fig "glance.processes" "$(wc -w <<<"$GL_PIDS")"
                log "glance up: gunicorn pids $GL_PIDS, http://127.0.0.1:$GL_PORT"
                # shellcheck disable=SC2086
                bench_target glance "http://127.0.0.1:$GL_PORT" "$TOKEN" "$RUN_DIR/glance/images" $GL_PIDS
            else
                tail -n 20 "$RUN_DIR/glance-start.log" >&2
                glance_skip "reference-glance.sh start failed (log above)"
            fi
            glance_ctl stop >/dev/null 2>&1 || true
            GLANCE_STARTED=0
        fi
    fi
fi

stop_pid "$OXI_PID" oxistack
OXI_PID=""

# ---------------------------------------------------------------- report
fig "meta.loadavg_end" "$(cut -d' ' -f1-3 /proc/loadavg)"
fig "meta.nproc" "$(nproc)"
fig "meta.kernel" "$(uname -r)"
fig "meta.cache_dropped" "$([ "$CACHE_DROP" = 1 ] && echo true || echo false)"
fig "meta.filesystem" "$(df -PT "$RUN_DIR" | awk 'NR==2 { print $1 " " $2 }')"
fig "meta.sizes_mib" "$SIZES"
fig "meta.sample_ms" "$SAMPLE_MS"
mkdir -p "$(dirname "$RESULTS")"
"$PYTHON" "$HERE/report.py" "$FIG" "$RESULTS" "$BIG"
FAILED=0
