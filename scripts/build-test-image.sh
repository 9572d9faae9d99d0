#!/usr/bin/env bash
# build-test-image.sh OUTDIR
#
# Builds the oxistack test guest: a tiny CirrOS-like guest made only from
# Debian packages (the Debian cloud kernel + busybox-static), as a direct-boot
# kernel + initramfs pair for QEMU (-kernel/-initrd, "console=ttyS0").
# It is used by the qemu hypervisor driver tests and by
# `oxistack up --with-test-image`; it needs no network access except the
# Debian package mirror, and boots to userspace in a few seconds under TCG.
#
# Outputs (written via temporary names + rename):
#   OUTDIR/vmlinuz     the kernel of the newest linux-image-*-cloud-amd64
#   OUTDIR/initrd.img  gzip'd newc cpio: busybox, a few modules, /init
#   OUTDIR/MANIFEST    key=value: package names/versions, sha256 of both files
# If OUTDIR already holds both files and a MANIFEST that matches them (and was
# made by this exact script), the script exits 0 at once.
#
# The guest's /init prints these lines to the console (ttyS0), in order:
#   oxistack-test-guest: boot
#   oxistack-test-guest: hostname=<hostname> uuid=<uuid>   | ...: no metadata
#   <output of user_data, if it starts with #!>
#   oxistack-test-guest: user-data exit=<code>             (only if run)
#   oxistack-test-guest: dhcp ok <ip> | ...: dhcp failed   (only if eth0)
#   oxistack-test-guest: ready
# The config drive is an ISO9660 filesystem labelled "config-2" on a virtio
# disk (or a virtio-scsi CD-ROM); the root disk is not used. ACPI power button
# (QMP system_powerdown) powers the guest off, so QEMU exits.
#
# Host requirements: bash, apt-get/apt-cache, dpkg-deb, gzip, sha256sum.
# No host cpio needed: the archive is written by the downloaded busybox.
# Nothing is installed on the host; packages are only unpacked with dpkg -x.
set -euo pipefail

log() { echo "build-test-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUTDIR=$1
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

SELF=$(readlink -f "${BASH_SOURCE[0]}")
RECIPE_SHA=$(sha256sum "$SELF" | cut -d' ' -f1)

# Modules loaded at boot, in this order (dependencies are added automatically,
# anything missing from the kernel package is skipped with a warning).
BOOT_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
failover net_failover virtio_net virtio_blk button evdev cdrom isofs"
# Loaded only if no config drive is found on a virtio disk (config drive as a
# virtio-scsi CD-ROM, /dev/sr0). The cloud kernel has no AHCI driver.
LATE_MODULES="scsi_common scsi_mod virtio_scsi sr_mod"

manifest_matches() {
    local m="$OUTDIR/MANIFEST"
    [ -f "$m" ] && [ -f "$OUTDIR/vmlinuz" ] && [ -f "$OUTDIR/initrd.img" ] || return 1
    grep -qx "recipe_sha256=$RECIPE_SHA" "$m" || return 1
    grep -qx "vmlinuz_sha256=$(sha256sum "$OUTDIR/vmlinuz" | cut -d' ' -f1)" "$m" || return 1
    grep -qx "initrd_sha256=$(sha256sum "$OUTDIR/initrd.img" | cut -d' ' -f1)" "$m" || return 1
}

if manifest_matches; then
    log "$OUTDIR is up to date"
    exit 0
fi

# Serialise concurrent builds into the same OUTDIR.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUTDIR/.build.lock"
    flock 9
    if manifest_matches; then
        log "$OUTDIR is up to date"
        exit 0
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oxistack-test-image.XXXXXX")
TMP_OUTS=()
cleanup() {
    rm -rf "$WORK"
    if [ ${#TMP_OUTS[@]} -gt 0 ]; then rm -f "${TMP_OUTS[@]}"; fi
}
trap cleanup EXIT

# --- resolve and download packages -------------------------------------------
APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 0 ] || return 1
    APT_UPDATED=1
    log "package lists missing or stale; running apt-get update"
    apt-get update -q >&2 || die "apt-get update failed (are you root?)"
}

resolve_kernel_pkg() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\(-unsigned\)\{0,1\}\)$/\1/p' |
        head -n1
}

KPKG=$(resolve_kernel_pkg || true)
if [ -z "$KPKG" ]; then
    apt_update_once
    KPKG=$(resolve_kernel_pkg || true)
