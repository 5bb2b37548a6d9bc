#!/usr/bin/env python3
"""Boot benchmark: the minimal Linux guest to "Run /init" under vmm and QEMU.

Same kernel, initramfs and command line for each; wall time from exec until the console
shows "Run /init as init process", median of N runs (default 3). Every guest is killed
at that point. Slow on PVM hosts (guest kernel code is emulated): ~2 minutes a boot.

Usage: bench/linux-boot.py [--runs N] [--vmm PATH] [--guest DIR]
"""
import argparse, os, selectors, statistics, subprocess, sys, time

CMDLINE = "console=ttyS0 noxsave clearcpuid=popcnt,cx16,smap panic=-1"
MARKER = b"Run /init as init process"

def time_to_marker(argv, timeout):
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen = b""
    try:
        while time.monotonic() - start < timeout:
            if not sel.select(timeout=1):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            seen = (seen + chunk)[-4096:]
            if MARKER in seen:
                return time.monotonic() - start
        return None
    finally:
        proc.kill()
        proc.wait()

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vmm", default=os.path.join(here, "..", ".build-bench", "release", "vmm"))
    parser.add_argument("--guest", default="/var/cache/vmm/guests/linux-current")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    vmlinux, bzimage, initrd = (os.path.join(args.guest, n) for n in ("vmlinux", "bzImage", "initramfs.cpio"))
    qemu = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "qemu64,-popcnt,-cx16", "-m", "256", "-smp", "1",
            "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio", "-monitor", "none",
            "-initrd", initrd, "-append", CMDLINE]
    setups = {
        "vmm (vmlinux, PVH)": [args.vmm, "run", "--kernel", vmlinux, "--initrd", initrd, "--memory", "256M", "--cmdline", CMDLINE],
        "vmm (bzImage)": [args.vmm, "run", "--kernel", bzimage, "--initrd", initrd, "--memory", "256M", "--cmdline", CMDLINE],
        "QEMU -M microvm (vmlinux, PVH)": qemu + ["-M", "microvm,isa-serial=on,rtc=on", "-kernel", vmlinux],
        "QEMU -M pc (bzImage)": qemu + ["-M", "pc", "-kernel", bzimage],
    }
    results = {name: [] for name in setups}
    for run in range(args.runs):
        for name, argv in setups.items():
            seconds = time_to_marker(argv, args.timeout)
            print(f"run {run + 1}: {name}: {seconds if seconds is None else round(seconds, 1)} s", file=sys.stderr, flush=True)
            results[name].append(seconds)
    base = None
    print(f"| setup | median s to \"Run /init\" ({args.runs} runs) | runs | ratio to vmm (vmlinux) |")
    print("|---|---|---|---|")
    for name, values in results.items():
        ok = [v for v in values if v is not None]
        median = statistics.median(ok) if ok else None
        if base is None:
            base = median
        ratio = f"{median / base:.2f}" if median and base else "-"
        shown = ", ".join("fail" if v is None else f"{v:.1f}" for v in values)
        print(f"| {name} | {median:.1f} | {shown} | {ratio} |" if median else f"| {name} | failed | {shown} | - |")

if __name__ == "__main__":
    main()
