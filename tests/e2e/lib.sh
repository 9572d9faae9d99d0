# shellcheck shell=bash
# tests/e2e/lib.sh - helpers sourced by the end-to-end scripts.
#
# A suite sources this file, calls `oxi_up DIR OFFSET`, runs `step`s and ends
# with `e2e_finish`. An EXIT trap always stops the cloud it started.
#
#   oxi_up DIR OFFSET    start target/release/oxistack up on 127.0.0.1 with
#                        ports 5000+OFFSET..., wait for /v3, source DIR/openrc
#   oxi_down             SIGTERM, and fail unless it exits 0 within 15 s
#   step NAME CMD...     run CMD (a command or a function in this shell),
#                        record pass/fail; STEP_OUT holds its stdout
#   expect_fail [--match REGEX] CMD...   succeed only if CMD fails (and its
#                        output matches REGEX)
#   expect_match REGEX CMD...            succeed if CMD succeeds and its
#                        output matches REGEX (grep -E, multi-line)
#   os_id ARGS...        openstack ARGS -f value -c id
#   os_field FIELD ARGS...   openstack ARGS -f value -c FIELD
#
# Environment:
#   OXI_E2E_EXTERNAL=1   use the cloud in the OS_* variables; never start or
#                        stop one (e.g. the reference Keystone)
#   VENV                 venv with the clients (default $HOME/.venvs/osconf)
#   OXI_CONFORMANCE      conformance harness (default <repo>/../shared/conformance)
#   OXI_BIN              the binary (default <repo>/target/release/oxistack)
#   OXI_E2E_RESULTS      if set, append "suite<TAB>passed<TAB>failed" to it
#   OXI_UP_TIMEOUT       seconds to wait for /v3 (default 60)
#   OXI_UP_ARGS          more flags for `oxistack up` (split on spaces)
#   OXI_E2E_LOGDIR       where suites keep logs and results (default target/e2e)

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/../.." && pwd)"
VENV="${VENV:-$HOME/.venvs/osconf}"
CONF="${OXI_CONFORMANCE:-$REPO_ROOT/../shared/conformance}"
OXI_BIN="${OXI_BIN:-$REPO_ROOT/target/release/oxistack}"
SUITE="${SUITE:-$(basename "${BASH_SOURCE[1]:-e2e}" .sh)}"
export PATH="$VENV/bin:$PATH"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

E2E_PASSED=0
E2E_FAILED=0
E2E_FAILED_NAMES=()
OXI_PID=""
OXI_DIR=""
STEP_OUT=""

say() { printf '%s\n' "$*"; }
die() { say "ERROR: $*" >&2; exit 2; }

[ -x "$VENV/bin/openstack" ] || die "no openstack CLI in $VENV (run scripts/test.sh or $CONF/setup.sh)"
E2E_TMP="$(mktemp -d "${TMPDIR:-/tmp}/oxi-e2e.XXXXXX")"

oxi_up() {  # DIR OFFSET
    if [ "${OXI_E2E_EXTERNAL:-0}" = 1 ]; then
        if [ -z "${OS_AUTH_URL:-}" ] || [ -z "${OS_PASSWORD:-}" ]; then
            die "OXI_E2E_EXTERNAL=1 needs OS_AUTH_URL and OS_PASSWORD"
        fi
        say "== $SUITE: using the external cloud at $OS_AUTH_URL"
        return 0
    fi
    OXI_DIR="$1"
    local offset="$2" pw url i code
    pw="${OXI_ADMIN_PASSWORD:-e2e-$RANDOM$RANDOM}"
    url="http://127.0.0.1:$((5000 + offset))/v3"
    [ -x "$OXI_BIN" ] || die "$OXI_BIN not built (cargo build --release -p oxistack)"
    mkdir -p "$OXI_DIR"
    say "== $SUITE: starting oxistack up (data $OXI_DIR, port offset $offset)"
    # shellcheck disable=SC2086 # OXI_UP_ARGS: extra flags, split on spaces
    "$OXI_BIN" up --data-dir "$OXI_DIR" --bind 127.0.0.1 --port-offset "$offset" \
        --admin-password "$pw" ${OXI_UP_ARGS:-} </dev/null >"$OXI_DIR/oxistack.log" 2>&1 &
    OXI_PID=$!
    for ((i = 0; i < ${OXI_UP_TIMEOUT:-60} * 2; i++)); do
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
        [ "$code" = 200 ] && break
        kill -0 "$OXI_PID" 2>/dev/null || { OXI_PID=""; die "oxistack up exited before $url answered"; }
        sleep 0.5
    done
    [ "$code" = 200 ] || die "$url did not answer 200 within ${OXI_UP_TIMEOUT:-60}s (last: $code)"
    [ -f "$OXI_DIR/openrc" ] || die "oxistack up wrote no $OXI_DIR/openrc"
    # only the openrc speaks for this cloud (no OS_CLOUD, OS_TOKEN… from outside)
    local v
    for v in $(compgen -e); do [[ "$v" != OS_* ]] || unset "$v"; done
    # shellcheck source=/dev/null
    . "$OXI_DIR/openrc"
    [ "${OS_AUTH_URL:-}" = "$url" ] || say "WARNING: openrc OS_AUTH_URL=${OS_AUTH_URL:-} (expected $url)"
    say "== $SUITE: oxistack up (pid $OXI_PID) answers on $url"
}

