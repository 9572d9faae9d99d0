#!/usr/bin/env bash
# tests/e2e/identity-cli.sh - the real `openstack` CLI through the identity API
# of a fresh `oxistack up`: catalog, domains, projects, users, groups, roles
# and assignments, logins and policy, application credentials, token
# revocation, limits, credentials and EC2 credentials. Everything it creates
# it deletes again (the deletes are steps too).
#
# Validated against the real Keystone 30 (conformance/reference-keystone.sh):
#   . <(reference-keystone.sh env); OXI_E2E_EXTERNAL=1 tests/e2e/identity-cli.sh
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/identity-cli),
# OXI_PORT_OFFSET (default 20000).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/identity-cli-cloud"
fi
oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/identity-cli-cloud}" "${OXI_PORT_OFFSET:-20000}"

S="e2e$RANDOM$RANDOM"                      # names are unique per run
DOM="dom-$S" PROJ="proj-$S" CHILD="child-$S" ALICE="alice-$S" BOB="bob-$S"
GRP="grp-$S" ROLE="role-$S" DROLE="drole-$S" RES="res_$S" AC="ac-$S"
PW1="Pw1-$S" PW2="Pw2-$S" SECRET="appcred-secret-$S"
D=(--domain "$DOM")                        # the test domain, in its flag forms
UD=(--user-domain "$DOM")
PD=(--project-domain "$DOM")

# --- helpers -----------------------------------------------------------------
# openstack as USER (password PW) scoped to $PROJ, as on the command line
as_user() {  # USER PW ARGS...
    local u="$1" p="$2"
    shift 2
    openstack --os-username "$u" --os-password "$p" --os-user-domain-name "$DOM" \
        --os-project-name "$PROJ" --os-project-domain-name "$DOM" "$@"
}
# openstack with an application credential (it carries its own scope, and
# Keystone refuses one that also asks for a project: drop the admin's)
as_appcred() {  # ID SECRET ARGS...
    local id="$1" secret="$2"
    shift 2
    env -u OS_USERNAME -u OS_PASSWORD -u OS_USER_DOMAIN_NAME -u OS_PROJECT_NAME \
        -u OS_PROJECT_DOMAIN_NAME -u OS_PROJECT_ID -u OS_USER_DOMAIN_ID \
        -u OS_PROJECT_DOMAIN_ID openstack --os-auth-type v3applicationcredential \
        --os-application-credential-id "$id" --os-application-credential-secret "$secret" "$@"
}
has_lines() {  # "LINE..." CMD... - every LINE is a whole line of CMD's output
    local want="$1" out line
    shift
    out="$("$@")" || return 1
    say "$out"
    while IFS= read -r line; do
        [ -z "$line" ] || grep -qxF -- "$line" <<<"$out" || { say "missing: $line"; return 1; }
    done <<<"$want"
}
lacks_line() {  # LINE CMD...
    local out
    out="$("${@:2}")" || return 1
    say "$out"
    ! grep -qxF -- "$1" <<<"$out"
}
field_is() {  # FIELD VALUE CMD... - CMD -f value -c FIELD prints VALUE
    local got
    got="$("${@:3}" -f value -c "$1")" || return 1
    say "$1=$got"
    [ "$got" = "$2" ]
}
# role assignments as "role,user,group,project,domain,system" lines
assignments() {
    openstack role assignment list --names -f csv -c Role -c User -c Group -c Project \
        -c Domain -c System "$@" | tail -n +2 | tr -d '"'
}
http_code() {  # curl ARGS... -> the HTTP status
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@"
}
code_is() {  # WANT curl-ARGS...
    local got
    got="$(http_code "${@:2}")"
    say "HTTP $got"
    [ "$got" = "$1" ]
}
in_group() {  # the CLI exits 0 either way and says "X in group G" or "X not in group G"
    local out
    out="$(openstack group contains user --group-domain "$DOM" "${UD[@]}" "$GRP" "$1" 2>&1)" || return 1
    say "$out"
    [ "$out" = "$1 in group $GRP" ]
}
not_in_group() {
    local out
    out="$(openstack group contains user --group-domain "$DOM" "${UD[@]}" "$GRP" "$1" 2>&1)" || return 1
    say "$out"
    [ "$out" = "$1 not in group $GRP" ]
}
# admin -> member -> reader must hold transitively (Keystone 30's bootstrap
# has admin -> manager -> member -> reader)
implies() {  # PRIOR IMPLIED
    local pairs cur next seen=" "
    pairs="$(openstack implied role list -f value -c 'Prior Role Name' -c 'Implied Role Name')" || return 1
    say "$pairs"
    cur="$1"
    while [ -n "$cur" ] && [[ "$seen" != *" $cur "* ]]; do
        seen+="$cur "
        next="$(awk -v p="$cur" '$1 == p {print $2}' <<<"$pairs" | head -n 1)"
        [ "$next" = "$2" ] && return 0
        cur="$next"
    done
    say "no implied-role chain $1 -> $2"; return 1
}

