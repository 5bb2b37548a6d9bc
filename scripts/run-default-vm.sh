#!/usr/bin/env bash
# Sets up and runs the default VM: the minimal Linux guest under vmm, console attached.
# On a PVM host (nested software virtualization) the kernel boots to "Run /init" in a
# couple of minutes but its user space cannot run; on VT-x/AMD-V it reaches a shell prompt
# in about a second and powers off.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/install-dependencies.sh
swift build -c release --static-swift-stdlib --product vmm
guest=$(scripts/build-linux-guest.sh | tail -n 1)
cmdline="console=ttyS0 panic=-1"
if [[ -e /sys/module/kvm_pvm ]]; then
    cmdline="$cmdline noxsave clearcpuid=popcnt,cx16,smap"
fi
exec .build/release/vmm run --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio" \
    --memory 256M --cmdline "$cmdline" "$@"
