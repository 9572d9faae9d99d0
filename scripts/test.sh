#!/usr/bin/env bash
# scripts/test.sh - THE test command: installs what the tests need, then runs
# formatting, lints, the Rust tests (SQLite, PostgreSQL, MariaDB), the release
# build and the end-to-end suites (real OpenStack CLI + tempest). CI runs it
# through .ci/run. Idempotent; runs as root without a terminal.
#
# Usage: scripts/test.sh [--quick] [--no-deps] [--only e2e|rust]
#   --quick      skip tempest
#   --no-deps    skip apt and the Python venv (use what is installed)
#   --only e2e   only the release build and the end-to-end suites (after
#                apt and the venv unless --no-deps; no databases)
#   --only rust  only the databases, fmt, clippy and cargo test
# Environment: OXI_CONFORMANCE (default <repo>/../shared/conformance),
#   VENV (default $HOME/.venvs/osconf); cargo tests get OXISTACK_TEST_POSTGRES,
#   OXISTACK_TEST_MYSQL and OXISTACK_TEST_RABBIT (a database or broker that
#   cannot be started fails the run).
# Logs: target/test-logs/<step>.log (e2e: target/test-logs/e2e/). The last line
# is "N passed, N failed" (steps; each e2e suite counts as one).
# shellcheck disable=SC2317  # (the step functions are called through step)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=0 NO_DEPS=0 ONLY=""
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-deps) NO_DEPS=1 ;;
        --only) ONLY="${2:-}"; shift ;;
        --only=*) ONLY="${1#--only=}" ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
    shift
done
case "$ONLY" in ""|e2e|rust) ;; *) echo "--only takes e2e or rust" >&2; usage ;; esac
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

export DEBIAN_FRONTEND=noninteractive CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
export OXI_CONFORMANCE="${OXI_CONFORMANCE:-$ROOT/../shared/conformance}"
export VENV="${VENV:-$HOME/.venvs/osconf}"
LOGS="$ROOT/target/test-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
PASSED=0 FAILED=0 SUMMARY=()
if want e2e && [ ! -x "$OXI_CONFORMANCE/setup.sh" ]; then
    echo "ERROR: the conformance harness is not at $OXI_CONFORMANCE (setup.sh, run-tempest.sh)." >&2
    echo "       Put the shared directory beside the repository, or set OXI_CONFORMANCE." >&2
    exit 2
fi

# step NAME [--tee] CMD... : run CMD with set -e in a subshell, its output in
# $LOGS/NAME.log (--tee: on the console too); on failure print the log's tail.
# Sets STEP_RC. Call it as a plain command, never in if/&&/|| (bash would then
# ignore set -e inside CMD).
step() {
    local name="$1" tee=0 t0=$SECONDS
    shift
    if [ "$1" = --tee ]; then tee=1; shift; fi
    echo "== $name"
    set +e
    if [ "$tee" = 1 ]; then
        (set -e; "$@") </dev/null 2>&1 | tee "$LOGS/$name.log"
        STEP_RC=${PIPESTATUS[0]}
    else
        (set -e; "$@") </dev/null >"$LOGS/$name.log" 2>&1
        STEP_RC=$?
    fi
    set -e
    grep -h '^WARNING' "$LOGS/$name.log" | sed 's/^/   /' || true
    if [ "$STEP_RC" = 0 ]; then
        PASSED=$((PASSED + 1)) SUMMARY+=("ok    $name ($((SECONDS - t0))s)")
        echo "   ok ($((SECONDS - t0))s)"
    else
        FAILED=$((FAILED + 1)) SUMMARY+=("FAIL  $name (exit $STEP_RC, $((SECONDS - t0))s, $LOGS/$name.log)")
        echo "   FAILED (exit $STEP_RC, $((SECONDS - t0))s; log: $LOGS/$name.log)"
        [ "$tee" = 1 ] || tail -n 60 "$LOGS/$name.log" | sed 's/^/   | /'
    fi
}

finish() {
    echo "== summary (logs in $LOGS)"
    printf '  %s\n' "${SUMMARY[@]}"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ] || exit 1
    exit 0
}

# a. Debian packages. Listed here, installed only when one is missing, all in
# ONE apt-get call. qemu-utils is pinned to qemu-system-x86's version in the
# same call: the machine ships a backports qemu-utils that breaks Debian 12's
# qemu-system-x86, and installing the latter alone removes qemu-img.
# genisoimage writes config drives; the test guest is built from packages
# downloaded (not installed) by scripts/build-test-image.sh. The network
# agent's tests run dnsmasq in namespaces, busybox's udhcpc/ping in "guest"
# namespaces, nft in router namespaces and iptables (nf_tables backend,
# with br_netfilter's physdev match) for security groups.
PKGS=(curl ca-certificates python3-venv pkg-config libssl-dev
    qemu-system-x86 qemu-utils genisoimage dnsmasq-base busybox-static nftables iptables)
