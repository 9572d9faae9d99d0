#!/usr/bin/env bash
# tests/e2e/object-cli.sh - the real `swift` and `openstack container/object`
# clients against the object storage of a fresh `oxistack up`: upload a
# tree, list with prefixes and delimiters, download and byte-compare,
# metadata, public read without a token, the middleware (TempURL fetched
# with curl, SLO upload with segments, versioning, quotas, bulk delete and
# archive extraction), and clean-up (deletes are steps).
#
# Environment: see lib.sh; OXI_DATA_DIR (default target/e2e/object-cli-cloud),
# OXI_PORT_OFFSET (default 21000).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${OXI_DATA_DIR:-}" ] && [ "${OXI_E2E_EXTERNAL:-0}" != 1 ]; then
    rm -rf "$REPO_ROOT/target/e2e/object-cli-cloud"
fi
oxi_up "${OXI_DATA_DIR:-$REPO_ROOT/target/e2e/object-cli-cloud}" "${OXI_PORT_OFFSET:-21000}"

S="e2e$RANDOM$RANDOM"
C="tree-$S" C2="box-$S"
WORK="$E2E_TMP/work"
mkdir -p "$WORK/up/tree/a/b" "$WORK/down"
printf 'hello\n' >"$WORK/up/tree/a/x.txt"
printf 'world\n' >"$WORK/up/tree/a/b/y.txt"
head -c 300000 /dev/urandom >"$WORK/up/tree/big.bin"
: >"$WORK/up/tree/empty"

# --- helpers -----------------------------------------------------------------
lines_are() {  # "EXPECTED" CMD... - CMD prints exactly these lines
    local want="$1" out
    shift
    out="$("$@")" || return 1
    say "$out"
    [ "$out" = "$want" ] || { say "expected:"; say "$want"; return 1; }
}
download_same() {  # OBJECT - swift download and cmp with the uploaded file
    (cd "$WORK/down" && swift download "$C" "$1" -o "$WORK/down/got") || return 1
    cmp "$WORK/down/got" "$WORK/up/$1"
}
storage_url() { swift auth | sed -n 's/^export OS_STORAGE_URL=//p' | tr -d "'\""; }
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@"; }
code_is() {  # WANT curl-ARGS...
    local got
    got="$(http_code "${@:2}")"
    say "HTTP $got"
    [ "$got" = "$1" ]
}

# --- swift -------------------------------------------------------------------
step "swift stat (account)" expect_match 'Account: AUTH_' swift stat
step "swift upload a tree" bash -c "cd '$WORK/up' && swift upload '$C' tree"
step "swift list" lines_are "tree/a/b/y.txt
tree/a/x.txt
tree/big.bin
tree/empty" swift list "$C"
step "swift list --prefix --delimiter" lines_are "tree/a/b/
tree/a/x.txt" swift list "$C" --prefix tree/a/ --delimiter /
step "swift list --delimiter (top level)" lines_are "tree/" swift list "$C" --delimiter /
step "swift download big.bin + cmp" download_same tree/big.bin
step "swift download empty object + cmp" download_same tree/empty
step "swift download a whole container" bash -c "cd '$WORK/down' && swift download '$C' && \
    diff -r '$WORK/up/tree' '$WORK/down/tree'"
step "swift post object metadata" swift post -m color:blue "$C" tree/a/x.txt
step "swift stat object shows it" expect_match 'Meta Color: blue' swift stat "$C" tree/a/x.txt
step "swift stat container counts 4 objects" expect_match 'Objects: 4' swift stat "$C"
step "swift copy" swift copy -d "/$C/tree/copy.txt" "$C" tree/a/x.txt
step "copied object has the body" lines_are "hello" swift download "$C" tree/copy.txt -o -
step "public read ACL" swift post -r '.r:*' "$C"
step "object readable without a token" code_is 200 "$(storage_url)/$C/tree/a/x.txt"
step "listing needs .rlistings (401)" code_is 401 "$(storage_url)/$C"
step "missing object: swift download fails" expect_fail swift download "$C" nope -o -
step "delete of a non-empty container fails (409)" expect_fail --match '409' \
    openstack container delete "$C"

# --- openstack container/object ----------------------------------------------
step "openstack container create" openstack container create "$C2"
step "openstack container list" expect_match "^$C2\$" openstack container list -f value -c Name
step "openstack container show" expect_match 'object_count.*0' openstack container show "$C2"
step "openstack container set --property" openstack container set --property owner=e2e "$C2"
step "openstack container show has the property" expect_match "owner='e2e'" openstack container show "$C2"
step "openstack object create" bash -c "cd '$WORK/up' && openstack object create '$C2' tree/a/x.txt"
step "openstack object list" expect_match '^tree/a/x.txt$' openstack object list "$C2" -f value -c Name
step "openstack object show" expect_match 'content-length.*6' openstack object show "$C2" tree/a/x.txt
step "openstack object set --property" openstack object set --property k=v "$C2" tree/a/x.txt
step "openstack object save + cmp" bash -c "openstack object save --file '$WORK/down/saved' '$C2' tree/a/x.txt && \
    cmp '$WORK/down/saved' '$WORK/up/tree/a/x.txt'"
