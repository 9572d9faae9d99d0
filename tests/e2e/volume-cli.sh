#!/usr/bin/env bash
# tests/e2e/volume-cli.sh - the real `openstack` CLI through the block
# storage API of a fresh `oxistack up`: services and zones, a volume type
# pinned to the file backend, volumes blank / from an image / from a
# snapshot / from a volume, extend, metadata, the 400 of deleting a volume
# with snapshots, the 413 of a quota, a volume transfer to another project
# (and one withdrawn), QoS specs (create, set, unset, associate with the
# type, the refusals, disassociate, delete), and at the end no volume or
# snapshot file left in the data directory.
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/volume-cli-cloud),
# OXI_PORT_OFFSET (default 20100).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA="${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/volume-cli-cloud}"
if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$DATA"
fi
oxi_up "$DATA" "${OXI_PORT_OFFSET:-20100}"

S="e2e$RANDOM$RANDOM"
IMG="img-$S" TYPE="fast-$S" QOS="qos-$S"
FILE="$E2E_TMP/$IMG.raw"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$FILE"

# --- helpers -----------------------------------------------------------------
wait_status() {  # KIND NAME STATUS - `openstack KIND show NAME` reaches STATUS
    local got="" i
    for i in $(seq 1 150); do
        got="$(openstack $1 show "$2" -f value -c status 2>/dev/null)" || got=""
        [ "$got" = "$3" ] && { say "$2: $got"; return 0; }
        case "$got" in error*) say "$2 went $got"; return 1 ;; esac
        sleep 0.2
    done
    say "$2 stayed $got"
    return 1
}
wait_gone() {  # KIND NAME
    local i
    for i in $(seq 1 150); do
        openstack $1 show "$2" >/dev/null 2>&1 || return 0
        sleep 0.2
    done
    return 1
}
field_is() {  # FIELD VALUE CMD...
    local got
    got="$("${@:3}" -f value -c "$1")" || return 1
    say "$1=$got"
    [ "$got" = "$2" ]
}
qos_lacks() {  # QOS KEY - the spec has no such key
    local props
    props="$(openstack volume qos show "$1" -f value -c properties)" || return 1
    say "properties: $props"
    ! grep -q -- "$2" <<<"$props"
}
qos_lacks_type() {  # QOS TYPE - the spec is not associated with the type
    local shown
    shown="$(openstack volume qos show "$1" -f json)" || return 1
    say "$shown"
    ! grep -q -- "$2" <<<"$shown"
}
no_files_left() {  # the file driver's directories hold nothing of ours
    local left
    left="$(find "$DATA/block-storage/volumes" "$DATA/block-storage/snapshots" -type f 2>/dev/null)"
    say "left: ${left:-nothing}"
    [ -z "$left" ]
}

# --- the service -------------------------------------------------------------
step "cinder-volume is up" expect_match 'cinder-volume .*up' openstack volume service list -f value
step "the zone is available" expect_match 'nova.*available' openstack availability zone list --volume -f value
step "volume type pinned to the file backend" \
    openstack volume type create --property volume_backend_name=file "$TYPE"

# --- QoS specs ---------------------------------------------------------------
step "qos create (front-end)" \
    openstack volume qos create --consumer front-end --property read_iops_sec=2000 "$QOS"
step "qos listed" expect_match "$QOS" openstack volume qos list -f value -c Name
step "qos consumer" field_is consumer front-end openstack volume qos show "$QOS"
step "qos set a key" openstack volume qos set --property total_bytes_sec=1024000 "$QOS"
step "qos key shown" expect_match "total_bytes_sec" openstack volume qos show "$QOS" -f value -c properties
step "qos unset a key" openstack volume qos unset --property read_iops_sec "$QOS"
step "qos key gone" qos_lacks "$QOS" read_iops_sec
step "qos a bad consumer is refused" \
    expect_fail --match "consumer" openstack volume qos create --consumer middle "bad-$QOS"
step "qos a duplicate name is refused" expect_fail --match "already exists" openstack volume qos create "$QOS"
step "qos associate with the type" openstack volume qos associate "$QOS" "$TYPE"
step "qos association shown" expect_match "$TYPE" openstack volume qos show "$QOS" -f value -c associations
step "qos an associated spec is not deleted" expect_fail --match "in use" openstack volume qos delete "$QOS"

# --- volumes -----------------------------------------------------------------
step "blank volume" openstack volume create --size 1 --type "$TYPE" "v1-$S"
step "blank volume is available" wait_status volume "v1-$S" available
step "its type" field_is type "$TYPE" openstack volume show "v1-$S"
step "metadata" openstack volume set --property purpose=e2e "v1-$S"
step "metadata shown" expect_match "purpose.*e2e" openstack volume show "v1-$S" -f value -c properties
step "extend to 2 GiB" openstack volume set --size 2 "v1-$S"
step "extended" wait_status volume "v1-$S" available
step "size 2" field_is size 2 openstack volume show "v1-$S"
# Microversions past 3.0 (volume summary 3.12, attachments 3.27, user
# messages 3.3), as the CLI negotiates them.
step "summary at 3.12: one volume, 2 GiB" \
    expect_match '"Total Size": 2' openstack --os-volume-api-version 3.12 volume summary -f json
