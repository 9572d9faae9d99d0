#!/usr/bin/env bash
# tests/e2e/guest-cli.sh - real guests: a fresh `oxistack up --with-test-image`
# (qemu driver, TCG) driven with the real `openstack` CLI. The test guest
# (scripts/build-test-image.sh) is uploaded by `up` as the public image
# `oxistack-test`; a server boots it with user data, its console shows the
# boot marker, the hostname it read from the config drive and the user data's
# output; stop/start, reboot, pause/unpause, suspend/resume act on the QEMU
# process; a snapshot boots a second server; delete leaves no QEMU process and
# no instance directory behind; a guest outlives a restart of `oxistack up`
# and is adopted, not rebooted; a volume is hot-plugged into the running guest
# (`server add volume`: in-use, QEMU has its virtio disk), unplugged
# (`server remove volume`) and released when the server is deleted; a server
# on a network gets a port (ACTIVE once the network agent plugged its tap),
# QEMU opens the tap, the guest's console shows the address it got by DHCP,
# `server add/remove network` hot-plugs and unplugs NICs, and delete removes
# the port and the tap; `server rescue` boots the image with the server's disk
# second (QMP) and `server unrescue` boots its own disk again; a qcow2 naming a backing file gives a server in ERROR
# with a fault, and no QEMU process.
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/guest-cli-cloud),
# OXI_PORT_OFFSET (default 20600).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/guest-cli-cloud"
fi
# the same password across the restart below
export OXI_ADMIN_PASSWORD="${OXI_ADMIN_PASSWORD:-e2e-$RANDOM$RANDOM}"
OXI_UP_ARGS="--with-test-image" oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/guest-cli-cloud}" \
    "${OXI_PORT_OFFSET:-20600}"
INSTANCES="$OXI_DIR/instances"
# Guests outlive `oxistack up` by design; a failed run must not leave them behind.
kill_guests() { pkill -KILL -f -- "[q]emu-system.*$INSTANCES" || true; }
trap 'rc=$?; kill_guests; (exit "$rc"); _e2e_exit' EXIT

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
console_count() {  # SERVER COUNT REGEX - the console shows REGEX exactly COUNT times
    local n
    n="$(openstack console log show "$1" | grep -cE -- "$3" || true)"
    say "$3 seen $n times"
    [ "$n" = "$2" ]
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
    if qemu_runs "$1"; then say "QEMU still runs"; return 1; fi
    [ ! -e "$INSTANCES/$1" ] || { ls -la "$INSTANCES/$1"; return 1; }
}
# The bracket keeps pgrep from matching a shell whose own command line holds the pattern.
qemu_runs() { pgrep -f -- "[q]emu-system.* -uuid $1" >/dev/null; }
qemu_gone() { ! qemu_runs "$1"; }

step "hypervisor is QEMU" expect_match '^QEMU$' \
    bash -c 'openstack hypervisor show "$(openstack hypervisor list -f value -c ID | head -n1)" -f value -c hypervisor_type'
# `up` uploads the image in the background: not there yet is not a failure.
step "oxistack up uploaded the test image" wait_field status active 180 \
    bash -c 'openstack image show oxistack-test "$@" 2>/dev/null || echo missing' _
step "the image boots with its kernel and ramdisk images" expect_match 'kernel_id' \
    openstack image show oxistack-test -f value -c properties

step "server create --wait with user data" os_id server create --image oxistack-test --flavor m1.tiny \
    --user-data "$E2E_TMP/user-data" --no-network --wait "$SRV"
SRV_ID="$(tail -n1 <<<"$STEP_OUT")"  # after --wait's progress
step "a QEMU process runs the guest" qemu_runs "$SRV_ID"
step "its instance directory: disk, config drive, console log" \
    ls "$INSTANCES/$SRV_ID/disk" "$INSTANCES/$SRV_ID/disk.config" "$INSTANCES/$SRV_ID/console.log"
step "console log: the guest booted" console_has "$SRV_ID" 1 "$MARKER"
step "console log: hostname and uuid from the config drive" console_has "$SRV_ID" 1 \
    "oxistack-test-guest: hostname=$SRV uuid=$SRV_ID"
step "console log: the user data ran" console_has "$SRV_ID" 1 'e2e-user-data-42'
step "console log show --lines 3 gives 3 lines" expect_match '^3$' \
    bash -c "openstack console log show --lines 3 '$SRV_ID' | wc -l"

