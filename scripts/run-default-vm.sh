#!/usr/bin/env bash
# Sets up and runs the default VM the way it is meant to run: under the daemon.
# Installs the packages, builds vmm, vmmd and vmctl (release) and the minimal Linux guest,
# starts vmmd if it is not running, creates the VM "default" if it does not exist, starts
# it and attaches its serial console (Ctrl-] detaches; the VM keeps running).
# Idempotent: a second run reuses the running daemon and the existing VM.
#
# With systemd as PID 1 the daemon is installed (make install) and run as vmmd.service;
# otherwise vmmd runs in the background with its API socket and VM sockets in /run/vmm,
# definitions in /var/lib/vmm, its log in /var/log/vmmd.log and its pid in
# /run/vmm/vmmd.pid.
#
# On a PVM host (nested software virtualization) the kernel boots to "Run /init" in a
# couple of minutes but its user space cannot run; on VT-x/AMD-V it reaches a shell prompt
# in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
say() { echo "run-default-vm: $*" >&2; }

scripts/install-dependencies.sh
make -s build
guest=$(scripts/build-linux-guest.sh | tail -n 1)
# vmm adds what a PVM host needs (noxsave, clearcpuid=...) to a Linux command line itself.
cmdline="console=ttyS0 panic=-1"

socket=/run/vmm/vmmd.sock
vmctl=(.build/release/vmctl --socket "$socket")

if "${vmctl[@]}" list >/dev/null 2>&1; then
    say "vmmd is running; reusing it"
elif systemctl is-system-running >/dev/null 2>&1 \
    || [[ "$(systemctl is-system-running 2>/dev/null || true)" == degraded ]]; then
    say "installing vmm and starting vmmd.service"
    make -s install
    systemctl daemon-reload
    systemctl start vmmd
else
    say "no systemd here; starting vmmd in the background (log: /var/log/vmmd.log)"
    mkdir -p /run/vmm /var/lib/vmm
    chmod 0700 /var/lib/vmm
    setsid .build/release/vmmd --socket "$socket" --state-dir /var/lib/vmm --runtime-dir /run/vmm \
        </dev/null >>/var/log/vmmd.log 2>&1 &
    echo $! >/run/vmm/vmmd.pid
fi
for _ in $(seq 150); do
    "${vmctl[@]}" list >/dev/null 2>&1 && break
    sleep 0.1
done
"${vmctl[@]}" list >/dev/null || { say "vmmd did not come up; see /var/log/vmmd.log or journalctl -u vmmd"; exit 1; }

status=0
"${vmctl[@]}" info default >/dev/null 2>&1 || status=$?
if ((status == 5)); then
    say "creating VM default ($guest)"
    "${vmctl[@]}" create default --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio" \
        --memory 256M --cmdline "$cmdline" >/dev/null
elif ((status != 0)); then
    "${vmctl[@]}" info default
fi
state=$("${vmctl[@]}" info default --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
case "$state" in
    running) say "VM default is running" ;;
    paused) "${vmctl[@]}" resume default >/dev/null ;;
    starting | stopping) say "VM default is $state" ;;
    *) say "starting VM default"; "${vmctl[@]}" start default >/dev/null ;;
esac
say "attaching the console of VM default (Ctrl-] detaches; 'vmctl stop default' stops it)"
exec "${vmctl[@]}" console default