fi
[ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
log "kernel package: $KPKG"

DL="$WORK/debs"
mkdir -p "$DL"
# apt-get download fetches as the unprivileged _apt user when run as root.
chmod 0755 "$WORK"
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$DL"; fi
download() {
    (cd "$DL" && apt-get download -q "$@" >&2)
}
log "downloading $KPKG busybox-static"
if ! download "$KPKG" busybox-static; then
    apt_update_once || die "apt-get download failed"
    download "$KPKG" busybox-static || die "apt-get download failed"
fi
KDEB=$(ls "$DL"/"$KPKG"_*.deb | head -n1)
BDEB=$(ls "$DL"/busybox-static_*.deb | head -n1)
KVER=$(dpkg-deb -f "$KDEB" Version)
BVER=$(dpkg-deb -f "$BDEB" Version)

log "unpacking"
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BDEB" "$WORK/busybox"
VMLINUZ=$(ls "$WORK"/kernel/boot/vmlinuz-* | head -n1)
KREL=${VMLINUZ##*/vmlinuz-}
MODDIR="$WORK/kernel/lib/modules/$KREL"
[ -d "$MODDIR" ] || die "no modules directory for $KREL"
BB="$WORK/busybox/bin/busybox"
[ -x "$BB" ] || die "busybox binary not found in busybox-static package"

# --- initramfs tree ------------------------------------------------------------
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,mnt/config,etc/acpi/PWRF,etc/udhcpc,lib/modules,var/log}
ln -s ../run "$ROOT/var/run"
cp "$BB" "$ROOT/bin/busybox"
"$BB" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    case "$applet" in
        bin/*) target=busybox ;;
        sbin/* | usr/bin/*) target=../bin/busybox ;;
        usr/sbin/*) target=../../bin/busybox ;;
        *) continue ;;
    esac
    ln -sf "$target" "$ROOT/$applet"
done

# Modules: resolve dependencies from each module's .modinfo "depends=" (the
# package ships no modules.dep) and emit them in load order.
declare -A MODPATH=() SEEN=()
while IFS= read -r f; do
    n=${f##*/}
    n=${n%.ko}
    MODPATH[$n]=$f
