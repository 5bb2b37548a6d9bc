#!/bin/bash
# Runs every guest kernel under QEMU and checks its serial output and exit
# status. Usage: Tests/Guests/check-qemu.sh [tcg|kvm] [OUT-dir]
# (kvm uses -cpu qemu64: on the PVM host, -cpu host does not work.)
# QEMU boots the kernels through SeaBIOS, so the serial stream starts with
# firmware noise; everything up to "Booting from ROM.." is dropped.
set -u
ACCEL=${1:-tcg}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$(cd "$HERE/../.." && pwd)/.build/guests}
make -s -C "$HERE" OUT="$OUT" || exit 1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAIL=0
QEMU=(qemu-system-x86_64 -M pc -accel "$ACCEL" -cpu qemu64 -m 256 -nographic -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=0x04)

# guest_lines FILE: the kernel's own output lines. The firmware's progress dots
# ("Booting from ROM.." + sometimes more dots, no newline) are dropped (no kernel
# line starts with '.' or is empty); the number of e820 entries differs between
# TCG and KVM, so it is masked.
guest_lines() {
    tr -d '\r' < "$1" | sed -n '/Booting from ROM\.\./,$p' |
        sed -e 's/.*Booting from ROM//' -e 's/^\.*//' -e '/^$/d' \
            -e 's/^mmap: [0-9]* entries/mmap: N entries/'
}

# wait_for TEXT FILE: wait (at most 60 s) until FILE contains TEXT
wait_for() {
    for _ in $(seq 300); do grep -q "$1" "$2" 2> /dev/null && return 0; sleep 0.2; done
    return 1
}

# check NAME WANT_STATUS GOT_STATUS EXPECTED_FILE OUTPUT_FILE
check() {
    if diff -u "$4" <(guest_lines "$5") > "$TMP/diff" && [ "$3" = "$2" ]; then
        echo "PASS $1 (status $3)"
    else
        echo "FAIL $1 (status $3, want $2)"; cat "$TMP/diff"; FAIL=1
        echo "--- raw tail:"; tail -c 400 "$5" | cat -A; echo
    fi
}

# run NAME WANT_STATUS EXPECTED_TEXT QEMU-ARGS... (stdin of qemu = stdin of run)
run() {
    local name=$1 want=$2; printf '%s' "$3" > "$TMP/want"; shift 3
    timeout 120 "${QEMU[@]}" -monitor none -serial stdio "$@" > "$TMP/out" 2> "$TMP/err"
    check "$name" "$want" $? "$TMP/want" "$TMP/out"
}

printf 'Hello module one with text\n' > "$TMP/mod1.txt"
printf '\000\001binary\377stuff' > "$TMP/mod2.bin"
run hello 7 "hello: multiboot ok
cmdline: $OUT/hello.elf foo exit=3
mem: lower=639 upper=260992
mmap: N entries, ram=255 MiB, above4g=0 MiB
fwcfg: ram=256 cpus=2
modules: 2
module: 27 bytes, first=Hello module one
module: 14 bytes, first=..binary.stuff
" -smp 2 -kernel "$OUT/hello.elf" -append 'foo exit=3' -initrd "$TMP/mod1.txt,$TMP/mod2.bin" < /dev/null

for n in 1 2 4; do
    want="cpu 0 up
"
    for ((i = 1; i < n; i++)); do want+="cpu $i up
"; done
    # APs may print in any order: compare sorted
    timeout 120 "${QEMU[@]}" -monitor none -serial stdio -smp $n -kernel "$OUT/smp.elf" > "$TMP/out" 2> "$TMP/err" < /dev/null
    st=$?
    printf '%ssmp: %d of %d cpus up\n' "$want" $n $n | sort > "$TMP/want"
    guest_lines "$TMP/out" | sort > "$TMP/sorted"
    if [ $st = 1 ] && diff -u "$TMP/want" "$TMP/sorted" > "$TMP/diff"; then echo "PASS smp -smp $n (status $st)"
    else echo "FAIL smp -smp $n (status $st, want 1)"; cat "$TMP/diff"; FAIL=1; fi
done

run timer 1 "timer: lapic ok
timer: pit ok
" -kernel "$OUT/timer.elf" < /dev/null

# echo: input arrives through the UART receive interrupt. Send it only once the
# kernel is ready: SeaBIOS/iPXE would otherwise swallow it while booting.
rm -f "$TMP/out"
run echo 1 "echo: ready
echo: hello world
echo: second line
echo: bye
" -kernel "$OUT/echo.elf" < <(wait_for 'echo: ready' "$TMP/out"; printf 'hello world\r\nsecond line\nquit\n')

# QEMU's PIIX4 DSDT has _S5_ = 0 and PM1a_CNT at 0x604; poweroff exits QEMU with 0
run acpi-poweroff 0 "acpi: fadt pm1a_cnt=0x604 s5=0
acpi: powering off
" -kernel "$OUT/acpi-poweroff.elf" < /dev/null

# power-button: wait for "waiting", then system_powerdown via the monitor
rm -f "$TMP/out"
timeout 120 "${QEMU[@]}" -serial "file:$TMP/out" -monitor "unix:$TMP/mon.sock,server,nowait" \
    -kernel "$OUT/power-button.elf" > /dev/null 2> "$TMP/err" < /dev/null &
pid=$!
wait_for 'power-button: waiting' "$TMP/out"
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(0.2); s.recv(4096)
s.sendall(b"system_powerdown\n"); time.sleep(0.5)' "$TMP/mon.sock"
wait $pid; st=$?
# SeaBIOS under TCG leaves SCI_EN clear; the kernel then enables ACPI via SMI_CMD
if guest_lines "$TMP/out" | grep -q 'sci_en=0'; then
    printf 'power-button: sci_en=0\npower-button: acpi enable via smi_cmd, sci_en=1\n' > "$TMP/want"
else
    printf 'power-button: sci_en=1\n' > "$TMP/want"
fi
printf 'power-button: waiting\npower-button: pressed\npower-button: powering off\n' >> "$TMP/want"
check power-button 0 $st "$TMP/want" "$TMP/out"

# fault: a triple fault resets; with -no-reboot QEMU exits 0
run fault 0 "fault: triple faulting
" -kernel "$OUT/fault.elf" < /dev/null

run pio-exits 1 "pio-exits: done 100000
" -kernel "$OUT/pio-exits.elf" -append 'count=100000' < /dev/null
run mmio-exits 1 "mmio-exits: done 100000
" -kernel "$OUT/mmio-exits.elf" -append 'count=100000' < /dev/null

if [ $FAIL = 0 ]; then echo "all passed ($ACCEL)"; else echo "some FAILED ($ACCEL)"; fi
exit $FAIL
