#!/usr/bin/env python3
"""Boot benchmark: the minimal Linux guest to "Run /init" under vmm and QEMU.

Same kernel, initramfs and command line for each; wall time from exec until the console
shows "Run /init as init process", median of N runs (default 3). Every guest is killed
at that point. Slow on PVM hosts (guest kernel code is emulated): ~2 minutes a boot.

Usage: bench/linux-boot.py [--runs N] [--vmm PATH] [--guest DIR] [--only KEYS] [--vmm-before PATH]

--only picks setups by key (comma-separated): vmm, vmm-bzimage, microvm, pc (default: all).
--vmm-before adds a second vmm binary (PVH), e.g. a build of main, to compare against.
Ratios are to QEMU -M microvm (the reference of bench/README.md's goal) when it ran.
Each round runs every setup once, one at a time, in the same order.
"""
import argparse, os, selectors, statistics, subprocess, sys, time

CMDLINE = "console=ttyS0 noxsave clearcpuid=popcnt,cx16,smap panic=-1"
MARKER = b"Run /init as init process"
MICROVM = "QEMU -M microvm (vmlinux, PVH)"

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
    parser.add_argument("--only", default="vmm,vmm-bzimage,microvm,pc")
    parser.add_argument("--vmm-before")
    args = parser.parse_args()
    vmlinux, bzimage, initrd = (os.path.join(args.guest, n) for n in ("vmlinux", "bzImage", "initramfs.cpio"))
    qemu = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "qemu64,-popcnt,-cx16", "-m", "256", "-smp", "1",
            "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio", "-monitor", "none",
            "-initrd", initrd, "-append", CMDLINE]
    all_setups = {
        "vmm": ("vmm (vmlinux, PVH)", [args.vmm, "run", "--kernel", vmlinux, "--initrd", initrd, "--memory", "256M", "--cmdline", CMDLINE]),
        "vmm-bzimage": ("vmm (bzImage)", [args.vmm, "run", "--kernel", bzimage, "--initrd", initrd, "--memory", "256M", "--cmdline", CMDLINE]),
        "microvm": (MICROVM, qemu + ["-M", "microvm,isa-serial=on,rtc=on", "-kernel", vmlinux]),
        "pc": ("QEMU -M pc (bzImage)", qemu + ["-M", "pc", "-kernel", bzimage]),
    }
    setups = {}
    if args.vmm_before:
        setups[f"vmm before ({args.vmm_before}, PVH)"] = [args.vmm_before, "run", "--kernel", vmlinux, "--initrd", initrd, "--memory", "256M", "--cmdline", CMDLINE]
    for key in args.only.split(","):
        name, argv = all_setups[key.strip()]
        setups[name] = argv
    results = {name: [] for name in setups}
    for run in range(args.runs):
        for name, argv in setups.items():
            seconds = time_to_marker(argv, args.timeout)
            print(f"run {run + 1}: {name}: {seconds if seconds is None else round(seconds, 1)} s", file=sys.stderr, flush=True)
            results[name].append(seconds)
    medians = {name: statistics.median([v for v in values if v is not None] or [0]) or None for name, values in results.items()}
    base = medians.get(MICROVM)
    print(f"| setup | median s to \"Run /init\" ({args.runs} runs) | runs | ratio to QEMU -M microvm |")
    print("|---|---|---|---|")
    for name, values in results.items():
        median = medians[name]
        ratio = f"{median / base:.2f}" if median and base else "-"
        shown = ", ".join("fail" if v is None else f"{v:.1f}" for v in values)
        print(f"| {name} | {median:.1f} | {shown} | {ratio} |" if median else f"| {name} | failed | {shown} | - |")

if __name__ == "__main__":
    main()
