#!/usr/bin/env bash
# Builds the libFuzzer targets with AddressSanitizer and runs each for a bounded number of
# inputs (default 100000; FUZZ_RUNS overrides). Exits non-zero on the first crash.
#   Fuzz/run.sh [extra libFuzzer options]
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/opt/swift/usr/bin"
runs="${FUZZ_RUNS:-100000}"
# lld, because gold crashes on the sanitizer runtime's symbols.
swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
for fuzzer in VirtqueueFuzzer; do
    corpus="corpus/$fuzzer"
    mkdir -p "$corpus"
    echo "fuzz: $fuzzer, $runs inputs"
    # New inputs go to corpus/ (not kept in git); seeds/ holds well-formed requests to start from.
    ".build/debug/$fuzzer" -runs="$runs" -max_len=4096 -seed=1 "$@" "$corpus" "seeds/$fuzzer"
done
