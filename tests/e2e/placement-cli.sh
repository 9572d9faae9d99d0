#!/usr/bin/env bash
# tests/e2e/placement-cli.sh - the real `openstack` CLI with osc-placement
# against the placement API of a fresh `oxistack up`: resource providers
# (a tree), inventories, resource classes, traits, aggregates, allocations,
# usages, allocation candidates, and the errors a client must see (409 over
# capacity or generation, 404 unknown provider, 400 bad input). Everything
# it creates it deletes again.
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/placement-cli-cloud),
# OXI_PORT_OFFSET (default 20400), PLACEMENT_VERSION (default 1.39).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/placement-cli-cloud"
fi
oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/placement-cli-cloud}" "${OXI_PORT_OFFSET:-20400}"

S="e2e$RANDOM$RANDOM"
RP_NAME="cn-$S" CHILD_NAME="numa0-$S" RC="CUSTOM_E2E_${S^^}" TRAIT="CUSTOM_E2E_T_${S^^}"
MV="${PLACEMENT_VERSION:-1.39}"
new_uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
CONSUMER="$(new_uuid)" CONSUMER2="$(new_uuid)" AGG="$(new_uuid)"

# --- helpers -----------------------------------------------------------------
pl() { openstack --os-placement-api-version "$MV" "$@"; }
pl_field() { local f="$1"; shift; pl "$@" -f value -c "$f"; }
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
generation() { pl resource provider show "$1" -f value -c generation; }

# --- the service ---------------------------------------------------------------
step "catalog list has placement" expect_match '^placement$' openstack catalog list -f value -c Type
step "token issue" os_id token issue
TOKEN="$STEP_OUT"
step "placement endpoint" openstack endpoint list --service placement --interface public -f value -c URL
PL_URL="$STEP_OUT"
api_code_is() {  # WANT METHOD PATH [BODY] - the placement API answers WANT
    local got args=(-s -o "$E2E_TMP/api.out" -w '%{http_code}' -X "$2" -H "X-Auth-Token: $TOKEN"
        -H "OpenStack-API-Version: placement $MV")
    [ -z "${4:-}" ] || args+=(-H 'Content-Type: application/json' -d "$4")
    got="$(curl "${args[@]}" "$PL_URL$3")" || return 1
    say "HTTP $got $(cat "$E2E_TMP/api.out")"
    [ "$got" = "$1" ] && grep -q '"errors"' "$E2E_TMP/api.out"
}
step "version document without a token" expect_match '"max_version": ?"1.39"' curl -s "$PL_URL/"

# --- resource providers ----------------------------------------------------------
step "resource provider create" pl_field uuid resource provider create "$RP_NAME"
RP="$STEP_OUT"
step "resource provider create --parent-provider" pl_field uuid \
    resource provider create --parent-provider "$RP" "$CHILD_NAME"
CHILD="$STEP_OUT"
step "resource provider list has both" has_line "$CHILD" pl resource provider list -f value -c uuid
step "resource provider list --name" has_line "$RP" pl resource provider list --name "$RP_NAME" -f value -c uuid
step "resource provider list --in-tree" has_line "$CHILD" pl resource provider list --in-tree "$RP" -f value -c uuid
step "resource provider show: root of the child" field_is root_provider_uuid "$RP" pl resource provider show "$CHILD"
step "resource provider show: parent of the child" field_is parent_provider_uuid "$RP" pl resource provider show "$CHILD"
step "resource provider set --name" pl resource provider set --name "$RP_NAME-renamed" "$RP"
step "resource provider show: renamed" field_is name "$RP_NAME-renamed" pl resource provider show "$RP"
step "a duplicate name is refused (409)" expect_fail --match '409|already exists' \
    pl resource provider create "$RP_NAME-renamed"

# --- inventories ------------------------------------------------------------------
step "inventory set" pl resource provider inventory set "$RP" --resource VCPU=4 \
    --resource VCPU:allocation_ratio=2.0 --resource MEMORY_MB=4096 --resource MEMORY_MB:reserved=512 \
    --resource DISK_GB=100
step "inventory list has VCPU, MEMORY_MB, DISK_GB" expect_match 'DISK_GB' \
    pl resource provider inventory list "$RP" -f value -c resource_class
step "inventory show: VCPU allocation_ratio" field_is allocation_ratio 2.0 \
    pl resource provider inventory show "$RP" VCPU
step "inventory show: MEMORY_MB reserved" field_is reserved 512 pl resource provider inventory show "$RP" MEMORY_MB
step "inventory class set (VCPU total 8)" pl resource provider inventory class set "$RP" VCPU --total 8 \
    --allocation_ratio 2.0
step "inventory show: VCPU total 8" field_is total 8 pl resource provider inventory show "$RP" VCPU
step "inventory set --amend (child VCPU)" pl resource provider inventory set "$CHILD" --amend --resource VCPU=2
step "inventory delete --resource-class DISK_GB" pl resource provider inventory delete "$RP" --resource-class DISK_GB
step "inventory list lacks DISK_GB" lacks_line DISK_GB pl resource provider inventory list "$RP" -f value -c resource_class
step "inventory set of an unknown class is refused (400)" expect_fail --match '400|No such resource class' \
    pl resource provider inventory set "$RP" --resource CUSTOM_NOPE_NOT_THERE=1

# --- resource classes -----------------------------------------------------------------
step "resource class create" pl resource class create "$RC"
step "resource class list has it" has_line "$RC" pl resource class list -f value -c name
step "resource class list has PCPU" has_line PCPU pl resource class list -f value -c name
step "resource class show" field_is name "$RC" pl resource class show "$RC"
step "a standard class is not deleted" expect_fail pl resource class delete VCPU
step "resource class delete" pl resource class delete "$RC"
step "resource class show: gone (404)" expect_fail --match '404|No such resource class' pl resource class show "$RC"