oxi_down() {
    [ -n "$OXI_PID" ] || return 0
    local pid="$OXI_PID" i rc=0
    OXI_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "FAIL oxistack did not exit within 15 s of SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 1
    fi
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || { say "FAIL oxistack exited with status $rc after SIGTERM (expected 0)"; return 1; }
    say "== $SUITE: oxistack stopped cleanly"
}

# record the clean shutdown as a step of its own
oxi_stop_step() {
    [ -n "$OXI_PID" ] || return 0
    step "clean shutdown on SIGTERM (exit 0 within 15 s)" oxi_down
}

# remove what the stopped cloud's network agent built on the host
# (namespaces, dnsmasq, bridges, firewall chains): tests leave no trace
oxi_clean_host() {
    [ -n "$OXI_DIR" ] && [ "$(id -u)" = 0 ] && [ -x "$OXI_BIN" ] || return 0
    "$OXI_BIN" manage network-cleanup --data-dir "$OXI_DIR" >/dev/null 2>&1 ||
        say "WARNING: oxistack manage network-cleanup failed"
}

_e2e_exit() {
    local rc=$?
    [ -z "$OXI_PID" ] || oxi_down || rc=1
    oxi_clean_host
    if [ "$rc" != 0 ] || [ "$E2E_FAILED" != 0 ]; then
        if [ -n "$OXI_DIR" ] && [ -f "$OXI_DIR/oxistack.log" ]; then
            say "---- last 40 lines of $OXI_DIR/oxistack.log"
            tail -n 40 "$OXI_DIR/oxistack.log"
        fi
    fi
    rm -rf "$E2E_TMP"
    exit "$rc"
}
trap _e2e_exit EXIT
trap 'exit 130' INT TERM

step() {  # NAME CMD...
    local name="$1" rc=0 t0
    shift
    t0=$SECONDS
    # stdout is kept in STEP_OUT; a function step may set globals (it runs in
    # this shell). errexit does not apply inside it: chain with && or return.
    "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
    # shellcheck disable=SC2034 # read by the suites
    STEP_OUT="$(cat "$E2E_TMP/out")"
    record "$name" "$rc" "$t0"
    if [ "$rc" != 0 ]; then
        say "     \$ $*"
        sed 's/^/     | /' "$E2E_TMP/out" "$E2E_TMP/err" | tail -n 30
    fi
    return 0
}

record() {  # NAME RC [START_SECONDS] - count a result and print its line
    local t=$((SECONDS - ${3:-$SECONDS}))
    if [ "$2" = 0 ]; then
        E2E_PASSED=$((E2E_PASSED + 1))
        printf 'ok   %-62s %4ss\n' "$1" "$t"
    else
        E2E_FAILED=$((E2E_FAILED + 1))
        E2E_FAILED_NAMES+=("$1")
        printf 'FAIL %-62s %4ss (exit %s)\n' "$1" "$t" "$2"
    fi
}

expect_fail() {  # [--match REGEX] CMD...
    local re="" out
    if [ "$1" = --match ]; then re="$2"; shift 2; fi
    if out="$("$@" 2>&1)"; then
        say "expected a failure, but it succeeded:"; say "$out"; return 1
    fi
    say "$out"
    if [ -n "$re" ] && ! grep -qE -- "$re" <<<"$out"; then
        say "failed as expected, but the output does not match /$re/"; return 1
    fi
    return 0
}

expect_match() {  # REGEX CMD...
    local re="$1" out
    shift
    out="$("$@" 2>&1)" || { say "$out"; return 1; }
    say "$out"
    grep -qE -- "$re" <<<"$out" || { say "output does not match /$re/"; return 1; }
}

os_id() { openstack "$@" -f value -c id; }
os_field() { local f="$1"; shift; openstack "$@" -f value -c "$f"; }

e2e_finish() {  # prints the suite summary; the exit status says pass/fail
    oxi_stop_step
    say "== $SUITE: $E2E_PASSED passed, $E2E_FAILED failed"
    local n
    for n in "${E2E_FAILED_NAMES[@]}"; do say "   failed: $n"; done
    if [ -n "${OXI_E2E_RESULTS:-}" ]; then
        printf '%s\t%s\t%s\n' "$SUITE" "$E2E_PASSED" "$E2E_FAILED" >>"$OXI_E2E_RESULTS"
    fi
    [ "$E2E_FAILED" = 0 ]
}
