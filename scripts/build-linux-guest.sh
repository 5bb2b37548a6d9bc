#!/usr/bin/env bash
# Build vmm's minimal Linux guest: a small 6.1 kernel (vmlinux with the PVH note, and
# bzImage) plus an uncompressed busybox initramfs.
#
# Usage: scripts/build-linux-guest.sh
#   Prints the output folder as the last line of stdout; progress goes to stderr.
#
# Environment:
#   VMM_GUEST_CACHE       cache folder (default /var/cache/vmm/guests)
#   VMM_GUEST_JOBS        parallel make jobs (default: nproc)
#   VMM_GUEST_KEEP_BUILD  1 = keep the kernel build tree after a build
#
# Output: ${VMM_GUEST_CACHE}/linux-<hash>/{vmlinux,bzImage,initramfs.cpio,config,build.log}
# and the symlink ${VMM_GUEST_CACHE}/linux-current -> linux-<hash>. <hash> covers
# guests/linux/{guest.config,no-int3-selftest.patch,init}, this script, and the
# installed linux-source-6.1 and busybox-static package versions: if that folder is
# complete, nothing is rebuilt. Inputs come from the repository and Debian packages
# only.
set -euo pipefail

die() { echo "build-linux-guest: error: $*" >&2; exit 1; }
say() { echo "build-linux-guest: $*" >&2; }

script_path=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$script_path")/.." && pwd)
guest_dir="$repo/guests/linux"
fragment="$guest_dir/guest.config"
patch_file="$guest_dir/no-int3-selftest.patch"
init_script="$guest_dir/init"
src_tarball=/usr/src/linux-source-6.1.tar.xz
busybox=/bin/busybox
cache="${VMM_GUEST_CACHE:-/var/cache/vmm/guests}"

# --- Inputs ---------------------------------------------------------------------------
for f in "$fragment" "$patch_file" "$init_script"; do
    [[ -f "$f" ]] || die "missing $f (run from a complete vmm checkout)"
done
src_version=$(dpkg-query -W -f='${Status} ${Version}' linux-source-6.1 2>/dev/null || true)
[[ "$src_version" == "install ok installed "* && -f "$src_tarball" ]] \
    || die "linux-source-6.1 is not installed: apt-get install linux-source-6.1"
