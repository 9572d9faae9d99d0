#!/usr/bin/env bash
# tests/e2e/object-cli.sh - the real `swift` and `openstack container/object`
# clients against the object storage of a fresh `oxistack up`: upload a
# tree, list with prefixes and delimiters, download and byte-compare,
# metadata, public read without a token, and clean-up (deletes are steps).
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

# --- clean-up ----------------------------------------------------------------
step "swift delete (objects and container)" swift delete "$C"
step "the container is gone" expect_fail swift stat "$C"

e2e_finish
