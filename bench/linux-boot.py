#!/usr/bin/env python3
"""Boot benchmark: the minimal Linux guest to "Run /init" under vmm and QEMU.

Same kernel, initramfs and command line for each; wall time from exec until the console
shows "Run /init as init process", median of N runs (default 3). Every guest is killed
at that point. Slow on PVM hosts (guest kernel code is emulated): ~2 minutes a boot.

Beside the time, the host kernel's own counters of the guest's vCPU at that moment:
instructions KVM emulated (on a PVM host every guest kernel instruction; the measure of
how much work the guest did, which wall time there only approximates), interrupts
injected (mostly the guest's timer tick) and exits. vmm's come from its control
request `stats`, QEMU's from QMP `query-stats` (both KVM_GET_STATS_FD).

Usage: bench/linux-boot.py [--runs N] [--vmm PATH] [--guest DIR] [--only KEYS] [--vmm-before PATH]
                           [--cmdline TEXT] [--vmm-args "ARGS"]

--only picks setups by key (comma-separated): vmm, vmm-bzimage, microvm, pc (default: all).
--vmm-before adds a second vmm binary (PVH), e.g. a build of main, to compare against.
--vmm-args adds arguments to every vmm setup (e.g. "--no-rng": the same devices as microvm).
Ratios are to QEMU -M microvm (the reference of bench/README.md's goal) when it ran.
Each round runs every setup once, one at a time, in the same order.
"""
import argparse, json, os, selectors, shlex, socket, statistics, subprocess, sys, tempfile, time

from qmp import QMP

CMDLINE = "console=ttyS0 panic=-1"
MARKER = b"Run /init as init process"
MICROVM = "QEMU -M microvm (vmlinux, PVH)"
COUNTERS = ("insn_emulation", "irq_injections", "exits")

def vmm_counters(socket_path):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(socket_path)
        s.sendall(b"stats\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)["vcpus"][0]["counters"]

def qemu_counters(socket_path):
    qmp = QMP(socket_path, timeout=10)
    stats = qmp.cmd("query-stats", target="vcpu")[0]["stats"]
    return {s["name"]: s["value"] for s in stats}

def boot(argv, counters, timeout):
    """Seconds to the marker and the guest's counters then, or (None, None)."""
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
                seconds = time.monotonic() - start
                values = counters()
                return seconds, {name: values.get(name) for name in COUNTERS}
        return None, None
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
    parser.add_argument("--cmdline", default=CMDLINE,
                        help="vmm adds its PVM workarounds itself; QEMU gets them added here on a PVM host")
    parser.add_argument("--vmm-args", default="")
    args = parser.parse_args()
    vmlinux, bzimage, initrd = (os.path.join(args.guest, n) for n in ("vmlinux", "bzImage", "initramfs.cpio"))
    work = tempfile.mkdtemp(prefix="linux-boot-")
    control, monitor = os.path.join(work, "control.sock"), os.path.join(work, "qmp.sock")
    # What vmm adds by itself on a PVM host (its log says so); QEMU needs them by hand.
    qemu_cmdline = args.cmdline
    if os.path.exists("/sys/module/kvm_pvm") and "clearcpuid=" not in qemu_cmdline:
        qemu_cmdline += " noxsave clearcpuid=popcnt,cx16,smap"
    qemu = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "qemu64,-popcnt,-cx16", "-m", "256", "-smp", "1",
            "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio", "-monitor", "none",
            "-qmp", f"unix:{monitor},server=on,wait=off", "-initrd", initrd, "-append", qemu_cmdline]
    def vmm(binary, kernel):
        return [binary, "run", "--kernel", kernel, "--initrd", initrd, "--memory", "256M", "--cmdline", args.cmdline,
                "--control-socket", control] + shlex.split(args.vmm_args)
    from_vmm, from_qemu = (lambda: vmm_counters(control)), (lambda: qemu_counters(monitor))
    all_setups = {
        "vmm": ("vmm (vmlinux, PVH)", vmm(args.vmm, vmlinux), from_vmm),
        "vmm-bzimage": ("vmm (bzImage)", vmm(args.vmm, bzimage), from_vmm),
        "microvm": (MICROVM, qemu + ["-M", "microvm,isa-serial=on,rtc=on", "-kernel", vmlinux], from_qemu),
        "pc": ("QEMU -M pc (bzImage)", qemu + ["-M", "pc", "-kernel", bzimage], from_qemu),
    }
    setups = {}
    if args.vmm_before:
        setups[f"vmm before ({args.vmm_before}, PVH)"] = (vmm(args.vmm_before, vmlinux), from_vmm)
    for key in args.only.split(","):
        name, argv, counters = all_setups[key.strip()]
        setups[name] = (argv, counters)
    results = {name: [] for name in setups}
    for run in range(args.runs):
        for name, (argv, counters) in setups.items():
            seconds, values = boot(argv, counters, args.timeout)
            shown = "fail" if seconds is None else f"{seconds:.1f} s, {values}"
            print(f"run {run + 1}: {name}: {shown}", file=sys.stderr, flush=True)
            results[name].append((seconds, values))
    def median(name, pick):
        values = [pick(r) for r in results[name] if r[0] is not None and pick(r) is not None]
        return statistics.median(values) if values else None
    seconds = {name: median(name, lambda r: r[0]) for name in results}
    emulated = {name: median(name, lambda r: r[1]["insn_emulation"]) for name in results}
    ticks = {name: median(name, lambda r: r[1]["irq_injections"]) for name in results}
    print(f"vmm command line: `{args.cmdline}` (+ what vmm adds on a PVM host); QEMU: `{qemu_cmdline}`")
    print(f"| setup | median s to \"Run /init\" ({args.runs} runs) | runs | ratio to microvm "
          "| emulated instructions (M, median) | ratio | interrupts injected (median) |")
    print("|---|---|---|---|---|---|---|")
    ratio = lambda value, base: f"{value / base:.2f}" if value and base else "-"
    for name, runs in results.items():
        shown = ", ".join("fail" if s is None else f"{s:.1f}" for s, _ in runs)
        if seconds[name] is None:
            print(f"| {name} | failed | {shown} | - | - | - | - |")
            continue
        millions = f"{emulated[name] / 1e6:.1f}" if emulated[name] else "-"
        print(f"| {name} | {seconds[name]:.1f} | {shown} | {ratio(seconds[name], seconds.get(MICROVM))} "
              f"| {millions} | {ratio(emulated[name], emulated.get(MICROVM))} | {ticks[name] or '-'} |")

if __name__ == "__main__":
    main()
