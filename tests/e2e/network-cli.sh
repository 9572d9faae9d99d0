#!/usr/bin/env bash
# tests/e2e/network-cli.sh - the real `openstack` CLI against the network
# API (Neutron v2.0) of a fresh `oxistack up`: networks (shared, external),
# subnets (pools, DNS, gateway), ports with fixed IPs, list filters,
# routers (interfaces, external gateway), floating IPs, security groups
# and rules, quotas, and the errors a client must see (400 overlapping
# subnet, 404 unknown network, 409 address in use). The ports made here
# are bound to no host, so they stay DOWN whatever the network agent of
# `oxistack up` does: nothing here waits for ACTIVE (guest-cli.sh does, for
# a server's port). Everything it creates it deletes again.
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/network-cli-cloud),
# OXI_PORT_OFFSET (default 20800).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/network-cli-cloud"
fi
oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/network-cli-cloud}" "${OXI_PORT_OFFSET:-20800}"

S="e2e$RANDOM$RANDOM"
NET="net-$S" SHARED="shared-$S" PUBLIC="public-$S" ROUTER="router-$S" SG="sg-$S" SG2="sg2-$S"
# Ranges of the test networks (TEST-NET-2, TEST-NET-3 and an RFC 1918 /24):
# unlikely to collide with what an external cloud already has.
CIDR=198.51.100.0/24 PUBLIC_CIDR=203.0.113.0/24 SHARED_CIDR=10.250.17.0/24

# --- helpers -----------------------------------------------------------------
field_is() {  # FIELD VALUE CMD... - CMD -f value -c FIELD prints VALUE
    local got
    got="$("${@:3}" -f value -c "$1")" || return 1
    say "$1=$got"
    [ "$got" = "$2" ]
}
has_line() {  # LINE CMD... - CMD's output has LINE on a line of its own
    local out
    out="$("${@:2}")" || return 1
    say "$out"
    grep -qxF -- "$1" <<<"$out"
}
lacks_line() {
    local out
    out="$("${@:2}")" || return 1
    say "$out"
    ! grep -qxF -- "$1" <<<"$out"
}
has_match() {  # REGEX CMD... - a line of CMD's output matches REGEX
    local out
    out="$("${@:2}")" || return 1
    say "$out"
    grep -qE -- "$1" <<<"$out"
}
port_quota() {  # the admin project's port limit
    openstack quota show --network admin -f value | awk '$1 == "ports" {print $2}' | grep -E '^-?[0-9]+$'
}

# --- the service ---------------------------------------------------------------
step "catalog list has network" expect_match '^network$' openstack catalog list -f value -c Type
step "network endpoint is the unversioned root" expect_match '^http://[^/]+:[0-9]+/?$' \
    openstack endpoint list --service network --interface public -f value -c URL
NET_URL="$STEP_OUT"
step "version document without a token" expect_match '"id": ?"v2.0"' curl -s "$NET_URL/"
step "extension list has router and security-group" \
    has_line security-group openstack extension list --network -f value -c Alias
step "extension show router" field_is alias router openstack extension show router

# --- networks --------------------------------------------------------------------
step "network create" os_id network create --description "e2e net" "$NET"
NET_ID="$STEP_OUT"
step "network create --share" os_id network create --share "$SHARED"
SHARED_ID="$STEP_OUT"
step "network create --external (admin)" os_id network create --external "$PUBLIC"
PUBLIC_ID="$STEP_OUT"
step "network show: shared" field_is shared True openstack network show "$SHARED_ID"
step "network show: external" field_is router:external True openstack network show "$PUBLIC_ID"
step "network show: not external" field_is router:external False openstack network show "$NET_ID"
step "network show: description" field_is description "e2e net" openstack network show "$NET_ID"
step "network show: mtu set" has_match '^[0-9]+$' os_field mtu network show "$NET_ID"
step "network list has it" has_line "$NET_ID" openstack network list -f value -c ID
step "network list --external" has_line "$PUBLIC_ID" openstack network list --external -f value -c ID
step "network list --external lacks the internal one" \
    lacks_line "$NET_ID" openstack network list --external -f value -c ID
step "network list --share" has_line "$SHARED_ID" openstack network list --share -f value -c ID
step "network list --name" has_line "$NET_ID" openstack network list --name "$NET" -f value -c ID
step "network set --name --tag" openstack network set --name "$NET-x" --tag e2e "$NET_ID"
step "network list --tags" has_line "$NET_ID" openstack network list --tags e2e -f value -c ID
step "network set back the name" openstack network set --name "$NET" "$NET_ID"

# --- subnets ---------------------------------------------------------------------
step "subnet create with pool, DNS and gateway" os_id subnet create --network "$NET_ID" \
    --subnet-range "$CIDR" --allocation-pool start=198.51.100.100,end=198.51.100.199 \
    --dns-nameserver 192.0.2.53 --gateway 198.51.100.1 "subnet-$S"
