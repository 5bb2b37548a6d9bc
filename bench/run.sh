#!/usr/bin/env bash
# vmm benchmarks: exit cost, start-up and memory of vmm vs. a C KVM_RUN loop vs. QEMU.
# Usage: bash bench/run.sh            (about 7-8 minutes on 2 cores with PVM /dev/kvm)
# Environment: COUNT (exits per run, default 1000000), RUNS (runs per exit measurement,
# default 5), MEM_RUNS (default 5), QEMU=0 to skip QEMU, SKIP_BUILD=1 to reuse binaries.
# Writes bench/results-latest.md. A benchmark, not a test: nothing here fails on a goal.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SCRATCH="$ROOT/.build-bench"          # own scratch folder: no fight over .build's lock
COUNT="${COUNT:-1000000}"
RUNS="${RUNS:-5}"
MEM_RUNS="${MEM_RUNS:-5}"
QEMU="${QEMU:-1}"

VMM="$SCRATCH/release/vmm"
KVM_LOOP="$SCRATCH/bench/kvm-loop"
GUESTS="$SCRATCH/guests"              # bench/guests: exit-now
TEST_GUESTS="$SCRATCH/test-guests"    # Tests/Guests: hello, echo, pio-exits, mmio-exits

for tool in hyperfine gcc make python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
[[ -r /dev/kvm && -w /dev/kvm ]] || { echo "run.sh: /dev/kvm not accessible" >&2; exit 1; }
if [[ "$QEMU" == 1 ]] && ! command -v qemu-system-x86_64 >/dev/null; then
    echo "run.sh: qemu-system-x86_64 not found; continuing without QEMU" >&2
    QEMU=0
fi

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "== building vmm (release, static Swift stdlib) in $SCRATCH" >&2
    (cd "$ROOT" && swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" >&2)
    echo "== building kvm-loop and guest kernels" >&2
    mkdir -p "$(dirname "$KVM_LOOP")"
    gcc -O2 -Wall -Wextra -o "$KVM_LOOP" "$HERE/kvm-loop.c"
    make -s -C "$ROOT/Tests/Guests" OUT="$TEST_GUESTS" >&2
    make -s -C "$HERE/guests" OUT="$GUESTS" >&2
fi

args=(--vmm "$VMM" --kvm-loop "$KVM_LOOP" --guests "$GUESTS" --test-guests "$TEST_GUESTS"
      --count "$COUNT" --runs "$RUNS" --mem-runs "$MEM_RUNS" --out "$HERE/results-latest.md")
[[ "$QEMU" == 1 ]] || args+=(--no-qemu)
python3 "$HERE/measure.py" "${args[@]}"
echo "== wrote $HERE/results-latest.md" >&2
if command -v valgrind >/dev/null; then
    python3 "$HERE/exit-instructions.py" --vmm "$VMM" --kvm-loop "$KVM_LOOP" --test-guests "$TEST_GUESTS" \
        --out "$HERE/results-exit-instructions-latest.md"
    echo "== wrote $HERE/results-exit-instructions-latest.md" >&2
else
    echo "run.sh: valgrind not found; skipping instructions per exit" >&2
fi
