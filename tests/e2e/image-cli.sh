#!/usr/bin/env bash
# tests/e2e/image-cli.sh - the real `openstack` CLI through the image API of
# a fresh `oxistack up`: upload of a multi-MiB file, list, show, properties,
# tags, download and byte-compare, checksums against md5sum/sha512sum,
# sharing with another project (add project, accept as that project),
# protection, deactivation, deletion. Everything it creates it deletes again.
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/image-cli-cloud),
# OXI_PORT_OFFSET (default 20100), IMAGE_MIB (default 24).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/image-cli-cloud"
fi
oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/image-cli-cloud}" "${OXI_PORT_OFFSET:-20100}"

S="e2e$RANDOM$RANDOM"
IMG="img-$S" PROJ="proj-$S" USR="user-$S" PW="Pw-$S"
FILE="$E2E_TMP/$IMG.raw"
OUT="$E2E_TMP/$IMG.out"
head -c "$((${IMAGE_MIB:-24} * 1024 * 1024))" /dev/urandom >"$FILE"
MD5="$(md5sum "$FILE" | cut -d' ' -f1)"
SHA512="$(sha512sum "$FILE" | cut -d' ' -f1)"
SIZE="$(stat -c %s "$FILE")"

# --- helpers -----------------------------------------------------------------
field_is() {  # FIELD VALUE CMD... - CMD -f value -c FIELD prints VALUE
    local got
    got="$("${@:3}" -f value -c "$1")" || return 1
    say "$1=$got"
    [ "$got" = "$2" ]
}
prop_is() {  # KEY VALUE IMAGE - the image's property KEY is VALUE
    local got
    got="$(openstack image show -f json "$3" | python3 -c \
        'import json,sys; d=json.load(sys.stdin); p=d.get("properties") or {}; print(p.get(sys.argv[1], d.get(sys.argv[1], "")))' "$1")" \
        || return 1
    say "$1=$got"
    [ "$got" = "$2" ]
}
as_user() {  # ARGS... - openstack as the member of the second project
    openstack --os-username "$USR" --os-password "$PW" --os-user-domain-name Default \
        --os-project-name "$PROJ" --os-project-domain-name Default "$@"
}
lists_image() {  # CMD... - CMD's output has the image's id on a line
    local out
    out="$("$@")" || return 1
    say "$out"
    grep -qxF -- "$IMG_ID" <<<"$out"
}
lacks_image() {
    local out
    out="$("$@")" || return 1
    say "$out"
    ! grep -qxF -- "$IMG_ID" <<<"$out"
}

# --- the service -------------------------------------------------------------
step "catalog list has image" expect_match '^image$' openstack catalog list -f value -c Type
step "endpoint list: image public endpoint" expect_match '^image public http' \
    openstack endpoint list -f value -c 'Service Type' -c Interface -c URL

# --- upload, show, list ------------------------------------------------------
step "image create --file (${IMAGE_MIB:-24} MiB)" os_id image create --file "$FILE" \
    --disk-format raw --container-format bare --min-disk 1 --property os_distro=e2e "$IMG"
IMG_ID="$STEP_OUT"
step "image show: status active" field_is status active openstack image show "$IMG_ID"
step "image show: size matches the file" field_is size "$SIZE" openstack image show "$IMG_ID"
step "image show: checksum = md5sum" field_is checksum "$MD5" openstack image show "$IMG_ID"
step "image show: os_hash_algo sha512" prop_is os_hash_algo sha512 "$IMG_ID"
step "image show: os_hash_value = sha512sum" prop_is os_hash_value "$SHA512" "$IMG_ID"
step "image show: property from create" prop_is os_distro e2e "$IMG_ID"
step "image show: min_disk" field_is min_disk 1 openstack image show "$IMG_ID"
step "image list has the image" lists_image openstack image list -f value -c ID
step "image list --name" lists_image openstack image list --name "$IMG" -f value -c ID
step "image list --status active --sort name:asc" lists_image \
    openstack image list --status active --sort name:asc -f value -c ID

# --- update --------------------------------------------------------------------
step "image set --property" openstack image set --property hw_disk_bus=virtio --property e2e_key=v1 "$IMG_ID"
step "image show: properties set" prop_is e2e_key v1 "$IMG_ID"
step "image set --property (replace)" openstack image set --property e2e_key=v2 "$IMG_ID"
step "image show: property replaced" prop_is e2e_key v2 "$IMG_ID"
step "image unset --property" openstack image unset --property e2e_key "$IMG_ID"
step "image show: property removed" prop_is e2e_key "" "$IMG_ID"
step "image set --tag" openstack image set --tag e2e-tag "$IMG_ID"
step "image list --tag" lists_image openstack image list --tag e2e-tag -f value -c ID
step "image set --name --min-ram" openstack image set --name "$IMG-renamed" --min-ram 256 "$IMG_ID"
step "image show: renamed" field_is name "$IMG-renamed" openstack image show "$IMG_ID"
step "image set of a read-only attribute is refused" expect_fail \
    openstack image set --property checksum=0 "$IMG_ID"