SUBNET_ID="$STEP_OUT"
step "subnet show: gateway" field_is gateway_ip 198.51.100.1 openstack subnet show "$SUBNET_ID"
step "subnet show: pool" has_match "'end': '198\\.51\\.100\\.199', 'start': '198\\.51\\.100\\.100'" \
    os_field allocation_pools subnet show "$SUBNET_ID"
step "subnet show: DNS" has_match '192\.0\.2\.53' os_field dns_nameservers subnet show "$SUBNET_ID"
step "subnet list --network" has_line "$SUBNET_ID" openstack subnet list --network "$NET_ID" -f value -c ID
step "subnet list --ip-version 4" has_line "$SUBNET_ID" openstack subnet list --ip-version 4 -f value -c ID
step "an overlapping subnet is refused (400)" expect_fail --match '400|overlap' \
    openstack subnet create --network "$NET_ID" --subnet-range 198.51.100.128/25 "overlap-$S"
step "a subnet of an unknown network is refused" expect_fail --match '404|not found|No Network' \
    openstack subnet create --network 00000000-0000-0000-0000-000000000000 --subnet-range 192.0.2.0/24 "bad-$S"
step "subnet create on the shared network" os_id subnet create --network "$SHARED_ID" \
    --subnet-range "$SHARED_CIDR" "shared-subnet-$S"
SHARED_SUBNET_ID="$STEP_OUT"
step "subnet create on the external network, no DHCP" os_id subnet create --network "$PUBLIC_ID" \
    --subnet-range "$PUBLIC_CIDR" --no-dhcp "public-subnet-$S"
PUBLIC_SUBNET_ID="$STEP_OUT"

# --- ports -----------------------------------------------------------------------
step "port create --fixed-ip" os_id port create --network "$NET_ID" \
    --fixed-ip subnet="$SUBNET_ID",ip-address=198.51.100.150 "port-$S"
PORT_ID="$STEP_OUT"
step "port show: the address asked for" has_match "198\.51\.100\.150" os_field fixed_ips port show "$PORT_ID"
step "port show: DOWN without an agent" field_is status DOWN openstack port show "$PORT_ID"
step "port show: a MAC" has_match '^fa:16:3e(:[0-9a-f]{2}){3}$' os_field mac_address port show "$PORT_ID"
step "port create: an address from the pool" os_id port create --network "$NET_ID" "port2-$S"
PORT2_ID="$STEP_OUT"
step "port show: inside the pool" has_match "198\.51\.100\.1[0-9][0-9]'" os_field fixed_ips port show "$PORT2_ID"
step "port list --network" has_line "$PORT_ID" openstack port list --network "$NET_ID" -f value -c ID
step "port list --fixed-ip ip-address" has_line "$PORT_ID" \
    openstack port list --fixed-ip ip-address=198.51.100.150 -f value -c ID
step "port list --fixed-ip lacks the other port" lacks_line "$PORT2_ID" \
    openstack port list --fixed-ip ip-address=198.51.100.150 -f value -c ID
step "port set --name --description" openstack port set --name "port-$S-x" --description "e2e port" "$PORT_ID"
step "port show: renamed" field_is name "port-$S-x" openstack port show "$PORT_ID"
step "a duplicate fixed IP is refused (409)" expect_fail --match '409|already allocated|in use' \
    openstack port create --network "$NET_ID" --fixed-ip subnet="$SUBNET_ID",ip-address=198.51.100.150 "dup-$S"
step "a port on an unknown network is refused (404)" expect_fail --match '404|not found|No Network' \
    openstack port create --network 00000000-0000-0000-0000-000000000000 "bad-$S"

# --- security groups --------------------------------------------------------------
step "security group create" os_id security group create --description "e2e sg" "$SG"
SG_ID="$STEP_OUT"
step "security group create (a second one)" os_id security group create "$SG2"
SG2_ID="$STEP_OUT"
step "a new group has its egress rules" has_match 'egress' \
    openstack security group rule list "$SG_ID" -f value -c Direction
step "rule create: tcp 22" os_id security group rule create --protocol tcp --dst-port 22 \
    --remote-ip 0.0.0.0/0 "$SG_ID"
RULE_SSH="$STEP_OUT"
step "rule create: icmp" os_id security group rule create --protocol icmp "$SG_ID"
RULE_ICMP="$STEP_OUT"
step "rule create: remote group" os_id security group rule create --protocol tcp --dst-port 80:81 \
    --remote-group "$SG2_ID" "$SG_ID"