# --- the cloud as the admin sees it ------------------------------------------
step "token issue" os_id token issue
ADMIN_TOKEN="$STEP_OUT"
step "catalog list has identity" expect_match 'identity' openstack catalog list -f value -c Type
step "endpoint list: identity public endpoint" expect_match '^identity public ' \
    openstack endpoint list -f value -c 'Service Type' -c Interface -c URL
step "service list has the identity service" expect_match ' identity$' openstack service list -f value -c Name -c Type
step "region list has ${OS_REGION_NAME:-RegionOne}" expect_match "^${OS_REGION_NAME:-RegionOne}\$" \
    openstack region list -f value -c Region
step "role list: admin, member, reader" has_lines $'admin\nmember\nreader' openstack role list -f value -c Name
step "implied roles: admin implies member" implies admin member
step "implied roles: member implies reader" implies member reader

# --- domain, projects ------------------------------------------------------------
step "domain create" os_id domain create --description "e2e domain" "$DOM"
DOM_ID="$STEP_OUT"
step "domain list" expect_match "^$DOM_ID $DOM\$" openstack domain list -f value -c ID -c Name
step "domain show" field_is description "e2e domain" openstack domain show "$DOM"
step "domain set --description" openstack domain set --description "changed" "$DOM"
step "domain show after set" field_is description changed openstack domain show "$DOM"
step "project create in the domain" os_id project create "${D[@]}" --description p "$PROJ"
PROJ_ID="$STEP_OUT"
step "project create --parent --tag" os_id project create "${D[@]}" --parent "$PROJ" \
    --tag red --tag blue "$CHILD"
CHILD_ID="$STEP_OUT"
step "project show: parent_id" field_is parent_id "$PROJ_ID" openstack project show "${D[@]}" "$CHILD"
step "project show: domain_id" field_is domain_id "$DOM_ID" openstack project show "${D[@]}" "$PROJ"
step "project show: tags" expect_match 'blue.*red|red.*blue' os_field tags project show "${D[@]}" "$CHILD"
step "project list --domain" has_lines "$PROJ"$'\n'"$CHILD" openstack project list "${D[@]}" -f value -c Name
step "project list --tags" has_lines "$CHILD" openstack project list --tags red -f value -c Name
step "project set" openstack project set "${D[@]}" --description new --tag green "$CHILD"
step "project show after set" field_is description new openstack project show "${D[@]}" "$CHILD"
step "project delete with a child is refused (403)" expect_fail --match '403' \
    openstack project delete "${D[@]}" "$PROJ"

# --- users, groups ---------------------------------------------------------------
step "user create --password --email --project" os_id user create "${D[@]}" \
    --password "$PW1" --email "alice@example.org" --project "$PROJ" "${PD[@]}" "$ALICE"
ALICE_ID="$STEP_OUT"
step "user create (second user)" os_id user create "${D[@]}" --password "$PW1" "$BOB"
BOB_ID="$STEP_OUT"
step "user list --domain" has_lines "$ALICE"$'\n'"$BOB" openstack user list "${D[@]}" -f value -c Name
step "user show: email" field_is email alice@example.org openstack user show "${D[@]}" "$ALICE"
step "user show: default_project_id" field_is default_project_id "$PROJ_ID" openstack user show "${D[@]}" "$ALICE"
step "user set --email" openstack user set "${D[@]}" --email a2@example.org "$ALICE"
step "user show after set" field_is email a2@example.org openstack user show "${D[@]}" "$ALICE"
step "group create" os_id group create "${D[@]}" --description g "$GRP"
GRP_ID="$STEP_OUT"
step "group list --domain" expect_match "^$GRP\$" openstack group list "${D[@]}" -f value -c Name
step "group add user" openstack group add user --group-domain "$DOM" "${UD[@]}" "$GRP" "$BOB"
step "group contains user" in_group "$BOB"
step "group contains user (not a member)" not_in_group "$ALICE"
# (OSC 10.5 sends the domain's name as domain_id when it looks up a group or a
# user by name with --domain/--user-domain here, and finds nothing: pass IDs)
step "user list --group" has_lines "$BOB" openstack user list --group "$GRP_ID" -f value -c Name