# --- traits ---------------------------------------------------------------------------
step "trait create" pl trait create "$TRAIT"
step "trait list has it" has_line "$TRAIT" pl trait list -f value -c name
step "trait list has STORAGE_DISK_SSD" has_line STORAGE_DISK_SSD pl trait list -f value -c name
step "trait show" pl trait show "$TRAIT"
step "resource provider trait set" pl resource provider trait set "$RP" --trait "$TRAIT" --trait HW_CPU_X86_AVX2
step "resource provider trait list" has_line HW_CPU_X86_AVX2 pl resource provider trait list "$RP" -f value -c name
step "resource provider list --required" has_line "$RP" \
    pl resource provider list --required "$TRAIT" -f value -c uuid
step "a trait in use is not deleted" expect_fail pl trait delete "$TRAIT"

# --- aggregates -------------------------------------------------------------------------
step "resource provider aggregate set" pl resource provider aggregate set "$RP" --aggregate "$AGG" \
    --generation "$(generation "$RP")"
step "resource provider aggregate list" has_line "$AGG" pl resource provider aggregate list "$RP" -f value -c uuid
step "a stale generation is refused (409)" expect_fail --match '409|generation|[Cc]onflict' \
    pl resource provider aggregate set "$RP" --aggregate "$AGG" --generation 0
step "resource provider list --member-of" has_line "$RP" pl resource provider list --member-of "$AGG" -f value -c uuid

# --- allocation candidates ------------------------------------------------------------------
step "allocation candidate list --resource VCPU=1 --resource MEMORY_MB=512" expect_match "$RP" \
    pl allocation candidate list --resource VCPU=1 --resource MEMORY_MB=512 -f value
step "allocation candidate list --required --member-of --limit" expect_match "$RP" \
    pl allocation candidate list --resource VCPU=1 --required HW_CPU_X86_AVX2 --member-of "$AGG" --limit 5 -f value
step "allocation candidate list --forbidden excludes the provider" lacks_line "$RP" \
    pl allocation candidate list --resource VCPU=1 --forbidden HW_CPU_X86_AVX2 -f value -c 'resource provider'
step "allocation candidate list --group (child VCPU)" expect_match "$CHILD" \
    pl allocation candidate list --group 1 --resource VCPU=2 --group-policy none -f value

# --- allocations and usages ------------------------------------------------------------------
step "project show admin" os_id project show admin
PROJECT="$STEP_OUT"
step "user show admin" os_id user show admin
USER_ID="$STEP_OUT"
step "resource provider allocation set" pl resource provider allocation set "$CONSUMER" \
    --allocation "rp=$RP,VCPU=2,MEMORY_MB=1024" --allocation "rp=$CHILD,VCPU=1" \
    --project-id "$PROJECT" --user-id "$USER_ID" --consumer-type INSTANCE
step "resource provider allocation show" expect_match "$CHILD" pl resource provider allocation show "$CONSUMER" -f value
step "resource provider usage show: VCPU 2" expect_match '^VCPU 2$' \
    pl resource provider usage show "$RP" -f value
step "resource usage show (project)" expect_match 'VCPU.*3|3.*VCPU|INSTANCE' \
    pl resource usage show "$PROJECT" -f value
step "resource provider allocation unset --provider (child)" pl resource provider allocation unset "$CONSUMER" \
    --provider "$CHILD"
step "allocation show: child gone" lacks_line "$CHILD" \
    pl resource provider allocation show "$CONSUMER" -f value -c resource_provider
step "over capacity is refused (409)" expect_fail --match '409|Unable to allocate inventory|capacity' \
    pl resource provider allocation set "$CONSUMER2" --allocation "rp=$RP,VCPU=1000" \
    --project-id "$PROJECT" --user-id "$USER_ID" --consumer-type INSTANCE
step "a provider with allocations is not deleted (409)" expect_fail --match '409|allocations' \
    pl resource provider delete "$RP"
step "resource provider allocation delete" pl resource provider allocation delete "$CONSUMER"
step "usage show: VCPU back to 0" expect_match '^VCPU 0$' pl resource provider usage show "$RP" -f value

# --- bad input through the API --------------------------------------------------------------
BOGUS="$(new_uuid)"
step "an unknown provider is not found (404)" expect_fail --match '404|No resource provider' \
    pl resource provider show "$BOGUS"
step "GET unknown provider: 404 in Placement's error shape" api_code_is 404 GET "/resource_providers/$BOGUS"
step "badly formed resources: 400" api_code_is 400 GET "/allocation_candidates?resources=VCPU"
step "unknown resource class in resources: 400" api_code_is 400 GET "/allocation_candidates?resources=NOPE:1"
step "a stale inventory generation: 409" api_code_is 409 PUT "/resource_providers/$RP/inventories" \
    '{"resource_provider_generation": 0, "inventories": {}}'
step "a non-JSON body: 415" api_code_is 415 POST /resource_providers
step "an unsupported microversion: 406" expect_match '^406$' curl -s -o /dev/null -w '%{http_code}' \
    -H "X-Auth-Token: $TOKEN" -H 'OpenStack-API-Version: placement 1.99' "$PL_URL/resource_providers"

# --- clean-up -------------------------------------------------------------------------------
step "resource provider trait delete" pl resource provider trait delete "$RP"
step "trait delete" pl trait delete "$TRAIT"
step "a parent with children is not deleted (409)" expect_fail --match '409|child' pl resource provider delete "$RP"
step "resource provider delete (child)" pl resource provider delete "$CHILD"
step "resource provider delete" pl resource provider delete "$RP"
step "the provider is gone" expect_fail pl resource provider show "$RP"

e2e_finish