src_version=${src_version##* }
bb_version=$(dpkg-query -W -f='${Status} ${Version}' busybox-static 2>/dev/null || true)
[[ "$bb_version" == "install ok installed "* && -x "$busybox" ]] \
    || die "busybox-static is not installed: apt-get install busybox-static"
bb_version=${bb_version##* }

hash=$( {
    for f in "$fragment" "$patch_file" "$init_script" "$script_path"; do
        echo "$(basename "$f") $(sha256sum < "$f" | cut -d' ' -f1)"
    done
    echo "linux-source-6.1 $src_version"
    echo "busybox-static $bb_version"
} | sha256sum | cut -c1-12 )
name="linux-$hash"
out="$cache/$name"

is_complete() {
    [[ -s "$1/vmlinux" && -s "$1/bzImage" && -s "$1/initramfs.cpio" ]]
}
link_current() {
    ln -sfn "$name" "$cache/.linux-current.$$"
    mv -T "$cache/.linux-current.$$" "$cache/linux-current"
}

# --- Fast path: already built -----------------------------------------------------------
if is_complete "$out"; then
    [[ "$(readlink "$cache/linux-current" 2>/dev/null)" == "$name" ]] || link_current
    echo "$out"
    exit 0
fi

# --- Build ------------------------------------------------------------------------------
mkdir -p "$cache" 2>/dev/null && [[ -w "$cache" ]] \
    || die "cache folder $cache is not writable: run as root or set VMM_GUEST_CACHE"
for tool in make gcc bc bison flex patch readelf lz4 xz perl; do
    command -v "$tool" >/dev/null \
        || die "$tool not found: apt-get install build-essential bc bison flex libelf-dev libssl-dev lz4 xz-utils patch"
done
[[ -f /usr/include/libelf.h ]] || die "libelf headers missing: apt-get install libelf-dev"
[[ -f /usr/include/openssl/ssl.h ]] || die "OpenSSL headers missing: apt-get install libssl-dev"

# One build at a time per cache folder; a concurrent caller waits, then takes the fast path.
exec 9>"$cache/.lock"
if ! flock -n 9; then
    say "another build holds $cache/.lock; waiting"
    flock 9
fi
if is_complete "$out"; then
    link_current
    echo "$out"
    exit 0
fi

log="$cache/$name.build.log"
work=$(mktemp -d "$cache/.$name.build.XXXXXX")
keep_build=${VMM_GUEST_KEEP_BUILD:-0}
cleanup() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        say "FAILED (exit $rc); log: $log"
        [[ "$keep_build" == 1 ]] && say "build tree kept: $work" || rm -rf "$work"
    fi
}
trap cleanup EXIT
: > "$log"
start=$SECONDS
jobs=${VMM_GUEST_JOBS:-$(nproc)}
say "building $name in $work (log: $log)"
{
    echo "vmm minimal Linux guest $name, $(date -u +%FT%TZ)"
    echo "linux-source-6.1 $src_version, busybox-static $bb_version"
} >> "$log"

say "extracting $src_tarball"
tar -xJf "$src_tarball" -C "$work" >> "$log" 2>&1 || die "extracting $src_tarball failed (see $log)"
ksrc="$work/linux-source-6.1"
[[ -f "$ksrc/Makefile" ]] || die "$src_tarball has no linux-source-6.1/Makefile"

say "patching out int3_selftest()"
alt="$ksrc/arch/x86/kernel/alternative.c"
patch -d "$ksrc" -p1 --forward --batch --no-backup-if-mismatch < "$patch_file" >> "$log" 2>&1 \
    || die "$(basename "$patch_file") did not apply to linux-source-6.1 $src_version (see $log)"
# Verify: exactly one call to int3_selftest() remains, and it is under "if (0)".
calls=$(grep -nE '^[[:space:]]*int3_selftest\(\);' "$alt" | cut -d: -f1 || true)
[[ -n "$calls" && "$calls" != *$'\n'* ]] \
    || die "patch check: expected one int3_selftest() call in $alt, found: ${calls:-none}"
prev=$(sed -n "$((calls - 1))p" "$alt")
[[ "$prev" =~ ^[[:space:]]*if\ \(0\)$ ]] \
    || die "int3_selftest() is still called unconditionally in $alt (line $calls)"

kmake() { make -C "$ksrc" -j"$jobs" "$@" >> "$log" 2>&1; }

say "make tinyconfig"
kmake tinyconfig || die "make tinyconfig failed (see $log)"

say "applying $(basename "$fragment")"
# Parse the fragment into NAME VALUE pairs (VALUE is y, n, m, a number or "string").
declare -a opt_names=() opt_values=()
while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    if [[ "$line" =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        opt_names+=("${BASH_REMATCH[1]}"); opt_values+=(n); continue
    fi
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    [[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]] \
        || die "$(basename "$fragment"): cannot parse line: $line"
    opt_names+=("${BASH_REMATCH[1]}"); opt_values+=("${BASH_REMATCH[2]}")
done < "$fragment"
[[ ${#opt_names[@]} -gt 0 ]] || die "$(basename "$fragment") has no options"

cfg=("$ksrc/scripts/config" --file "$ksrc/.config")
for i in "${!opt_names[@]}"; do
    n=${opt_names[$i]#CONFIG_}; v=${opt_values[$i]}
    case "$v" in
        y) "${cfg[@]}" --enable "$n" ;;
        n) "${cfg[@]}" --disable "$n" ;;
        m) "${cfg[@]}" --module "$n" ;;
        \"*\") v=${v#\"}; v=${v%\"}; "${cfg[@]}" --set-str "$n" "$v" ;;
        *) "${cfg[@]}" --set-val "$n" "$v" ;;
    esac
done
kmake olddefconfig || die "make olddefconfig failed (see $log)"

say "checking that every option of $(basename "$fragment") stuck"
missing=()
for i in "${!opt_names[@]}"; do
    n=${opt_names[$i]}; v=${opt_values[$i]}
    case "$v" in
        n) if grep -q "^$n=" "$ksrc/.config"; then
               missing+=("$n=n (got $(grep "^$n=" "$ksrc/.config" | cut -d= -f2-))")
           fi ;;
        *) if ! grep -qxF "$n=$v" "$ksrc/.config"; then
               got=$(grep "^$n=" "$ksrc/.config" | cut -d= -f2- || true)
               missing+=("$n=$v (got ${got:-not set})")
           fi ;;
    esac
done
if [[ ${#missing[@]} -gt 0 ]]; then
    for m in "${missing[@]}"; do echo "build-linux-guest: option did not stick: $m" >&2; done
    die "${#missing[@]} option(s) of $(basename "$fragment") did not stick (unmet dependencies?)"
fi

say "make -j$jobs vmlinux bzImage (about 10 minutes on 2 cores)"
kmake vmlinux bzImage || die "kernel build failed (see $log; tail: $(tail -n 1 "$log"))"

# The PVH entry point is the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 18).
readelf -n "$ksrc/vmlinux" 2>/dev/null | grep -A3 '^ *Xen' \
    | grep -qiE 'PHYS32_ENTRY|0x00000012|type: 0x12' \
    || die "vmlinux has no PVH note (XEN_ELFNOTE_PHYS32_ENTRY); is CONFIG_PVH=y?"

say "building initramfs.cpio (busybox-static $bb_version)"
stage="$work/out"
mkdir -p "$stage"
gen="$ksrc/usr/gen_init_cpio"
if [[ ! -x "$gen" ]]; then
    gcc -O2 -o "$work/gen_init_cpio" "$ksrc/usr/gen_init_cpio.c" >> "$log" 2>&1 \
        || die "cannot build gen_init_cpio (see $log)"
    gen="$work/gen_init_cpio"
fi
list="$work/initramfs.list"
{
    for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /root /etc; do
        echo "dir $d 0755 0 0"
    done
    echo "nod /dev/console 0600 0 0 c 5 1"
    echo "nod /dev/null 0666 0 0 c 1 3"
    echo "file /bin/busybox $busybox 0755 0 0"
    echo "file /init $init_script 0755 0 0"
    # One symlink per applet, where busybox would install it (bin/sh, sbin/poweroff, ...).
    "$busybox" --list-full | sort -u | while read -r applet; do
        [[ "$applet" == bin/busybox ]] && continue
        echo "slink /$applet /bin/busybox 0777 0 0"
    done
} > "$list"
grep -qx 'slink /bin/sh /bin/busybox 0777 0 0' "$list" || die "busybox has no sh applet"
# -t 0: fixed timestamps so the archive is reproducible.
"$gen" -t 0 "$list" > "$stage/initramfs.cpio" 2>> "$log" || die "gen_init_cpio failed (see $log)"

cp "$ksrc/vmlinux" "$stage/vmlinux"
cp "$ksrc/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$ksrc/.config" "$stage/config"
{
    echo "hash $hash"
    for f in "$fragment" "$patch_file" "$init_script" "$script_path"; do
        echo "$(basename "$f") $(sha256sum < "$f" | cut -d' ' -f1)"
    done
    echo "linux-source-6.1 $src_version"
    echo "busybox-static $bb_version"
    echo "kernel $(make -s -C "$ksrc" kernelrelease 2>/dev/null || echo unknown)"
    echo "built $(date -u +%FT%TZ) in $((SECONDS - start)) s"
} > "$stage/manifest"

# Publish atomically: the folder appears only when complete.
rm -rf "$out"
mv "$stage" "$out"
mv "$log" "$out/build.log"
log="$out/build.log"
if [[ "$keep_build" == 1 ]]; then
    say "build tree kept: $work"
else
    rm -rf "$work"
fi
link_current
say "done in $((SECONDS - start)) s: vmlinux $(stat -c %s "$out/vmlinux") B, bzImage $(stat -c %s "$out/bzImage") B, initramfs.cpio $(stat -c %s "$out/initramfs.cpio") B"
echo "$out"
