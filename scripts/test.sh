#!/usr/bin/env bash
# Installs and builds everything the tests need and runs them: unit tests, the Multiboot
# test kernels and the minimal Linux guest under the real vmm binary on /dev/kvm, the
# daemon end to end, then a bounded libFuzzer run over the virtqueue and virtio-blk
# parsers. README.md's test command; .ci/run calls exactly this.
#
# /dev/kvm is required; VMM_ALLOW_NO_KVM=1 turns the KVM tests into skips (laptops only).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

if [[ ! -w /dev/kvm && "${VMM_ALLOW_NO_KVM:-0}" != 1 ]]; then
    echo "test: /dev/kvm is missing or not writable; the tests boot real guests on KVM" >&2
    echo "test: (set VMM_ALLOW_NO_KVM=1 to skip the KVM tests on a machine without it)" >&2
    exit 1
fi

scripts/install-dependencies.sh
make -s -C Tests/Guests OUT="$PWD/.build/guests"
linux_guest=$(scripts/build-linux-guest.sh | tail -n 1)
export VMM_LINUX_GUEST="$linux_guest"
swift build --build-tests
# Two runs. The suites that boot guests block Swift Testing's cooperative threads (as
# many as cores: 2 here) for minutes at a time; the daemon, API and etcd suites are async
# and time their answers, so beside them they starve (timeouts, health checks that never
# get to run). Each run on its own keeps its own pace.
swift test --skip-build --skip '^(VMMIntegrationTests|VMMCoreTests)\.'
swift test --skip-build --filter '^(VMMIntegrationTests|VMMCoreTests)\.'
# The vmm users install is the release build (optimized, a static PIE), which the runs
# above never start: the optimizer has broken what debug builds do right (every release
# `vmm restore` once crashed). The guest suites for run, restore, clone, devices, the jail,
# seccomp and live migration again, on it (~90 s, and ~1 min to build); then migrations
# between two daemons (~50 s, async: a run of its own), whose destinations are the only
# jailed `vmm receive` that runs a VM.
swift build -c release --product vmm
VMM_BINARY="$PWD/.build/release/vmm" swift test --skip-build --filter \
    '^VMMIntegrationTests\.(MultibootGuestTests|SnapshotRestoreTests|SnapshotCloneTests|SnapshotDiskTests|ControlProtocolTests|VirtioGuestTests|BalloonGuestTests|LongGuestRuns/JailTests|LongGuestRuns/SeccompTests|LongGuestRuns/MigrationTests)/'
VMM_BINARY="$PWD/.build/release/vmm" swift test --skip-build --filter '^VMMDaemonTests\.DaemonTests/HostMigrationTests/'
Fuzz/run.sh