# --- roles and assignments -----------------------------------------------------
step "role create" os_id role create "$ROLE"
step "role create --domain (domain-specific role)" os_id role create "${D[@]}" "$DROLE"
step "role show: domain_id of the domain role" field_is domain_id "$DOM_ID" openstack role show "${D[@]}" "$DROLE"
step "role list --domain" has_lines "$DROLE" openstack role list "${D[@]}" -f value -c Name
step "role list (global) lacks the domain role" lacks_line "$DROLE" openstack role list -f value -c Name
step "role add --user --project" openstack role add --user "$ALICE" "${UD[@]}" \
    --project "$PROJ" "${PD[@]}" member
step "role add --group --domain" openstack role add --group "$GRP" --group-domain "$DOM" \
    --domain "$DOM" "$ROLE"
step "role add --user --system all" openstack role add --user "$BOB" "${UD[@]}" --system all reader
step "role assignment list --user --names" has_lines "member,$ALICE@$DOM,,$PROJ@$DOM,," \
    assignments --user "$ALICE" "${UD[@]}"
step "role assignment list --project --names" has_lines "member,$ALICE@$DOM,,$PROJ@$DOM,," \
    assignments --project "$PROJ" "${PD[@]}"
step "role assignment list --names (group, system rows)" has_lines \
    "$ROLE,,$GRP@$DOM,,$DOM,"$'\n'"reader,$BOB@$DOM,,,,all" assignments
step "role assignment list --effective: through the group" has_lines \
    "$ROLE,$BOB@$DOM,,,$DOM," assignments --effective --user "$BOB" "${UD[@]}"
# Keystone's effective mode lists project and domain roles only, never system ones
step "role assignment list --effective: no system rows" lacks_line \
    "reader,$BOB@$DOM,,,,all" assignments --effective --user "$BOB" "${UD[@]}"
step "role assignment list --effective: implied roles" has_lines \
    "member,$ALICE@$DOM,,$PROJ@$DOM,,"$'\n'"reader,$ALICE@$DOM,,$PROJ@$DOM,," \
    assignments --effective --user "$ALICE" "${UD[@]}"

# --- logging in as the new user ------------------------------------------------
step "new user logs in with its password" as_user "$ALICE" "$PW1" token issue -f value -c user_id
step "  ... and the token is for that user" test "$STEP_OUT" = "$ALICE_ID"
step "a member cannot list users (403)" expect_fail --match '403' as_user "$ALICE" "$PW1" user list
step "a member can show its own project" field_is id "$PROJ_ID" as_user "$ALICE" "$PW1" project show "$PROJ_ID"
step "application credential create --secret" as_user "$ALICE" "$PW1" application credential \
    create --secret "$SECRET" -f value -c id "$AC"
AC_ID="$STEP_OUT"
step "application credential list" has_lines "$AC" as_user "$ALICE" "$PW1" application credential list -f value -c Name
step "token issue with the application credential" field_is project_id "$PROJ_ID" \
    as_appcred "$AC_ID" "$SECRET" token issue
step "application credential with a wrong secret fails (401)" expect_fail --match 'HTTP 401' \
    as_appcred "$AC_ID" "wrong-$SECRET" token issue
step "application credential delete" as_user "$ALICE" "$PW1" application credential delete "$AC"
step "the deleted application credential no longer authenticates" expect_fail --match 'HTTP 40[14]' \
    as_appcred "$AC_ID" "$SECRET" token issue
step "user set --password" openstack user set "${D[@]}" --password "$PW2" "$ALICE"
step "the old password is rejected (401)" expect_fail --match 'HTTP 401' as_user "$ALICE" "$PW1" token issue
step "the new password works" as_user "$ALICE" "$PW2" token issue
step "user set --disable" openstack user set "${D[@]}" --disable "$ALICE"
step "a disabled user cannot log in (401)" expect_fail --match 'HTTP 401' as_user "$ALICE" "$PW2" token issue
step "user set --enable" openstack user set "${D[@]}" --enable "$ALICE"
step "the re-enabled user logs in" as_user "$ALICE" "$PW2" token issue
step "role remove --user --project" openstack role remove --user "$ALICE" "${UD[@]}" \
    --project "$PROJ" "${PD[@]}" member
step "role assignment gone" lacks_line "member,$ALICE@$DOM,,$PROJ@$DOM,," assignments --user "$ALICE" "${UD[@]}"
step "without a role the user cannot get a project token (401)" expect_fail --match 'HTTP 401' \
    as_user "$ALICE" "$PW2" token issue

