#!/usr/bin/env python3
"""Memory a guest gives back per second: virtio-balloon inflation and free page reporting,
vmm against QEMU's virtio-balloon-pci in the same run.

    python3 bench/balloon.py                       # vmm from .build/debug unless --vmm
    python3 bench/balloon.py --vmm .build-bench/release/vmm --mib 1024 --runs 5

Guest: Tests/Guests/balloon.elf with `test=bench pages=N` (built by
`make -C Tests/Guests OUT=.build/guests`), a polled virtio 1.x driver. It touches N pages
(--mib), then, each step when the host sends `g` on the console: inflates all of them in
requests of 256 page numbers (as Linux does), deflates them and touches them again, and
reports them on the reporting queue in 2 MiB ranges, 16 per request (Linux reports
pageblocks of 2 MiB). The host measures each step from the `g` it sends to the line the
guest prints when the device has used the last request, and the resident guest RAM (Rss
of the memfd mapping in /proc/PID/smaps) before and after: returned = the drop in Rss,
rate = returned / time.

vmm: `vmm run --kernel balloon.elf --memory M --balloon 0`. QEMU: `-accel kvm -M pc
-m M -object memory-backend-memfd,id=ram,size=M -machine memory-backend=ram -device
virtio-balloon-pci,disable-legacy=on,free-page-reporting=on -device
isa-debug-exit,iobase=0xf4,iosize=4 -kernel balloon.elf -append ...`.

On a PVM host the guest's own work (filling page-number arrays, one emulated instruction
~1 us) dominates inflation; reporting hands over 32 MiB per request and measures the host.
Not a test: nothing here fails on a goal.
"""
import argparse
import os
import select
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def resident_kib(pid, name):
    """Rss (KiB) of the mapping whose path contains `name` in /proc/PID/smaps."""
    inside = False
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            first = line.split(" ", 1)[0]
            if "-" in first and not first.endswith(":"):
                inside = name in line
            elif inside and line.startswith("Rss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no mapping {name} in /proc/{pid}/smaps")


class Guest:
    """A VMM process running balloon.elf with its console on stdin/stdout."""

    def __init__(self, command, ram_name):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, bufsize=0)
        self.ram_name = ram_name
        self.buffer = b""

    def wait_line(self, prefix, timeout=300):
        deadline = time.monotonic() + timeout
        while True:
            for line in self.buffer.split(b"\n")[:-1]:
                if line.startswith(prefix.encode()):
                    self.buffer = self.buffer[self.buffer.index(line) + len(line) + 1:]
                    return time.monotonic(), line.decode()
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no '{prefix}' line; output: {self.buffer[-500:]!r}")
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                self.buffer += os.read(self.process.stdout.fileno(), 65536)

    def go(self):
        self.process.stdin.write(b"g")
        return time.monotonic()

    def resident(self):
        return resident_kib(self.process.pid, self.ram_name)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def run_once(command, ram_name, pages):
    guest = Guest(command, ram_name)
    try:
        guest.wait_line("bench: touched")
        touched = guest.resident()
        start = guest.go()
        end, _ = guest.wait_line("bench: inflated")
        inflated = guest.resident()
        inflate = ((touched - inflated) * 1024, end - start)
        guest.go()
        guest.wait_line("bench: touched")
        touched = guest.resident()
        start = guest.go()
        end, _ = guest.wait_line("bench: reported")
        reported = guest.resident()
        report = ((touched - reported) * 1024, end - start)
        guest.go()
        guest.wait_line("bench: done")
        return inflate, report
    finally:
        guest.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vmm", default=os.path.join(ROOT, ".build/debug/vmm"))
    parser.add_argument("--guest", default=os.path.join(ROOT, ".build/guests/balloon.elf"))
    parser.add_argument("--mib", type=int, default=512, help="memory touched, inflated and reported per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--qemu", default="qemu-system-x86_64", help="'' to leave QEMU out")
    parser.add_argument("--output", default=os.path.join(HERE, "results-balloon-latest.md"))
    args = parser.parse_args()
    pages = args.mib * 256
    memory = 64 + args.mib + 64
    cmdline = f"test=bench pages={pages}"
    sides = {"vmm": ([args.vmm, "run", "--kernel", args.guest, "--memory", f"{memory}M", "--balloon", "0",
                      "--cmdline", cmdline], "memfd:vmm-guest-ram")}
    if args.qemu:
        sides["qemu"] = ([args.qemu, "-accel", "kvm", "-cpu", "qemu64", "-M", "pc", "-m", f"{memory}M",
                          "-object", f"memory-backend-memfd,id=ram,size={memory}M", "-machine", "memory-backend=ram",
                          "-display", "none", "-no-reboot", "-nodefaults", "-monitor", "none", "-serial", "stdio",
                          "-device", "virtio-balloon-pci,disable-legacy=on,free-page-reporting=on",
                          "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", args.guest,
                          "-append", cmdline], "memfd:memory-backend-memfd")
    results = {side: {"inflate": [], "report": []} for side in sides}
    started = time.time()
    for run in range(args.runs):
        order = list(sides) if run % 2 == 0 else list(reversed(sides))
        for side in order:
            inflate, report = run_once(*sides[side], pages)
            results[side]["inflate"].append(inflate)
            results[side]["report"].append(report)
            print(f"run {run + 1} {side}: inflate {inflate[0] >> 20} MiB in {inflate[1]:.3f} s, "
                  f"report {report[0] >> 20} MiB in {report[1]:.3f} s", file=sys.stderr)

    version = ""
    if args.qemu:
        version = subprocess.run([args.qemu, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, kernel "
        f"{os.uname().release}; {args.runs} runs per side, alternating, medians; {args.mib} MiB touched, then "
        f"inflated and reported per run; vmm {os.path.relpath(args.vmm, ROOT)}; {version}; load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; run time {time.time() - started:.0f} s.",
        "",
        "| step | side | returned MiB (Rss drop) | seconds | MiB/s | runs (MiB/s) |",
        "|---|---|---|---|---|---|",
    ]
    for step in ("inflate", "report"):
        for side in sides:
            samples = results[side][step]
            rates = [returned / 2**20 / seconds for returned, seconds in samples]
            lines.append(
                f"| {step} | {side} | {statistics.median(r for r, _ in samples) / 2**20:.0f} | "
                f"{statistics.median(s for _, s in samples):.3f} | **{statistics.median(rates):.0f}** | "
                f"{', '.join(f'{r:.0f}' for r in rates)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.output, "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
