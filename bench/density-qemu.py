#!/usr/bin/env python3
"""Per-VM host cost of vmm beside QEMU in the same run: N VMs of each (the same halt.elf
multiboot guest, 64 MiB, one vCPU) started as plain processes, no daemon, in turn, over
several rounds; reports the medians of the host memory per VM (the processes' PSS plus
the kernel memory that rose with them: stacks, page tables, unreclaimable slab, vmalloc;
MemAvailable moves by tens of MiB on its own here, more than 100 vmm add), tasks per VM
and one process's RSS, PSS and private memory. bench/density.py measures
vmm at thousands of VMs under vmmd; QEMU at thousands does not fit this host (~40 MiB of
its own per VM), so the comparison is made at a count both fit.

    python3 bench/density-qemu.py [--count 20] [--rounds 3] [--vmm PATH]
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from density import ROOT, MIB, meminfo, host_tasks, smaps_rollup
from measure import log


KERNEL_MEMORY = ["KernelStack", "PageTables", "SecPageTables", "SUnreclaim", "VmallocUsed"]


def qemu_command(kernel, memory):
    """QEMU as bench/measure.py starts it (pc machine, qemu64 CPU, no default devices),
    with the guest's size and no serial output to collect."""
    return ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "qemu64", "-M", "pc", "-m", str(memory),
            "-display", "none", "-no-reboot", "-nodefaults", "-monitor", "none", "-serial", "none",
            "-kernel", kernel]


def vmm_command(vmm, kernel, memory):
    return [vmm, "run", "--kernel", kernel, "--memory", f"{memory}M"]


def one_round(command, count, settle):
    before = meminfo()
    tasks_before = host_tasks()
    processes = [subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True) for _ in range(count)]
    try:
        time.sleep(settle)
        dead = [p for p in processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{len(dead)} of {count} ended early (status {dead[0].returncode}): {' '.join(command)}")
        after = meminfo()
        tasks_after = host_tasks()
        rollups = [smaps_rollup(p.pid) for p in processes]
        rollup = rollups[0]
        kernel = sum(after[key] - before[key] for key in KERNEL_MEMORY)
        pss = sum(r.get("Pss", 0) for r in rollups)
        return {
            "memory": (pss + kernel) / 1024 / count,
            "kernel": kernel / 1024 / count,
            "tasks": (tasks_after - tasks_before) / count,
            "rss": rollup.get("Rss", 0) / 1024,
            "pss": rollup.get("Pss", 0) / 1024,
            "private": (rollup.get("Private_Dirty", 0) + rollup.get("Private_Clean", 0)) / 1024,
        }
    finally:
        for p in processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in processes:
            p.wait()
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", type=int, default=64, help="MiB per VM")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds from the starts to the measurement")
    parser.add_argument("--vmm", default=f"{ROOT}/.build-bench/release/vmm")
    parser.add_argument("--guests", default=f"{ROOT}/.build/guests")
    parser.add_argument("--output", default=f"{ROOT}/bench/results-density-qemu-latest.md")
    a = parser.parse_args()
    kernel = f"{a.guests}/halt.elf"
    commands = {"vmm": vmm_command(a.vmm, kernel, a.memory), "qemu": qemu_command(kernel, a.memory)}
    results = {name: [] for name in commands}
    for round_number in range(a.rounds):
        for name, command in commands.items():
            log(f"round {round_number + 1}: {a.count} × {name}")
            results[name].append(one_round(command, a.count, a.settle))
    rows = []
    for key, label in [("memory", "host memory per VM (PSS + kernel memory), MiB"),
                       ("kernel", "of which kernel memory (stacks, page tables, slab, vmalloc), MiB"),
                       ("tasks", "host tasks per VM"),
                       ("rss", "one process's RSS, MiB"), ("pss", "one process's PSS, MiB"),
                       ("private", "one process's private memory, MiB")]:
        values = {name: statistics.median(r[key] for r in results[name]) for name in commands}
        rows.append(f"| {label} | {values['vmm']:.2f} | {values['qemu']:.2f} |")
    text = "\n".join([
        "# vmm beside QEMU, per VM (bench/density-qemu.py)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().release}, {os.cpu_count()} CPUs. "
        f"{a.count} VMs of each at once ({a.memory} MiB, halt.elf), plain processes, medians of {a.rounds} rounds "
        f"(each engine in turn). vmm: `{os.path.relpath(a.vmm, ROOT)}`; QEMU: `{' '.join(commands['qemu'][:1])}` "
        f"`-M pc -cpu qemu64 -nodefaults`.",
        "",
        "| measure | vmm | QEMU |",
        "|---|---|---|",
        *rows,
        "",
    ])
    with open(a.output, "w") as file:
        file.write(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