# --- token revocation ----------------------------------------------------------
step "token issue (to revoke)" os_id token issue
T="$STEP_OUT"
step "the token validates (GET /v3/auth/tokens: 200)" code_is 200 -H "X-Auth-Token: $ADMIN_TOKEN" \
    -H "X-Subject-Token: $T" "$OS_AUTH_URL/auth/tokens"
step "token revoke" openstack token revoke "$T"
step "the revoked token does not validate (404)" code_is 404 -H "X-Auth-Token: $ADMIN_TOKEN" \
    -H "X-Subject-Token: $T" "$OS_AUTH_URL/auth/tokens"
step "a request with the revoked token is refused (401)" code_is 401 -H "X-Auth-Token: $T" \
    "$OS_AUTH_URL/projects"

# --- limits --------------------------------------------------------------------
step "registered limit create" os_id registered limit create --service identity \
    --default-limit 10 "$RES"
RL_ID="$STEP_OUT"
step "registered limit list" expect_match "^$RL_ID $RES 10\$" openstack registered limit list \
    --resource-name "$RES" -f value -c ID -c 'Resource Name' -c 'Default Limit'
step "registered limit set" openstack registered limit set --default-limit 20 "$RL_ID"
step "registered limit show" field_is default_limit 20 openstack registered limit show "$RL_ID"
step "limit create" os_id limit create --project "$PROJ_ID" --service identity --resource-limit 5 "$RES"
L_ID="$STEP_OUT"
step "limit list --project" expect_match "^$L_ID $PROJ_ID $RES 5\$" openstack limit list \
    --project "$PROJ_ID" -f value -c ID -c 'Project ID' -c 'Resource Name' -c 'Resource Limit'
step "limit set" openstack limit set --resource-limit 7 "$L_ID"
step "limit show" field_is resource_limit 7 openstack limit show "$L_ID"
step "limit delete" openstack limit delete "$L_ID"
step "registered limit delete" openstack registered limit delete "$RL_ID"

# --- credentials ---------------------------------------------------------------
step "credential create" os_id credential create --type cert --project "$PROJ_ID" "$ALICE_ID" "blob-$S"
CRED_ID="$STEP_OUT"
step "credential list --user" expect_match "^$CRED_ID cert blob-$S\$" openstack credential list \
    --user "$ALICE_ID" -f value -c ID -c Type -c Data
step "credential show" field_is blob "blob-$S" openstack credential show "$CRED_ID"
step "credential delete" openstack credential delete "$CRED_ID"
step "ec2 credentials create" os_field access ec2 credentials create --user "$BOB" "${UD[@]}" \
    --project "$PROJ" "${PD[@]}"
EC2="$STEP_OUT"
step "ec2 credentials list" expect_match "^$EC2 [0-9a-f]+ $PROJ_ID $BOB_ID\$" \
    openstack ec2 credentials list --user "$BOB" "${UD[@]}" -f value
step "ec2 credentials delete" openstack ec2 credentials delete --user "$BOB" "${UD[@]}" "$EC2"

# --- clean-up (each delete is a check too) ------------------------------------
step "group remove user" openstack group remove user --group-domain "$DOM" "${UD[@]}" "$GRP" "$BOB"
step "group no longer contains the user" not_in_group "$BOB"
step "role remove --group --domain" openstack role remove --group "$GRP" --group-domain "$DOM" \
    --domain "$DOM" "$ROLE"
step "role remove --user --system all" openstack role remove --user "$BOB" "${UD[@]}" --system all reader
step "no assignments left in the domain" lacks_line "$ROLE,,$GRP@$DOM,,$DOM," assignments
step "group delete" openstack group delete "${D[@]}" "$GRP"
step "user delete" openstack user delete "${D[@]}" "$ALICE" "$BOB"
step "role delete" openstack role delete "$ROLE"
step "role delete --domain" openstack role delete "${D[@]}" "$DROLE"
step "project delete (child, then parent)" openstack project delete "$CHILD_ID" "$PROJ_ID"
step "an enabled domain cannot be deleted (403)" expect_fail --match 'HTTP 403|403' \
    openstack domain delete "$DOM"
step "domain set --disable" openstack domain set --disable "$DOM"
step "domain delete" openstack domain delete "$DOM"
step "the domain is gone" expect_fail --match 'No [Dd]omain' openstack domain show "$DOM_ID"

e2e_finish