RULE_GROUP="$STEP_OUT"
step "rule show: port range" field_is port_range_max 22 openstack security group rule show "$RULE_SSH"
step "rule show: remote group" field_is remote_group_id "$SG2_ID" openstack security group rule show "$RULE_GROUP"
step "rule list --protocol icmp" has_line "$RULE_ICMP" \
    openstack security group rule list "$SG_ID" --protocol icmp -f value -c ID
step "a duplicate rule is refused (409)" expect_fail --match '409|already exists' \
    openstack security group rule create --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 "$SG_ID"
step "a bad port range is refused (400)" expect_fail --match '400|port' \
    openstack security group rule create --protocol tcp --dst-port 30:20 "$SG_ID"
step "port set --security-group" openstack port set --security-group "$SG_ID" "$PORT_ID"
step "port show: in the group" has_match "$SG_ID" os_field security_group_ids port show "$PORT_ID"
step "a group in use is not deleted (409)" expect_fail --match '409|in use' \
    openstack security group delete "$SG_ID"
step "port unset --security-group" openstack port unset --security-group "$SG_ID" "$PORT_ID"

# --- routers and floating IPs -------------------------------------------------------
step "router create" os_id router create "$ROUTER"
ROUTER_ID="$STEP_OUT"
step "router add subnet" openstack router add subnet "$ROUTER_ID" "$SUBNET_ID"
step "the interface holds the gateway address" has_match "198\\.51\\.100\\.1'" \
    openstack port list --router "$ROUTER_ID" -f value -c "Fixed IP Addresses"
step "router set --external-gateway" openstack router set --external-gateway "$PUBLIC_ID" "$ROUTER_ID"
step "router show: gateway on the external network" has_match "$PUBLIC_ID" \
    os_field external_gateway_info router show "$ROUTER_ID"
step "router show: SNAT on" has_match '"enable_snat": true|enable_snat.: True' \
    os_field external_gateway_info router show "$ROUTER_ID"
step "router list has it" has_line "$ROUTER_ID" openstack router list -f value -c ID
step "a subnet with a router interface is not deleted (409)" expect_fail --match '409|in use|interface' \
    openstack subnet delete "$SUBNET_ID"
step "floating ip create" os_id floating ip create "$PUBLIC_ID"
FIP_ID="$STEP_OUT"
step "floating ip show: from the external subnet" has_match '^203\.0\.113\.' \
    os_field floating_ip_address floating ip show "$FIP_ID"
step "floating ip set --port" openstack floating ip set --port "$PORT_ID" "$FIP_ID"
step "floating ip show: fixed address" field_is fixed_ip_address 198.51.100.150 openstack floating ip show "$FIP_ID"
step "floating ip show: the router" field_is router_id "$ROUTER_ID" openstack floating ip show "$FIP_ID"
step "floating ip list --port" has_line "$FIP_ID" openstack floating ip list --port "$PORT_ID" -f value -c ID
step "floating ip unset --port" openstack floating ip unset --port "$FIP_ID"
step "floating ip show: unassociated" field_is port_id None openstack floating ip show "$FIP_ID"
step "a floating IP from an internal network is refused" expect_fail --match '400|external' \
    openstack floating ip create "$NET_ID"

# --- quotas and availability --------------------------------------------------------
step "quota show: network quotas" has_match '^(networks|network) ' openstack quota show --network -f value
step "quota show: the port limit" port_quota
PORT_QUOTA="$STEP_OUT"
step "quota set --ports" openstack quota set --ports 77 admin
step "quota show: the new port limit" expect_match '^77$' port_quota
step "ip availability show" has_match '^[0-9]+$' os_field used_ips ip availability show "$NET_ID"

# --- delete everything -------------------------------------------------------------
step "floating ip delete" openstack floating ip delete "$FIP_ID"
step "router unset --external-gateway" openstack router unset --external-gateway "$ROUTER_ID"
step "router remove subnet" openstack router remove subnet "$ROUTER_ID" "$SUBNET_ID"
step "router delete" openstack router delete "$ROUTER_ID"
step "port delete" openstack port delete "$PORT_ID" "$PORT2_ID"
step "security group rule delete" openstack security group rule delete "$RULE_SSH" "$RULE_ICMP" "$RULE_GROUP"
step "security group delete" openstack security group delete "$SG_ID" "$SG2_ID"
step "quota set back" openstack quota set --ports "$PORT_QUOTA" admin
step "subnet delete" openstack subnet delete "$SUBNET_ID" "$SHARED_SUBNET_ID" "$PUBLIC_SUBNET_ID"
step "network delete" openstack network delete "$NET_ID" "$SHARED_ID" "$PUBLIC_ID"
step "the network is gone (404)" expect_fail --match '404|No Network|not found' openstack network show "$NET_ID"
step "no port of the router is left" expect_match '^$' openstack port list --device-id "$ROUTER_ID" -f value -c ID

e2e_finish