step "server stop" openstack server stop "$SRV_ID"
step "SHUTOFF" wait_field status SHUTOFF 120 openstack server show "$SRV_ID"
step "no QEMU process while SHUTOFF" qemu_gone "$SRV_ID"
step "server start" openstack server start "$SRV_ID"
step "ACTIVE again" wait_field status ACTIVE 120 openstack server show "$SRV_ID"
step "the guest booted a second time" console_has "$SRV_ID" 2 "$MARKER"
step "server reboot --wait (soft)" openstack server reboot --wait "$SRV_ID"
step "the guest booted a third time" console_has "$SRV_ID" 3 "$MARKER"
step "server pause" openstack server pause "$SRV_ID"
# `-f value` prints the raw power state: 3 is Paused (1 Running, 4 Shutdown, 7 Suspended).
step "PAUSED, power state 3 (Paused)" wait_field OS-EXT-STS:power_state 3 60 openstack server show "$SRV_ID"
step "server unpause" openstack server unpause "$SRV_ID"
step "ACTIVE after unpause" wait_field status ACTIVE 60 openstack server show "$SRV_ID"
step "server suspend" openstack server suspend "$SRV_ID"
step "SUSPENDED" wait_field status SUSPENDED 120 openstack server show "$SRV_ID"
step "no QEMU process while SUSPENDED" qemu_gone "$SRV_ID"
step "server resume" openstack server resume "$SRV_ID"
step "ACTIVE after resume" wait_field status ACTIVE 120 openstack server show "$SRV_ID"
step "resumed without a boot" console_count "$SRV_ID" 3 "$MARKER"

QEMU_PID="$(pgrep -f -- "[q]emu-system.* -uuid $SRV_ID" || true)"
step "oxistack up stops while the guest runs" oxi_down
step "the guest outlives oxistack up" qemu_runs "$SRV_ID"
step "oxistack up starts again on the same data" oxi_up "$OXI_DIR" "${OXI_PORT_OFFSET:-20600}"
step "the server is ACTIVE and Running after the restart" wait_field OS-EXT-STS:power_state 1 60 \
    openstack server show "$SRV_ID"
step "the guest was adopted: same QEMU process" expect_match "^$QEMU_PID\$" \
    pgrep -f -- "[q]emu-system.* -uuid $SRV_ID"
step "adopted without a boot" console_count "$SRV_ID" 3 "$MARKER"

# --- a volume hot-plugged into the running guest and out again (about 20 s) ---
qmp_query() {  # UUID COMMAND - the answer of the guest's QEMU to a QMP query
    python3 - "$INSTANCES/$1/qmp.sock" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            break
print(json.dumps(m))
PY
}
no_volume_disk() {  # UUID VOLUME - QEMU has no disk of the volume
    ! qmp_query "$1" query-block | grep -q -- "vol-$2"
}
no_rescue_disk() { ! qmp_query "$1" query-block | grep -q 'disk\.rescue'; }
# --- rescue: the image boots first, the server's own disk second (about 20 s) ---
step "server rescue" openstack server rescue "$SRV_ID"
step "RESCUE" wait_field status RESCUE 120 openstack server show "$SRV_ID"
step "QEMU boots the rescue disk, the server's disk second" expect_match 'disk\.rescue".*/disk"' \
    qmp_query "$SRV_ID" query-block
step "the rescue boot reached the marker" console_has "$SRV_ID" 4 "$MARKER"
step "server unrescue" openstack server unrescue "$SRV_ID"
step "ACTIVE after unrescue" wait_field status ACTIVE 120 openstack server show "$SRV_ID"
step "the rescue disk is gone" bash -c "[ ! -e '$INSTANCES/$SRV_ID/disk.rescue' ]"
step "QEMU has no rescue disk any more" no_rescue_disk "$SRV_ID"
step "the server's own disk booted" console_has "$SRV_ID" 5 "$MARKER"

step "volume create" os_id volume create --size 1 "vol-$S"
VOL_ID="$STEP_OUT"
step "the volume is available" wait_field status available 60 openstack volume show "$VOL_ID"
step "server add volume (running guest)" openstack server add volume "$SRV_ID" "$VOL_ID"
step "the volume is in-use" wait_field status in-use 60 openstack volume show "$VOL_ID"
step "server volume list: /dev/vdb" expect_match "/dev/vdb.*$VOL_ID|$VOL_ID.*/dev/vdb" \
    openstack server volume list "$SRV_ID" -f value
step "QEMU has the volume's virtio disk" expect_match "vol-$VOL_ID" qmp_query "$SRV_ID" query-block
step "server remove volume" openstack server remove volume "$SRV_ID" "$VOL_ID"
step "the volume is available again" wait_field status available 60 openstack volume show "$VOL_ID"
step "QEMU has no disk of it" no_volume_disk "$SRV_ID" "$VOL_ID"
step "server add volume again (kept until the server is deleted)" \
    openstack server add volume "$SRV_ID" "$VOL_ID"
step "in-use again" wait_field status in-use 60 openstack volume show "$VOL_ID"

step "server image create --wait" os_id server image create --name "$SNAP" --wait "$SRV_ID"
SNAP_ID="$(tail -n1 <<<"$STEP_OUT")"
step "the snapshot is active" wait_field status active 60 openstack image show "$SNAP_ID"
step "the snapshot is a qcow2" expect_match '^qcow2$' openstack image show "$SNAP_ID" -f value -c disk_format
step "a server boots from the snapshot" os_id server create --image "$SNAP_ID" --flavor m1.tiny \
    --no-network --wait "$SRV2"
