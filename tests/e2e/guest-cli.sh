#!/usr/bin/env bash
# tests/e2e/guest-cli.sh - real guests: a fresh `oxistack up --with-test-image`
# (qemu driver, TCG) driven with the real `openstack` CLI. The test guest
# (scripts/build-test-image.sh) is uploaded by `up` as the public image
# `oxistack-test`; a server boots it with user data, its console shows the
# boot marker, the hostname it read from the config drive and the user data's
# output; stop/start, reboot, pause/unpause, suspend/resume act on the QEMU
# process; a snapshot boots a second server; delete leaves no QEMU process and
# no instance directory behind.
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/guest-cli-cloud),
# OXI_PORT_OFFSET (default 20600).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/guest-cli-cloud"
fi
OXI_UP_ARGS="--with-test-image" oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/guest-cli-cloud}" \
    "${OXI_PORT_OFFSET:-20600}"
INSTANCES="$OXI_DIR/compute/instances"

S="g$RANDOM$RANDOM"
SRV="srv-$S" SRV2="srv2-$S" SNAP="snap-$S"
MARKER='oxistack-test-guest: ready'
printf '#!/bin/sh\necho e2e-user-data-$((6 * 7))\n' >"$E2E_TMP/user-data"

wait_field() {  # FIELD VALUE SECONDS CMD... - poll until CMD's FIELD is VALUE
    local got i
    for ((i = 0; i < $3; i++)); do
        got="$("${@:4}" -f value -c "$1")" || return 1
        [ "$got" = "$2" ] && { say "$1=$got"; return 0; }
        sleep 1
    done
    say "$1=$got after $3 s (wanted $2)"
    return 1
}
console_has() {  # SERVER COUNT REGEX - the console shows REGEX COUNT times (waits 240 s)
    local out n i
    for ((i = 0; i < 240; i++)); do
        out="$(openstack console log show "$1")" || return 1
        n="$(grep -cE -- "$3" <<<"$out" || true)"
        [ "$n" -ge "$2" ] && { grep -E -- "$3" <<<"$out"; return 0; }
        sleep 1
    done
    say "$3 seen $n times (wanted $2); console:"; tail -n 20 <<<"$out"
    return 1
}
no_leftovers() {  # UUID - no QEMU process and no directory of the instance
    if pgrep -af -- "$1" | grep qemu-system; then say "QEMU still runs"; return 1; fi
    [ ! -e "$INSTANCES/$1" ] || { ls -la "$INSTANCES/$1"; return 1; }
}
qemu_runs() { pgrep -f -- "-uuid $1" >/dev/null; }

step "hypervisor is QEMU" expect_match '^QEMU$' \
    bash -c 'openstack hypervisor show "$(openstack hypervisor list -f value -c ID | head -n1)" -f value -c hypervisor_type'
step "oxistack up uploaded the test image" wait_field status active 180 openstack image show oxistack-test
step "the image boots with its kernel and ramdisk images" expect_match 'kernel_id' \
    openstack image show oxistack-test -f value -c properties

step "server create --wait with user data" os_id server create --image oxistack-test --flavor m1.tiny \
    --user-data "$E2E_TMP/user-data" --no-network --wait "$SRV"
SRV_ID="$STEP_OUT"
step "a QEMU process runs the guest" qemu_runs "$SRV_ID"
step "console log: the guest booted" console_has "$SRV_ID" 1 "$MARKER"
step "console log: hostname and uuid from the config drive" console_has "$SRV_ID" 1 \
    "oxistack-test-guest: hostname=$SRV uuid=$SRV_ID"
step "console log: the user data ran" console_has "$SRV_ID" 1 'e2e-user-data-42'
step "console log show --lines 3 gives 3 lines" expect_match '^3$' \
    bash -c "openstack console log show --lines 3 '$SRV_ID' | wc -l"

step "server stop" openstack server stop "$SRV_ID"
step "SHUTOFF" wait_field status SHUTOFF 120 openstack server show "$SRV_ID"
step "no QEMU process while SHUTOFF" bash -c "! pgrep -f -- '-uuid $SRV_ID'"
step "server start" openstack server start "$SRV_ID"
step "ACTIVE again" wait_field status ACTIVE 120 openstack server show "$SRV_ID"
step "the guest booted a second time" console_has "$SRV_ID" 2 "$MARKER"
step "server reboot --wait (soft)" openstack server reboot --wait "$SRV_ID"
step "the guest booted a third time" console_has "$SRV_ID" 3 "$MARKER"
step "server pause" openstack server pause "$SRV_ID"
step "PAUSED, power state Paused" wait_field OS-EXT-STS:power_state Paused 60 openstack server show "$SRV_ID"
step "server unpause" openstack server unpause "$SRV_ID"
step "ACTIVE after unpause" wait_field status ACTIVE 60 openstack server show "$SRV_ID"
step "server suspend" openstack server suspend "$SRV_ID"
step "SUSPENDED" wait_field status SUSPENDED 120 openstack server show "$SRV_ID"
step "no QEMU process while SUSPENDED" bash -c "! pgrep -f -- '-uuid $SRV_ID'"
step "server resume" openstack server resume "$SRV_ID"
step "ACTIVE after resume" wait_field status ACTIVE 120 openstack server show "$SRV_ID"
step "resumed without a boot" console_has "$SRV_ID" 3 "$MARKER"

step "server image create --wait" os_id server image create --name "$SNAP" --wait "$SRV_ID"
SNAP_ID="$STEP_OUT"
step "the snapshot is an active qcow2" expect_match '^qcow2 active$' \
    openstack image show "$SNAP_ID" -f value -c disk_format -c status
step "a server boots from the snapshot" os_id server create --image "$SNAP_ID" --flavor m1.tiny \
    --no-network --wait "$SRV2"
SRV2_ID="$STEP_OUT"
step "console log: the second guest booted as itself" console_has "$SRV2_ID" 1 \
    "oxistack-test-guest: hostname=$SRV2 uuid=$SRV2_ID"

step "server delete --wait (both)" openstack server delete --wait "$SRV_ID" "$SRV2_ID"
step "no QEMU process or file left of the first" no_leftovers "$SRV_ID"
step "no QEMU process or file left of the second" no_leftovers "$SRV2_ID"
step "image delete (snapshot)" openstack image delete "$SNAP_ID"

e2e_finish
