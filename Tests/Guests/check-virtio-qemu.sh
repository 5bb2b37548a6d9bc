#!/bin/bash
# Runs virtio.elf under QEMU with modern (disable-legacy=on) virtio-pci devices
# and checks its serial output, exit status and the disk image it wrote.
# Usage: Tests/Guests/check-virtio-qemu.sh [tcg|kvm] [OUT-dir]
# The net test needs root: it creates a network namespace vt<pid> holding a tap
# device and a small AF_PACKET responder, runs QEMU inside it and deletes it
# afterwards (no traffic leaves the namespace). Without root it is skipped and
# the default run expects "net: no device".
set -u
ACCEL=${1:-tcg}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$(cd "$HERE/../.." && pwd)/.build/guests}
make -s -C "$HERE" OUT="$OUT" || exit 1
TMP=$(mktemp -d)
NS=vt$$
RESPONDER=
cleanup() {
    [ -n "$RESPONDER" ] && kill "$RESPONDER" 2> /dev/null
    ip netns list 2> /dev/null | grep -qw "$NS" && ip netns del "$NS"
    rm -rf "$TMP"
}
trap cleanup EXIT
FAIL=0
QEMU=(qemu-system-x86_64 -M pc -accel "$ACCEL" -cpu qemu64 -m 256 -nographic -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=0x04 -monitor none -serial stdio -nic none)
KERNEL=(-kernel "$OUT/virtio.elf")
RNG=(-device virtio-rng-pci,disable-legacy=on,addr=5)

# the kernel's own lines (SeaBIOS output up to "Booting from ROM.." dropped)
guest_lines() {
    tr -d '\r' < "$1" | sed -n '/Booting from ROM\.\./,$p' |
        sed -e 's/.*Booting from ROM//' -e 's/^\.*//' -e '/^$/d'
}

# check NAME WANT_STATUS GOT_STATUS EXPECTED_TEXT OUTPUT_FILE
check() {
    printf '%s' "$4" > "$TMP/want"
    if diff -u "$TMP/want" <(guest_lines "$5") > "$TMP/diff" && [ "$3" = "$2" ]; then
        echo "PASS $1 (status $3)"
    else
        echo "FAIL $1 (status $3, want $2)"; cat "$TMP/diff"; FAIL=1
        echo "--- stderr:"; cat "$TMP/err"
    fi
}

# disk image: 1 MiB, sector 0 starts with a known text
mkdisk() {
    python3 -c 'import sys; open(sys.argv[1], "wb").write(b"VMM-VIRTIO-DISK0" + bytes(1024 * 1024 - 16))' "$1"
}

# sectors 1..8 must hold "vmm-virtio-blk sector <n>\n" followed by bytes (i + n) & 255
check_pattern() {
    if python3 - "$1" << 'EOF'
import sys
d = open(sys.argv[1], "rb").read()
for s in range(1, 9):
    b = d[s * 512:(s + 1) * 512]
    t = b"vmm-virtio-blk sector %d\n" % s
    assert b[:len(t)] == t and all(b[i] == (i + s) & 255 for i in range(len(t), 512)), s
EOF
    then echo "PASS blk pattern on disk"; else echo "FAIL blk pattern on disk"; FAIL=1; fi
}

BLK_LINES="blk: capacity 2048 sectors
blk: sector0 VMM-VIRTIO-DISK0
blk: write ok
blk: flush ok
blk: read back ok
blk: id vmm-test-disk
"

# --- default run: blk + net + rng (net inside a namespace when root) ---
mkdisk "$TMP/disk.img"
BLK=(-drive "if=none,id=d0,file=$TMP/disk.img,format=raw"
     -device virtio-blk-pci,disable-legacy=on,addr=4,drive=d0,serial=vmm-test-disk)
if [ "$(id -u)" = 0 ] && command -v ip > /dev/null && ip netns add "$NS" 2> /dev/null; then
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip tuntap add dev vtap0 mode tap
    ip netns exec "$NS" ip link set vtap0 up
    # responder: waits for the guest's 0x88b5 frame, records its payload, replies
    ip netns exec "$NS" python3 -c '
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind(("vtap0", 0x88b5))
s.settimeout(120)
while True:
    f, addr = s.recvfrom(2048)
    if addr[2] == socket.PACKET_OUTGOING or len(f) < 14:
        continue
    open(sys.argv[1], "wb").write(f[14:].rstrip(b"\0"))
    reply = f[6:12] + bytes.fromhex("020000000002") + b"\x88\xb5" + b"hello-from-host"
    s.send(reply + bytes(max(0, 60 - len(reply))))
    break' "$TMP/guest-payload" &
    RESPONDER=$!
    sleep 0.5
    ip netns exec "$NS" timeout 120 "${QEMU[@]}" "${KERNEL[@]}" "${BLK[@]}" "${RNG[@]}" \
        -netdev tap,id=n0,ifname=vtap0,script=no,downscript=no \
        -device virtio-net-pci,disable-legacy=on,addr=6,netdev=n0,mac=52:54:00:12:34:56 \
        > "$TMP/out" 2> "$TMP/err" < /dev/null
    st=$?
    check "virtio test=all (blk, net, rng)" 1 $st "virtio: 00:04.0 blk 1af4:1042