apt_deps() {
    local p missing=() qemu_version
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null | grep -q . &&
        [ "$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null)" != \
          "$(dpkg-query -W -f='${Version}' qemu-system-x86)" ] && missing+=(qemu-utils)
    if [ ${#missing[@]} = 0 ]; then echo "all present: ${PKGS[*]}"; return 0; fi
    echo "missing: ${missing[*]}"
    apt-get update -q
    qemu_version=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
    apt-get install -y -q --no-install-recommends --allow-downgrades \
        "${PKGS[@]/#qemu-utils/qemu-utils=$qemu_version}"
}

# b. the databases and the broker the Rust tests use (bounded waits)
wait_for() {  # SECONDS WHAT CMD...
    local n="$1" what="$2" i
    shift 2
    for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 && { echo "$what is up"; return 0; }; sleep 1; done
    echo "$what did not answer within ${n}s"; return 1
}
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
my_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -u root ping; }
mq_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
services() {  # a start that fails (e.g. already starting) is judged by wait_for
    local pg=(/etc/postgresql/*)
    pg_up || pg_ctlcluster --skip-systemctl-redirect "${pg[0]##*/}" main start || true
    if ! my_up; then
        install -d -o mysql -g mysql /run/mysqld
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    fi
    mq_up || rabbitmq-server -detached || true
    wait_for 60 PostgreSQL pg_up
    wait_for 60 MariaDB my_up
    wait_for 120 RabbitMQ mq_up
    psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 \
        -c 'DROP DATABASE IF EXISTS oxistack_test WITH (FORCE)' -c 'CREATE DATABASE oxistack_test'
    mysql --protocol=tcp -h 127.0.0.1 -u root \
        -e 'DROP DATABASE IF EXISTS oxistack_test; CREATE DATABASE oxistack_test'
}

# c. the venv with the real clients and tempest; a failed tempest plugin only
# warns. Skipped while setup.sh and its pins are those of the last good run.
venv() {
    local rc=0 stamp="$VENV/.oxistack-setup" sum
    sum="$(cat "$OXI_CONFORMANCE/setup.sh" "$OXI_CONFORMANCE/constraints.txt" | sha256sum)"
    if [ -x "$VENV/bin/openstack" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
        echo "venv $VENV is up to date"; return 0
    fi
    "$OXI_CONFORMANCE/setup.sh" || rc=$?
    if [ ! -x "$VENV/bin/openstack" ] || [ ! -x "$VENV/bin/tempest" ]; then
        echo "ERROR: openstack/tempest missing from $VENV after setup.sh"; return 1
    fi
    if [ "$rc" = 0 ]; then echo "$sum" >"$stamp"; else
        echo "WARNING: setup.sh exited $rc: a tempest plugin failed to install (see venv.log)"
    fi
}

cargo_test_counts() {  # "N passed, N failed" over all test binaries of a log
    awk '/^test result:/ { p += $4; f += $6 } END { printf "%d tests passed, %d failed", p, f }' "$1"
}

if [ "$NO_DEPS" = 0 ]; then
    step apt apt_deps
    [ "$STEP_RC" = 0 ] || finish
fi
if [ "$ONLY" != e2e ]; then
    step services services
    if [ "$STEP_RC" = 0 ]; then
        export OXISTACK_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/oxistack_test
        export OXISTACK_TEST_MYSQL=mysql://root@127.0.0.1:3306/oxistack_test
        export OXISTACK_TEST_RABBIT=rabbit://guest:guest@127.0.0.1:5672/
        # the bus tests may stop and start the broker (nothing else runs then)
        export OXISTACK_TEST_RABBIT_RESTART=1
    else
        echo "   (the PostgreSQL/MariaDB/RabbitMQ tests will be skipped; this run fails)"
    fi
fi
if [ "$NO_DEPS" = 0 ] && want e2e; then
    step venv venv
    [ "$STEP_RC" = 0 ] || finish
fi
if want rust; then
    # the test guest the qemu driver's tests boot (kernel + busybox initramfs)
    step guest scripts/build-test-image.sh "$PWD/target/test-guest"
    [ "$STEP_RC" = 0 ] && export OXISTACK_TEST_GUEST="$PWD/target/test-guest"
    step fmt cargo fmt --all -- --check
    step clippy cargo clippy --workspace --all-targets -- -D warnings
    step test cargo test --workspace --no-fail-fast
    SUMMARY[-1]+=" [$(cargo_test_counts "$LOGS/test.log")]"
fi
if want e2e; then
    step build cargo build --release -p oxistack
    if [ "$STEP_RC" = 0 ]; then
        e2e_args=()
        [ "$QUICK" = 0 ] || e2e_args+=(--quick)
        export OXI_E2E_RESULTS="$LOGS/e2e-results.tsv" OXI_E2E_LOGDIR="$LOGS/e2e"
        : >"$OXI_E2E_RESULTS"
        step e2e --tee tests/e2e/run.sh "${e2e_args[@]}"
        # count each suite as a step instead of run.sh as a whole (but keep a
        # failure of run.sh that no suite accounts for)
        if [ -s "$OXI_E2E_RESULTS" ] && { [ "$STEP_RC" = 0 ] || cut -f3 "$OXI_E2E_RESULTS" | grep -qv '^0$'; }; then
            unset 'SUMMARY[-1]'
            if [ "$STEP_RC" = 0 ]; then PASSED=$((PASSED - 1)); else FAILED=$((FAILED - 1)); fi
            while IFS=$'\t' read -r suite p f; do
                if [ "$f" = 0 ]; then
                    PASSED=$((PASSED + 1)) SUMMARY+=("ok    e2e $suite ($p steps)")
                else
                    FAILED=$((FAILED + 1)) SUMMARY+=("FAIL  e2e $suite ($p passed, $f failed; $LOGS/e2e/$suite.log)")
                fi
            done <"$OXI_E2E_RESULTS"
        fi
    fi
fi
finish