step "no attachment (3.27)" \
    expect_match '^$' openstack --os-volume-api-version 3.27 volume attachment list -f value
step "user messages list (3.3)" openstack --os-volume-api-version 3.3 volume message list

step "image" openstack image create --disk-format raw --container-format bare --file "$FILE" "$IMG"
step "volume from the image" openstack volume create --size 1 --image "$IMG" "vi-$S"
step "volume from the image is available" wait_status volume "vi-$S" available
step "it is bootable" field_is bootable True openstack volume show "vi-$S"
step "the image's size is refused when larger" \
    expect_fail --match 'must be an integer|larger than' openstack volume create --size 0 --image "$IMG" "bad-$S"

step "snapshot" openstack volume snapshot create --volume "v1-$S" "s1-$S"
step "snapshot is available" wait_status "volume snapshot" "s1-$S" available
step "a volume with a snapshot is not deleted" \
    expect_fail --match 'snapshots' openstack volume delete "v1-$S"
step "volume from the snapshot" openstack volume create --snapshot "s1-$S" --size 3 "vs-$S"
step "volume from the snapshot is available" wait_status volume "vs-$S" available
step "clone" openstack volume create --source "v1-$S" "vc-$S"
step "clone is available" wait_status volume "vc-$S" available

# --- quotas ------------------------------------------------------------------
step "quota of 4 volumes" openstack quota set --volumes 4 admin
step "a fifth volume is over quota" \
    expect_fail --match 'Maximum number of volumes allowed \(4\)' openstack volume create --size 1 "over-$S"
step "quota back to 10" openstack quota set --volumes 10 admin

# --- transfers -----------------------------------------------------------------
XP="xfer-$S" XU="xfer-$S" XPW="pw-$S"
as_other() {  # CMD... - as a member of the receiving project
    OS_USERNAME="$XU" OS_PASSWORD="$XPW" OS_PROJECT_NAME="$XP" "$@"
}
step "a project to give to" openstack project create "$XP"
step "its user" openstack user create --password "$XPW" "$XU"
step "member of it" openstack role add --project "$XP" --user "$XU" member
step "volume to give" openstack volume create --size 1 "vt-$S"
step "volume to give is available" wait_status volume "vt-$S" available
VT="$(openstack volume show "vt-$S" -f value -c id)"
step "transfer request create" openstack volume transfer request create --name "t-$S" "vt-$S" -f shell --prefix xfer_
eval "$STEP_OUT"
step "the volume awaits the transfer" wait_status volume "$VT" awaiting-transfer
step "transfer request list" expect_match "t-$S" openstack volume transfer request list -f value
step "transfer request show" field_is volume_id "$VT" openstack volume transfer request show "${xfer_id:-none}"
step "a wrong auth key is refused" expect_fail --match 'Invalid auth key' \
    as_other openstack volume transfer request accept --auth-key 0000000000000000 "${xfer_id:-none}"
step "transfer request accept" \
    as_other openstack volume transfer request accept --auth-key "${xfer_auth_key:-none}" "${xfer_id:-none}"
step "the volume is the other project's" as_other field_is status available openstack volume show "$VT"
step "the transfer is gone" expect_fail openstack volume transfer request show "${xfer_id:-none}"
step "a second transfer request" openstack volume transfer request create "v1-$S" -f shell --prefix xfer2_
eval "$STEP_OUT"
step "transfer request delete" openstack volume transfer request delete "${xfer2_id:-none}"
step "the volume is available again" wait_status volume "v1-$S" available
step "the receiver deletes the volume" as_other openstack volume delete "$VT"
step "it is gone" wait_gone volume "$VT"
step "delete the user" openstack user delete "$XU"
step "delete the project" openstack project delete "$XP"

# --- clean up ------------------------------------------------------------------
step "delete the snapshot" openstack volume snapshot delete "s1-$S"
step "snapshot gone" wait_gone "volume snapshot" "s1-$S"
step "delete the volumes" openstack volume delete "v1-$S" "vi-$S" "vs-$S" "vc-$S"
for v in v1 vi vs vc; do
    step "$v gone" wait_gone volume "$v-$S"
done
step "qos disassociate" openstack volume qos disassociate --volume-type "$TYPE" "$QOS"
step "qos no association left" qos_lacks_type "$QOS" "$TYPE"
step "qos delete" openstack volume qos delete "$QOS"
step "qos gone" wait_gone "volume qos" "$QOS"
step "delete the type" openstack volume type delete "$TYPE"
step "delete the image" openstack image delete "$IMG"
if [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    step "no volume or snapshot file left" no_files_left
fi

e2e_finish
