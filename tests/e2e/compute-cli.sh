#!/usr/bin/env bash
# tests/e2e/compute-cli.sh - the real `openstack` CLI (with osc-placement)
# through compute and placement of a fresh `oxistack up` (fake hypervisor
# driver, one compute host): flavor and keypair create, server create --wait,
# list/show, stop/start/reboot/pause/unpause/resize/confirm (its migration
# record), diagnostics, image create
# from a server, an anti-affinity server group (a second member finds no
# host: there is one), usage list, resource providers and allocation
# candidates, server delete — and the provider's usage back to zero.
# Everything it creates it deletes again.
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/compute-cli-cloud),
# OXI_PORT_OFFSET (default 20100).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/compute-cli-cloud"
fi
oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/compute-cli-cloud}" "${OXI_PORT_OFFSET:-20100}"

S="e2e$RANDOM$RANDOM"
FLAVOR="flv-$S" KEY="key-$S" SRV="srv-$S" IMG="img-$S" SNAP="snap-$S" GRP="grp-$S"
DISK="$E2E_TMP/$IMG.raw"
head -c $((1024 * 1024)) /dev/urandom >"$DISK"

# --- helpers -----------------------------------------------------------------
field_is() {  # FIELD VALUE CMD... - CMD -f value -c FIELD prints VALUE
    local got
    got="$("${@:3}" -f value -c "$1")" || return 1
    say "$1=$got"
    [ "$got" = "$2" ]
}
wait_field() {  # FIELD VALUE SECONDS CMD... - poll until CMD's FIELD is VALUE
    local got i
    for ((i = 0; i < $3 * 2; i++)); do
        got="$("${@:4}" -f value -c "$1")" || return 1
        [ "$got" = "$2" ] && { say "$1=$got"; return 0; }
        sleep 0.5
    done
    say "$1=$got after $3 s (wanted $2)"
    return 1
}
srv_status() { wait_field status "$1" 60 openstack server show "$SRV_ID"; }
rp_usage_is() {  # CLASS VALUE - the compute host's provider uses VALUE of CLASS
    local got
    got="$(openstack resource provider usage show "$RP_ID" -f value -c resource_class -c usage \
        | awk -v c="$1" '$1 == c {print $2}')" || return 1
    say "$1 usage=$got"
    [ "$got" = "$2" ]
}

# --- the services --------------------------------------------------------------
step "catalog list has compute and placement" expect_match '^compute$' \
    openstack catalog list -f value -c Type
step "compute service list: nova-compute up" expect_match 'nova-compute .*enabled up' \
    openstack compute service list -f value -c Binary -c Host -c Status -c State
step "hypervisor list: one fake hypervisor" expect_match '.+' openstack hypervisor list -f value -c 'Hypervisor Hostname'
step "resource provider list: the compute host" os_field uuid resource provider list
RP_ID="$(head -n1 <<<"$STEP_OUT")"
step "resource provider inventory has VCPU" expect_match '^VCPU ' \
    openstack resource provider inventory list "$RP_ID" -f value -c resource_class -c total
step "allocation candidate list for 1 VCPU, 512 MB" expect_match "$RP_ID" \
    openstack allocation candidate list --resource VCPU=1 --resource MEMORY_MB=512 -f value

# --- flavor, keypair, image --------------------------------------------------------
step "flavor create" os_id flavor create --vcpus 1 --ram 256 --disk 1 "$FLAVOR"
FLAVOR_ID="$STEP_OUT"
step "flavor create (bigger, for resize)" os_id flavor create --vcpus 2 --ram 512 --disk 2 "$FLAVOR-big"
FLAVOR_BIG_ID="$STEP_OUT"
step "flavor set --property" openstack flavor set --property hw:cpu_policy=shared "$FLAVOR_ID"
step "flavor show: property" expect_match 'hw:cpu_policy' openstack flavor show "$FLAVOR_ID" -f value -c properties
step "flavor list has it" expect_match "^$FLAVOR\$" openstack flavor list -f value -c Name
step "keypair create" expect_match 'BEGIN OPENSSH PRIVATE KEY|BEGIN RSA PRIVATE KEY' openstack keypair create "$KEY"
step "keypair show: fingerprint" expect_match '.+' openstack keypair show "$KEY" -f value -c fingerprint
step "image create" os_id image create --file "$DISK" --disk-format raw --container-format bare "$IMG"
IMG_ID="$STEP_OUT"

# --- a server through its life ------------------------------------------------------
step "server create --wait reaches ACTIVE" os_id server create --wait --image "$IMG_ID" \
    --flavor "$FLAVOR_ID" --key-name "$KEY" --property role=e2e --no-network "$SRV"
SRV_ID="$STEP_OUT"
step "server show: power state Running (1)" expect_match '^(1|Running)$' \
    openstack server show "$SRV_ID" -f value -c OS-EXT-STS:power_state
step "server show: key name, flavor, image" expect_match "$KEY" openstack server show "$SRV_ID" -f value -c key_name
step "server list has it" expect_match "^$SRV_ID\$" openstack server list -f value -c ID
step "server list --long" expect_match "$SRV" openstack server list --long -f value
step "server provider usage: 1 VCPU, 256 MB" rp_usage_is VCPU 1
step "server set --property" openstack server set --property tier=web "$SRV_ID"
step "server show: properties" expect_match 'tier' openstack server show "$SRV_ID" -f value -c properties
step "server stop" openstack server stop "$SRV_ID"
step "server is SHUTOFF" srv_status SHUTOFF
step "stopping a stopped server is refused (409)" expect_fail --match 'stop|409|vm_state' \
    openstack server stop "$SRV_ID"
