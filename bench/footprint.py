#!/usr/bin/env python3
"""vmm's start-up and memory, several builds of it against the C loop in the same run.

    python3 bench/footprint.py --variant pie=.build-bench/release/vmm \\
        --variant static-pie=/tmp/vmm-static-pie --kvm-loop .build-bench/bench/kvm-loop \\
        --test-guests .build-bench/test-guests --rounds 20 --out bench/results-footprint-latest.md

Each round runs every binary once, in turn: exec → the first console byte of `hello.elf`
(`vmm run --no-rng`), and every `--mem-every`-th round also idles `echo.elf` and reads
VmRSS and the Pss outside guest RAM (see measure.py's `rss_sample`) while `--neighbors`
other VMs of the same binary idle beside it: shared pages then count in Pss divided
among them, and "private" is what this VM alone maps, i.e. what one more VM costs.
Prints medians and best runs as a Markdown table. A benchmark, not a test: nothing here
asserts.

Each binary's page cache is dropped first (posix_fadvise DONTNEED), so every one is read
back from disk the same way: how the page cache holds a file decides how much of it one
page fault maps (a binary just written by `cp` sits in large folios and measured 4.8 MiB
RSS where the same file read back from disk measured 4.4).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402


class Variant(measure.VMMs):
    """measure.VMMs for one vmm binary (or the C loop, whose name is kvm-loop)."""

    def __init__(self, a, kind, path):
        super().__init__(argparse.Namespace(vmm=path, kvm_loop=path))
        self.kind = kind

    def cmd(self, name, kernel, args=""):
        c = super().cmd(self.kind, kernel, args)
        return c[:2] + ["--no-rng"] + c[2:] if self.kind == "vmm" and self.no_rng else c


def sample_beside_neighbors(a, v):
    """measure.rss_sample while a.neighbors VMs of the same binary idle in echo.elf."""
    echo = os.path.join(a.test_guests, "echo.elf")
    neighbors = [subprocess.Popen(v.cmd("", echo), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(a.neighbors)]
    try:
        time.sleep(0.5)
        return measure.rss_sample(a, v, "kvm-loop" if v.kind == "kvm-loop" else "vmm")
    finally:
        for p in neighbors:
            p.kill()
            p.wait()
            p.stdin.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", default=[], help="NAME=PATH of a vmm binary (repeatable)")
    ap.add_argument("--kvm-loop", required=True)
    ap.add_argument("--test-guests", required=True, help="Tests/Guests build dir (hello, echo)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--mem-every", type=int, default=4, help="memory sample every N-th round")
    ap.add_argument("--rng", action="store_true", help="keep vmm's default virtio-rng device")
    ap.add_argument("--neighbors", type=int, default=1, help="idle VMs of the same binary during memory samples")
    ap.add_argument("--out")
    a = ap.parse_args()
    a.workdir = tempfile.mkdtemp(prefix="vmm-footprint-")
    setups = [(name, Variant(a, "vmm", path)) for name, path in (v.split("=", 1) for v in a.variant)]
    setups.append(("kvm-loop (C)", Variant(a, "kvm-loop", a.kvm_loop)))
    for _, v in setups:
        v.no_rng = not a.rng
        fd = os.open(v.a.vmm, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    hello = os.path.join(a.test_guests, "hello.elf")
    start = {n: [] for n, _ in setups}
    mem = {n: [] for n, _ in setups}
    t0 = time.time()
    for r in range(a.rounds):
        for name, v in setups:
            start[name].append(measure.first_byte(v.cmd(name, hello), runs=1)["median"] * 1000)
            if r % a.mem_every == 0:
                mem[name].append(sample_beside_neighbors(a, v))
        measure.log(f"  round {r + 1}/{a.rounds}: " + ", ".join(f"{n} {start[n][-1]:.1f}" for n, _ in setups))
    load = os.getloadavg()
    rows = ["| build | exec → first byte, ms: median (best) | VmRSS − guest RAM, MiB | Pss − guest RAM, MiB "
            "| private, MiB | RssFile, MiB | RssAnon, MiB |", "|---|---|---|---|---|---|---|"]
    for name, _ in setups:
        xs = mem[name]
        col = lambda f: f"{measure.med([f(x) for x in xs]) / 1024:.2f} ({min(f(x) for x in xs) / 1024:.2f}–{max(f(x) for x in xs) / 1024:.2f})"
        rows.append(f"| {name} | {measure.med(start[name]):.1f} ({min(start[name]):.1f}) | {col(lambda x: x[0] - x[1])} "
                    f"| {col(lambda x: x[6])} | {col(lambda x: x[5])} | {col(lambda x: x[3])} | {col(lambda x: x[2])} |")
    text = (f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')}, kernel {os.uname().release}, {a.rounds} rounds "
            f"(memory every {a.mem_every}th: {len(mem[setups[0][0]])} samples, {a.neighbors} idle VM(s) of the same "
            f"binary beside each), interleaved, "
            f"load average at the end {load[0]:.1f}, run time {time.time() - t0:.0f} s. Memory: median (range).\n\n"
            + "\n".join(rows) + "\n")
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