virtio: 00:05.0 rng 1af4:1044
virtio: 00:06.0 net 1af4:1041
${BLK_LINES}net: mac 52:54:00:12:34:56
net: sent
net: received hello-from-host
rng: 32 bytes
virtio: done
" "$TMP/out"
    got=$(cat "$TMP/guest-payload" 2> /dev/null)
    if [ "$got" = "vmm-virtio-net-test from 52:54:00:12:34:56" ]; then echo "PASS net frame seen by host ($got)"
    else echo "FAIL net frame seen by host: '$got'"; FAIL=1; fi
    wait "$RESPONDER" 2> /dev/null; RESPONDER=
    ip netns del "$NS"
else
    echo "SKIP net (needs root and ip netns)"
    timeout 120 "${QEMU[@]}" "${KERNEL[@]}" "${BLK[@]}" "${RNG[@]}" > "$TMP/out" 2> "$TMP/err" < /dev/null
    check "virtio test=all (blk, rng)" 1 $? "virtio: 00:04.0 blk 1af4:1042
virtio: 00:05.0 rng 1af4:1044
${BLK_LINES}net: no device
rng: 32 bytes
virtio: done
" "$TMP/out"
fi
check_pattern "$TMP/disk.img"

# --- read-only disk: the write must fail with IOERR; no serial: empty id ---
mkdisk "$TMP/ro.img"
timeout 120 "${QEMU[@]}" "${KERNEL[@]}" -append test=blk \
    -drive "if=none,id=d0,file=$TMP/ro.img,format=raw,readonly=on" \
    -device virtio-blk-pci,disable-legacy=on,addr=4,drive=d0 > "$TMP/out" 2> "$TMP/err" < /dev/null
check "virtio test=blk read-only" 1 $? "virtio: 00:04.0 blk 1af4:1042
blk: capacity 2048 sectors
blk: read-only
blk: sector0 VMM-VIRTIO-DISK0
blk: read-only write rejected
blk: id 
virtio: done
" "$TMP/out"

# --- test=rng alone; test=blk without a blk device fails ---
timeout 120 "${QEMU[@]}" "${KERNEL[@]}" -append test=rng "${RNG[@]}" > "$TMP/out" 2> "$TMP/err" < /dev/null
check "virtio test=rng" 1 $? "virtio: 00:05.0 rng 1af4:1044
rng: 32 bytes
virtio: done
" "$TMP/out"
timeout 120 "${QEMU[@]}" "${KERNEL[@]}" -append test=blk "${RNG[@]}" > "$TMP/out" 2> "$TMP/err" < /dev/null
check "virtio test=blk without a device" 3 $? "virtio: 00:05.0 rng 1af4:1044
FAIL blk: no device
" "$TMP/out"

# --- hostile modes: QEMU's reactions are printed, only recovery is asserted ---
MODES="loop long oob oob32 straddle huge direction size early index indirect nested"
mkdisk "$TMP/h.img"
timeout 300 "${QEMU[@]}" "${KERNEL[@]}" -append hostile=all \
    -drive "if=none,id=d0,file=$TMP/h.img,format=raw" \
    -device virtio-blk-pci,disable-legacy=on,addr=4,drive=d0 > "$TMP/out" 2> "$TMP/err" < /dev/null
st=$?
want="virtio: 00:04.0 blk 1af4:1042
"
for m in $MODES; do want+="hostile $m: device works after reset
"; done
want+="virtio: done
"
guest_lines "$TMP/out" | awk '!/^hostile / || /: device works after reset$/' > "$TMP/filtered"
if [ $st = 1 ] && diff -u <(printf '%s' "$want") "$TMP/filtered" > "$TMP/diff"; then
    echo "PASS virtio hostile=all (status $st); observed:"
else
    echo "FAIL virtio hostile=all (status $st, want 1)"; cat "$TMP/diff"; FAIL=1
fi
guest_lines "$TMP/out" | grep '^hostile' | grep -v 'device works after reset' | sed 's/^/    /'

if [ $FAIL = 0 ]; then echo "all passed ($ACCEL)"; else echo "some FAILED ($ACCEL)"; fi
exit $FAIL