# --- download ------------------------------------------------------------------
step "image save" openstack image save --file "$OUT" "$IMG_ID"
step "saved bytes equal the uploaded file" cmp "$FILE" "$OUT"
rm -f "$OUT"

# --- sharing -------------------------------------------------------------------
step "project create" os_id project create --domain Default "$PROJ"
PROJ_ID="$STEP_OUT"
step "user create" os_id user create --domain Default --password "$PW" "$USR"
step "role add member" openstack role add --project "$PROJ" --user "$USR" member
step "the other project cannot see the image" expect_fail as_user image show "$IMG_ID"
step "image set --shared" openstack image set --shared "$IMG_ID"
step "image add project" openstack image add project "$IMG_ID" "$PROJ_ID"
step "image member list: pending" expect_match "$PROJ_ID.*pending" \
    openstack image member list "$IMG_ID" -f value -c 'Member ID' -c Status
step "pending: not in the member's list" lacks_image as_user image list -f value -c ID
step "the member accepts (image set --accept)" as_user image set --accept "$IMG_ID"
step "accepted: in the member's list" lists_image as_user image list -f value -c ID
step "the member downloads the image" as_user image save --file "$OUT" "$IMG_ID"
step "the member's bytes equal the file" cmp "$FILE" "$OUT"
rm -f "$OUT"
step "the member cannot change the image" expect_fail as_user image set --name stolen "$IMG_ID"
step "the member rejects (image set --reject)" as_user image set --reject "$IMG_ID"
step "rejected: not in the member's list" lacks_image as_user image list -f value -c ID
step "image remove project" openstack image remove project "$IMG_ID" "$PROJ_ID"
step "removed: the member cannot see it" expect_fail as_user image show "$IMG_ID"
step "a member cannot publish" expect_fail as_user image create --public "pub-$S"

# --- protection, deactivation -------------------------------------------------
step "image set --protected" openstack image set --protected "$IMG_ID"
step "a protected image is not deleted" expect_fail openstack image delete "$IMG_ID"
step "image set --unprotected" openstack image set --unprotected "$IMG_ID"
step "image set --deactivate" openstack image set --deactivate "$IMG_ID"
step "image show: deactivated" field_is status deactivated openstack image show "$IMG_ID"
step "image set --activate" openstack image set --activate "$IMG_ID"
step "image show: active again" field_is status active openstack image show "$IMG_ID"

# --- bad input -------------------------------------------------------------------
# (the CLI checks formats itself: these go to the API directly)
step "token issue" os_id token issue
TOKEN="$STEP_OUT"
step "image endpoint" openstack endpoint list --service image --interface public -f value -c URL
IMAGE_URL="$STEP_OUT"
api_code_is() {  # WANT METHOD PATH CONTENT-TYPE BODY - the image API answers WANT
    local got
    got="$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' --max-time 30 -X "$2" -H "X-Auth-Token: $TOKEN" \
        -H "Content-Type: $4" --data "$5" "$IMAGE_URL$3")"
    say "HTTP $got $(cat "$E2E_TMP/body")"
    [ "$got" = "$1" ]
}
step "an unknown disk format is refused (400)" api_code_is 400 POST /v2/images application/json \
    '{"name": "bad", "disk_format": "wrong"}'
step "a read-only attribute on create is refused (403)" api_code_is 403 POST /v2/images application/json \
    '{"name": "bad", "checksum": "0"}'
step "a non-JSON create is refused (415)" api_code_is 415 POST /v2/images text/plain '{}'
step "a PATCH that is not a JSON patch is refused (415)" api_code_is 415 PATCH "/v2/images/$IMG_ID" \
    application/json '[]'
step "upload to an active image is refused (409)" api_code_is 409 PUT "/v2/images/$IMG_ID/file" \
    application/octet-stream 'data'
step "an unknown image is not found" expect_fail --match 'No Image found|[Nn]ot [Ff]ound|404' \
    openstack image show 00000000-0000-0000-0000-000000000000

# --- clean-up ------------------------------------------------------------------
step "image delete" openstack image delete "$IMG_ID"
step "the image is gone" expect_fail openstack image show "$IMG_ID"
step "user delete" openstack user delete "$USR"
step "project delete" openstack project delete "$PROJ_ID"

e2e_finish