done < <(find "$MODDIR/kernel" -name '*.ko')
is_builtin() { grep -q "/$1\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; }
ORDER=()
add_module() {
    local n=${1//-/_} dep
    [ -z "${SEEN[$n]:-}" ] || return 0
    SEEN[$n]=1
    if [ -z "${MODPATH[$n]:-}" ]; then
        if is_builtin "$n"; then log "module $n is built in"; else log "warning: module $n not found, skipped"; fi
        return 0
    fi
    for dep in $("$BB" strings "${MODPATH[$n]}" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dep"
    done
    ORDER+=("$n")
}
for m in $BOOT_MODULES; do add_module "$m"; done
BOOT_ORDER=("${ORDER[@]}")
ORDER=()
for m in $LATE_MODULES; do add_module "$m"; done
LATE_ORDER=("${ORDER[@]}")
for n in "${BOOT_ORDER[@]}" "${LATE_ORDER[@]}"; do
    cp "${MODPATH[$n]}" "$ROOT/lib/modules/$n.ko"
done
echo "${BOOT_ORDER[*]}" >"$ROOT/etc/modules.boot"
echo "${LATE_ORDER[*]}" >"$ROOT/etc/modules.late"
log "modules: ${BOOT_ORDER[*]} (late: ${LATE_ORDER[*]})"

# ACPI power button -> busybox acpid runs /etc/acpi/PWRF/00000080.
cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
poweroff -f
EOF

cat >"$ROOT/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# minimal udhcpc event script
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound | renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
        # RFC 3442: when option 121 is present, the router option is ignored
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = 0.0.0.0 ]; then
                ip route replace "$1" dev "$interface"
            else
                ip route replace "$1" via "$2" dev "$interface" onlink
            fi
            shift 2
        done
    elif [ -n "$router" ]; then
        for r in $router; do
            ip route replace default via "$r" dev "$interface" onlink
            break
        done
    fi
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    ;;
esac
exit 0
EOF

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# oxistack test guest init (see scripts/build-test-image.sh)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
dmesg -n 1 2>/dev/null  # keep kernel messages from interleaving with ours
say() { echo "oxistack-test-guest: $*"; }

for m in $(cat /etc/modules.boot); do insmod /lib/modules/$m.ko 2>/dev/null; done
ip link set lo up 2>/dev/null
hostname -F /etc/hostname
say boot

# acpid needs /var/log and /var/run; it watches /dev/input/event* (button+evdev).
acpid -c /etc/acpi

# Config drive: ISO9660 labelled config-2 on a virtio disk (or CD-ROM).
is_config_drive() {
    [ "$(dd if="$1" bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ] || return 1
    case "$(dd if="$1" bs=1 skip=32808 count=32 2>/dev/null)" in
        "config-2 "* | "CONFIG-2 "*) return 0 ;;
    esac
    return 1
}
find_config_drive() {
    for d in /dev/vd[a-z] /dev/sr[0-9]; do
        [ -b "$d" ] && is_config_drive "$d" && { echo "$d"; return 0; }
    done
    return 1
}
CFG=$(find_config_drive)
if [ -z "$CFG" ]; then
    for m in $(cat /etc/modules.late); do insmod /lib/modules/$m.ko 2>/dev/null; done
    # SCSI scanning is asynchronous: give a virtio-scsi CD-ROM a moment.
    i=0
    while [ -z "$CFG" ] && [ $i -lt 20 ] && ls /sys/bus/virtio/drivers/virtio_scsi 2>/dev/null | grep -q '^virtio'; do
        sleep 0.1; i=$((i + 1))
        CFG=$(find_config_drive)
    done
fi
META=/mnt/config/openstack/latest/meta_data.json
if [ -n "$CFG" ] && mount -t iso9660 -o ro "$CFG" /mnt/config 2>/dev/null && [ -f "$META" ]; then
    field() {
        tr ',{}' '\n\n\n' <"$META" |
            sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" | head -n1
    }
    H=$(field hostname)
    U=$(field uuid)
    [ -n "$H" ] && hostname "$H"
    say "hostname=$H uuid=$U"
    UD=/mnt/config/openstack/latest/user_data
    if [ -f "$UD" ] && [ "$(head -c 2 "$UD")" = '#!' ]; then
        cp "$UD" /tmp/user_data
        chmod +x /tmp/user_data
        /tmp/user_data </dev/null
        say "user-data exit=$?"
    fi
else
    say "no metadata"
fi

if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    if udhcpc -i eth0 -n -q -t 3 -T 1 -O staticroutes -s /etc/udhcpc/default.script >/dev/null 2>&1; then
        IP=$(ip -4 -o addr show dev eth0 | sed -n 's/.* inet \([0-9.]*\).*/\1/p' | head -n1)
        say "dhcp ok $IP"
    else
        say "dhcp failed"
    fi
fi

say ready

# Stay up: a shell on the console, restarted if it exits. PID 1 never exits.
while :; do
    setsid cttyhack sh -l
    sleep 1
done
EOF
chmod 0755 "$ROOT/init" "$ROOT/etc/acpi/PWRF/00000080" "$ROOT/etc/udhcpc/default.script"
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
echo 'root:x:0:' >"$ROOT/etc/group"
echo 'oxistack-guest' >"$ROOT/etc/hostname"
echo 'export PS1="\h # "' >"$ROOT/etc/profile"

# --- archive + outputs ---------------------------------------------------------
log "writing initramfs"
T_VMLINUZ="$OUTDIR/.vmlinuz.tmp.$$"
T_INITRD="$OUTDIR/.initrd.img.tmp.$$"
T_MANIFEST="$OUTDIR/.MANIFEST.tmp.$$"
TMP_OUTS=("$T_VMLINUZ" "$T_INITRD" "$T_MANIFEST")
# Fixed mtimes/inodes/owner: the archive is reproducible for the same packages.
find "$ROOT" -exec touch -h -d @0 {} +
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
    "$BB" cpio -o -H newc -R 0:0 --renumber-inodes --ignore-devno 2>/dev/null) |
    gzip -9 -n >"$T_INITRD"
cp "$VMLINUZ" "$T_VMLINUZ"
chmod 0644 "$T_VMLINUZ" "$T_INITRD"

{
    echo "# oxistack test guest image, made by scripts/build-test-image.sh"
    echo "recipe_sha256=$RECIPE_SHA"
    echo "kernel_package=$KPKG"
    echo "kernel_version=$KVER"
    echo "kernel_release=$KREL"
    echo "busybox_package=busybox-static"
    echo "busybox_version=$BVER"
    echo "modules=${BOOT_ORDER[*]} ${LATE_ORDER[*]}"
    echo "vmlinuz_sha256=$(sha256sum "$T_VMLINUZ" | cut -d' ' -f1)"
    echo "initrd_sha256=$(sha256sum "$T_INITRD" | cut -d' ' -f1)"
} >"$T_MANIFEST"

rm -f "$OUTDIR/MANIFEST"
mv -f "$T_VMLINUZ" "$OUTDIR/vmlinuz"
mv -f "$T_INITRD" "$OUTDIR/initrd.img"
mv -f "$T_MANIFEST" "$OUTDIR/MANIFEST"
TMP_OUTS=()
log "done: $OUTDIR (kernel $KREL, initrd $(stat -c %s "$OUTDIR/initrd.img") bytes)"
