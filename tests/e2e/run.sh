#!/usr/bin/env bash
# tests/e2e/run.sh - the end-to-end suites, each against its own fresh
# `oxistack up` (own data directory and port offset), then a summary.
#
# Usage: tests/e2e/run.sh [--quick] [SUITE...]
#   --quick   skip tempest (the CLI suites only)
#   SUITE     run only these (identity-cli, image-cli, object-cli, placement-cli,
#             compute-cli, guest-cli, network-cli, volume-cli, tempest);
#             default: all
# Environment: see lib.sh. OXI_E2E_LOGDIR (default target/test-logs/e2e) gets
# one log per suite and the tempest results; OXI_E2E_RESULTS, if set, gets one
# "suite<TAB>passed<TAB>failed" line per suite (scripts/test.sh reads it).
# The last line is "e2e: N passed, N failed" (steps); exit 1 if one failed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

QUICK=0
SUITES=()
for a in "$@"; do
    case "$a" in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $a" >&2; exit 2 ;;
        *) [ -f "$HERE/$a.sh" ] || { echo "no suite $a" >&2; exit 2; }; SUITES+=("$a") ;;
    esac
done
if [ ${#SUITES[@]} = 0 ]; then
    SUITES=(identity-cli image-cli object-cli placement-cli compute-cli guest-cli network-cli volume-cli)
    [ "$QUICK" = 1 ] || SUITES+=(tempest)
fi

export OXI_E2E_LOGDIR="${OXI_E2E_LOGDIR:-$REPO_ROOT/target/test-logs/e2e}"
mkdir -p "$OXI_E2E_LOGDIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/oxi-e2e-run.XXXXXX")"
export OXI_E2E_RESULTS="${OXI_E2E_RESULTS:-$WORK/results.tsv}"
: >"$OXI_E2E_RESULTS"

offset=20000
for s in "${SUITES[@]}"; do
    echo "==== suite $s"
    rc=0
    OXI_DATA_DIR="$WORK/$s" OXI_PORT_OFFSET="$offset" \
        bash "$HERE/$s.sh" </dev/null 2>&1 | tee "$OXI_E2E_LOGDIR/$s.log" || rc=$?
    # a suite that died before its summary counts as one failed step
    if ! cut -f1 "$OXI_E2E_RESULTS" | grep -qxF "$s"; then
        printf '%s\t0\t1\n' "$s" >>"$OXI_E2E_RESULTS"
    elif [ "$rc" != 0 ] && awk -F'\t' -v s="$s" '$1 == s && $3 == 0 {f=1} END {exit !f}' "$OXI_E2E_RESULTS"; then
        printf '%s\t0\t1\n' "$s (exit $rc)" >>"$OXI_E2E_RESULTS"  # failed after its summary
    fi
    # keep the cloud's log beside the suite's
    [ ! -f "$WORK/$s/oxistack.log" ] || cp "$WORK/$s/oxistack.log" "$OXI_E2E_LOGDIR/$s.oxistack.log"
    offset=$((offset + 100))
done

echo "==== e2e summary (logs in $OXI_E2E_LOGDIR)"
rc=0
awk -F'\t' '{ printf "  %-20s %s passed, %s failed\n", $1, $2, $3; p += $2; f += $3 }
            END { printf "e2e: %d passed, %d failed\n", p, f; exit (f > 0) }' "$OXI_E2E_RESULTS" \
    || rc=$?
if [ "$rc" = 0 ]; then rm -rf "$WORK"; else echo "(data directories kept in $WORK)"; fi
exit "$rc"
