#!/usr/bin/env bash
# Writes scripts/vmm-symbol-order.txt: the functions a release `vmm` runs to start a VM
# (`echo.elf`), idle in it and stop, sorted by name. The release link (Package.swift)
# places them first and together, so start-up touches few pages of the binary instead of
# some in every 64 KiB of it (a page fault maps its whole 64 KiB neighbourhood): RSS beside
# guest RAM 5.9 → 4.4 MiB (bench/README.md, "Memory and start-up"). The order within the
# list matters too: callgrind's own order changes from run to run (4.2–4.8 MiB measured);
# sorted by name it is the same for the same functions (4.4) and diffs stay small.
#
# Run after larger changes to vmm; needs valgrind, /dev/kvm, a release vmm and the test guests:
#     swift build -c release --product vmm && make -s -C Tests/Guests OUT=$PWD/.build/guests
#     scripts/make-symbol-order.sh [VMM] [GUESTS-DIR]     # defaults .build/release/vmm .build/guests
# A stale list is harmless: the linker skips names that are gone, and functions missing
# from it only cost resident pages.
set -euo pipefail
cd "$(dirname "$0")/.."
vmm="${1:-.build/release/vmm}"
guests="${2:-.build/guests}"
out=scripts/vmm-symbol-order.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# echo.elf idles until `quit` on its console.
(sleep 3; echo quit) | timeout -s TERM 120 valgrind --tool=callgrind --demangle=no \
    --callgrind-out-file="$work/echo.out" "$vmm" run --kernel "$guests/echo.elf" --no-rng --seccomp=off \
    >/dev/null 2>"$work/echo.log" || true
[[ -s "$work/echo.out" ]] || { cat "$work/echo.log" >&2; echo "make-symbol-order: no profile" >&2; exit 1; }
python3 - "$work/echo.out" >"$out" <<'PY'
import re, sys
names = {}
for line in open(sys.argv[1]):
    m = re.match(r"^c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if m and m.group(2):
        name = m.group(2).split("'")[0]
        if name and not name.startswith(("0x", "(")):
            names.setdefault(name, None)
print("\n".join(sorted(names)))
PY
echo "make-symbol-order: $(wc -l <"$out") functions in $out" >&2