step "openstack object delete" openstack object delete "$C2" tree/a/x.txt
step "the object is gone" expect_fail openstack object show "$C2" tree/a/x.txt
step "openstack container delete" openstack container delete "$C2"

# --- middleware ----------------------------------------------------------------
C3="slo-$S" C4="ver-$S" V="ver-archive-$S" C5="quota-$S" C6="tar-$S"
account_path() { storage_url | sed -E 's|^https?://[^/]+||'; }
host_of() { storage_url | sed -E 's|^(https?://[^/]+).*|\1|'; }
token() { swift auth | sed -n 's/^export OS_AUTH_TOKEN=//p' | tr -d "'\""; }
slo_range_bytes() {  # 100 bytes across the first segment boundary, counted
    curl -sf --max-time 30 -H "X-Auth-Token: $(token)" -H 'Range: bytes=99950-100049' \
        "$(storage_url)/$C3/tree/big.bin" | wc -c
}
extract_tar() {  # the uploaded tree as a tar, extracted into $C6
    tar cf "$WORK/t.tar" -C "$WORK/up" tree || return 1
    curl -sf --max-time 60 -X PUT -T "$WORK/t.tar" -H "X-Auth-Token: $(token)" \
        "$(storage_url)/$C6?extract-archive=tar"
}
tempurl_fetch() {  # KEY - GET tree/a/x.txt through `swift tempurl` with curl
    local path
    path="$(swift tempurl GET 600 "$(account_path)/$C/tree/a/x.txt" "$1")" || return 1
    curl -sf --max-time 30 "$(host_of)$path"
}
step "swift post account Temp-URL-Key" swift post -m Temp-URL-Key:e2e-key
step "swift tempurl + curl (no token)" lines_are "hello" tempurl_fetch e2e-key
step "tempurl with another key is refused" expect_fail tempurl_fetch other-key
step "swift upload --use-slo --segment-size" bash -c "cd '$WORK/up' && \
    swift upload --use-slo --segment-size 100000 '$C3' tree/big.bin"
step "SLO has 3 segments" expect_match '^3$' bash -c "swift list '${C3}_segments' | wc -l"
step "SLO download + cmp" bash -c "swift download '$C3' tree/big.bin -o '$WORK/down/slo' && \
    cmp '$WORK/down/slo' '$WORK/up/tree/big.bin'"
step "SLO range read across segments" expect_match '^100$' slo_range_bytes
step "swift delete of the SLO removes its segments" bash -c "swift delete '$C3' tree/big.bin && \
    [ -z \"\$(swift list '${C3}_segments')\" ]"
step "swift post -H X-Versions-Location" bash -c "swift post '$V' && swift post -H 'X-Versions-Location: $V' '$C4'"
step "two versions uploaded" bash -c "cd '$WORK/up' && swift upload --object-name o '$C4' tree/a/x.txt && \
    swift upload --object-name o '$C4' tree/a/b/y.txt"
step "the old one is in the archive" expect_match '^1$' bash -c "swift list '$V' | wc -l"
step "delete restores the old version" bash -c "swift delete '$C4' o && \
    [ \"\$(swift download '$C4' o -o -)\" = hello ]"
step "container quota" swift post -H 'X-Container-Meta-Quota-Bytes: 10' "$C5"
step "upload past the quota fails (413)" expect_fail --match '413' \
    bash -c "cd '$WORK/up' && swift upload '$C5' tree/big.bin 2>&1; false"
step "extract-archive (tar) with curl" expect_match 'Number Files Created: 4' extract_tar
step "extracted objects listed" expect_match '^4$' bash -c "swift list '$C6' | wc -l"
# swift deletes a container's objects with ?bulk-delete when /info offers it.
step "swift delete the middleware containers (bulk delete)" bash -c "for c in '$C3' '${C3}_segments' \
    '$C4' '$V' '$C5' '$C6'; do swift delete \"\$c\" || exit 1; done"
step "they are gone" expect_fail swift stat "$C6"

# --- clean-up ----------------------------------------------------------------
step "swift delete (objects and container)" swift delete "$C"
step "the container is gone" expect_fail swift stat "$C"

e2e_finish