step "server start" openstack server start "$SRV_ID"
step "server is ACTIVE again" srv_status ACTIVE
step "server reboot --wait" openstack server reboot --wait "$SRV_ID"
step "server reboot --hard --wait" openstack server reboot --hard --wait "$SRV_ID"
step "server pause" openstack server pause "$SRV_ID"
step "server is PAUSED" srv_status PAUSED
step "server unpause" openstack server unpause "$SRV_ID"
step "server is ACTIVE after unpause" srv_status ACTIVE
step "server resize --wait" openstack server resize --flavor "$FLAVOR_BIG_ID" --wait "$SRV_ID"
step "server is VERIFY_RESIZE" srv_status VERIFY_RESIZE
step "server resize confirm" openstack server resize confirm "$SRV_ID"
step "server is ACTIVE on the new flavor" srv_status ACTIVE
step "server provider usage: 2 VCPU after resize" rp_usage_is VCPU 2
step "server migration list: the resize, confirmed" expect_match "confirmed.*$SRV_ID|$SRV_ID.*confirmed" \
    openstack server migration list --server "$SRV_ID" -f value -c 'Server UUID' -c Status
step "server show --diagnostics: the resized guest's 512 MB" expect_match '"maximum": 512' \
    openstack server show --diagnostics "$SRV_ID" -f json
step "console log show" openstack console log show "$SRV_ID"
step "server event list has the actions" expect_match 'stop' \
    openstack server event list "$SRV_ID" -f value -c Action
step "server image create --wait (snapshot)" os_id server image create --wait --name "$SNAP" "$SRV_ID"
SNAP_ID="$(tail -n1 <<<"$STEP_OUT")"
step "snapshot image is active" field_is status active openstack image show "$SNAP_ID"

# --- server group: anti-affinity on one host -----------------------------------------
step "server group create --policy anti-affinity" os_id server group create --policy anti-affinity "$GRP"
GRP_ID="$STEP_OUT"
step "first member: ACTIVE" os_id server create --wait --image "$IMG_ID" --flavor "$FLAVOR_ID" \
    --hint group="$GRP_ID" --no-network "$SRV-g1"
G1_ID="$STEP_OUT"
step "second member on the only host: ERROR, no valid host" expect_fail --match 'No valid host|ERROR|Error' \
    openstack server create --wait --image "$IMG_ID" --flavor "$FLAVOR_ID" --hint group="$GRP_ID" \
    --no-network "$SRV-g2"
step "server group show lists the first member" expect_match "$G1_ID" \
    openstack server group show "$GRP_ID" -f value -c members

# --- usage, bad input ------------------------------------------------------------------
step "usage list" expect_match '.+' openstack usage list -f value
step "unknown flavor is refused" expect_fail --match 'No Flavor|not found|could not be found' \
    openstack server create --image "$IMG_ID" --flavor no-such-flavor --no-network "$SRV-bad"
step "unknown image is refused" expect_fail --match 'No Image|not found|could not be found' \
    openstack server create --image no-such-image --flavor "$FLAVOR_ID" --no-network "$SRV-bad"
step "image create with min-ram 4096" os_id image create --file "$DISK" --disk-format raw \
    --container-format bare --min-ram 4096 "$IMG-big"
BIG_IMG_ID="$STEP_OUT"
step "a flavor too small for the image's min_ram is refused" expect_fail --match 'memory is too small' \
    openstack server create --image "$BIG_IMG_ID" --flavor "$FLAVOR_ID" --no-network "$SRV-small"
step "token issue" os_id token issue
TOKEN="$STEP_OUT"
step "compute endpoint" openstack endpoint list --service compute --interface public -f value -c URL
COMPUTE_URL="$STEP_OUT"
step "invalid microversion is refused (406)" expect_match '^406$' curl -s -o /dev/null -w '%{http_code}' \
    -H "X-Auth-Token: $TOKEN" -H 'OpenStack-API-Version: compute 2.9999' "$COMPUTE_URL/servers"

# --- clean up ------------------------------------------------------------------------------
step "server delete --wait" openstack server delete --wait "$SRV_ID"
for s in $(openstack server list -f value -c ID -c Name | awk -v p="$SRV-" 'index($2, p) == 1 {print $1}'); do
    openstack server delete --wait "$s" >/dev/null 2>&1 || true
done
step "server list is empty of ours" bash -c "! openstack server list -f value -c Name | grep -F '$SRV'"
step "provider usage back to zero VCPU" rp_usage_is VCPU 0
step "provider usage back to zero MEMORY_MB" rp_usage_is MEMORY_MB 0
step "server group delete" openstack server group delete "$GRP_ID"
step "image delete (snapshot)" openstack image delete "$SNAP_ID"
step "image delete (images)" openstack image delete "$IMG_ID" "$BIG_IMG_ID"
step "keypair delete" openstack keypair delete "$KEY"
step "flavor delete" openstack flavor delete "$FLAVOR_ID" "$FLAVOR_BIG_ID"

e2e_finish