SRV2_ID="$(tail -n1 <<<"$STEP_OUT")"
step "console log: the second guest booted as itself" console_has "$SRV2_ID" 1 \
    "oxistack-test-guest: hostname=$SRV2 uuid=$SRV2_ID"

step "server delete --wait (both)" openstack server delete --wait "$SRV_ID" "$SRV2_ID"
step "no QEMU process or file left of the first" no_leftovers "$SRV_ID"
step "no QEMU process or file left of the second" no_leftovers "$SRV2_ID"
step "image delete (snapshot)" openstack image delete "$SNAP_ID"
step "the deleted server's volume is available" wait_field status available 60 openstack volume show "$VOL_ID"
step "volume delete" openstack volume delete "$VOL_ID"

# --- a guest on a network: a Neutron port, its tap, DHCP, hot-plug (~35 s) ----
NET="net-$S" NSRV="nsrv-$S" NET_CIDR=10.251.7.0/24
port_count() {  # SERVER COUNT [STATUS] - SERVER has COUNT ports (of STATUS) (waits 60 s)
    local n i
    for ((i = 0; i < 60; i++)); do
        n="$(openstack port list --device-id "$1" ${3:+--status "$3"} -f value -c ID | wc -l)"
        [ "$n" = "$2" ] && return 0
        sleep 1
    done
    say "$n ports (wanted $2)"; return 1
}
tap_gone() {  # TAP - the network agent removed the tap (waits 30 s)
    local i
    for ((i = 0; i < 30; i++)); do [ -e "/sys/class/net/$1" ] || return 0; sleep 1; done
    say "$1 still there"; return 1
}
step "network create" os_id network create "$NET"
NET_ID="$STEP_OUT"
step "subnet create" os_id subnet create --network "$NET_ID" --subnet-range "$NET_CIDR" "sub-$S"
step "server create --network --wait" os_id server create --image oxistack-test --flavor m1.tiny \
    --network "$NET_ID" --wait "$NSRV"
NSRV_ID="$(tail -n1 <<<"$STEP_OUT")"
step "the server has one port" os_id port list --device-id "$NSRV_ID"
PORT_ID="$STEP_OUT" TAP="tap${STEP_OUT:0:11}"
step "the port is ACTIVE (its tap plugged)" wait_field status ACTIVE 60 openstack port show "$PORT_ID"
step "the port is bound to this host as compute:nova" expect_match '^compute:nova$' \
    openstack port show "$PORT_ID" -f value -c device_owner
PORT_IP="$(openstack port show "$PORT_ID" -f json -c fixed_ips |
    sed -n 's/.*"ip_address": "\([0-9.]*\)".*/\1/p' | head -n1)"
step "server show: the address on the network" expect_match "$NET.*$PORT_IP" \
    openstack server show "$NSRV_ID" -f value -c addresses
step "QEMU opened the port's tap" pgrep -f -- "[q]emu-system.* -uuid $NSRV_ID .*ifname=$TAP"
step "console log: the guest got its address by DHCP" console_has "$NSRV_ID" 1 \
    "oxistack-test-guest: dhcp ok $PORT_IP"
step "server add network (hot-plug)" openstack server add network "$NSRV_ID" "$NET_ID"
step "two ports, both ACTIVE" port_count "$NSRV_ID" 2 ACTIVE
step "server remove network (both NICs released by the guest)" \
    openstack server remove network "$NSRV_ID" "$NET_ID"
step "no port left" port_count "$NSRV_ID" 0
step "server delete --wait (on the network)" openstack server delete --wait "$NSRV_ID"
step "its port is deleted" expect_fail openstack port show "$PORT_ID"
step "its tap is removed" tap_gone "$TAP"
step "network delete" openstack network delete "$NET_ID"

qemu-img create -q -f qcow2 -b /etc/hostname -F raw "$E2E_TMP/backed.qcow2" 64M
step "image create: a qcow2 naming a backing file" os_id image create --disk-format qcow2 \
    --container-format bare --file "$E2E_TMP/backed.qcow2" "backed-$S"
BAD_IMG="$STEP_OUT"
step "server create from it" os_id server create --image "$BAD_IMG" --flavor m1.tiny --no-network "bad-$S"
BAD_ID="$STEP_OUT"
step "the server goes to ERROR" wait_field status ERROR 120 openstack server show "$BAD_ID"
step "its fault says why" expect_match 'backing file' openstack server show "$BAD_ID" -f value -c fault
step "no QEMU process for it" qemu_gone "$BAD_ID"
step "server delete (ERROR)" openstack server delete --wait "$BAD_ID"
step "no file left of it" no_leftovers "$BAD_ID"
step "image delete (backed)" openstack image delete "$BAD_IMG"

e2e_finish
