#!/usr/bin/env python3
"""virtio-blk rate limiter overhead: the same disk unlimited, with an armed limiter that never
binds, and under a vmm without rate limiters, in one run, alternating; medians.

    python3 bench/ratelimit.py --baseline-vmm /path/to/vmm-without-limiters [--runs 5 --secs 2]

Uses bench/virtio.py's guest driver and runner (Tests/Guests/virtio-bench.elf, TSC-timed
phases, VMM CPU per request from /proc). Sides:

  baseline  --baseline-vmm (a vmm built before rate limiters existed), --disk IMG
  unlimited this tree's vmm, --disk IMG (the limiter is there but off: one atomic load)
  armed     this tree's vmm, --disk IMG,bps=1T,iops=100000000 (both buckets checked and
            charged per request, never in debt at these speeds)

Phases: seqread (64 KiB requests) and randread (4 KiB), queue depth 16, --secs each. The
goal (issue 13): the limiter costs an unlimited disk at most 2 % of its throughput.
Not a test: nothing fails on the goal.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import virtio  # noqa: E402

PHASES = [("seqread", 65536), ("randread", 4096)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmm", default=os.path.join(virtio.ROOT, ".build", "debug", "vmm"))
    ap.add_argument("--baseline-vmm", help="a vmm without rate limiters (leave out to skip that side)")
    ap.add_argument("--guest", default=os.path.join(virtio.ROOT, ".build", "guests", "virtio-bench.elf"))
    ap.add_argument("--image", default=os.path.join(virtio.SCRATCH, "virtio-bench.img"))
    ap.add_argument("--image-mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results-ratelimit-latest.md"))
    a = ap.parse_args()
    a.idle, a.nice = 200, 0
    os.makedirs(virtio.SCRATCH, exist_ok=True)
    virtio.prepare_image(a.image, a.image_mib)
    sides = [("unlimited", a.vmm, a.image), ("armed", a.vmm, f"{a.image},bps=1T,iops=100000000")]
    if a.baseline_vmm:
        sides.insert(0, ("baseline", a.baseline_vmm, a.image))
    results = {name: {phase: [] for phase, _ in PHASES} for name, _, _ in sides}
    started = time.time()
    for run in range(a.runs):
        order = sides[run % len(sides):] + sides[:run % len(sides)]
        for name, vmm, disk in order:
            for phase, size in PHASES:
                a.vmm = vmm
                append = f"bench={phase} secs={a.secs} size={size} qd=16 idle={a.idle}"
                r = virtio.run_once(a, "vmm", append, disk=disk, timeout=120)
                p = r["phases"].get(phase)
                if not r["ok"] or not p or "mbps" not in p:
                    virtio.log(f"run {run} {name} {phase} failed: status {r['status']}\n{r['err'][-2000:]}")
                    continue
                results[name][phase].append(p)
                virtio.log(f"run {run} {name} {phase}: {p['iops']:.0f} req/s, {p['mbps']:.1f} MB/s, "
                           f"{p.get('us_per_req', 0):.1f} µs VMM CPU/req")
    load = os.getloadavg()
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, "
             f"{a.runs} runs per side alternating, {a.secs} s per phase, queue depth 16; "
             f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; run time {time.time() - started:.0f} s.",
             f"This tree's vmm: {sides[-1][1]}; baseline: {a.baseline_vmm or '—'}.", "",
             "| phase | side | req/s (median) | MB/s | VMM CPU µs/req | vs unlimited | runs (req/s) |",
             "|---|---|---|---|---|---|---|"]
    for phase, _ in PHASES:
        base = virtio.med([p["iops"] for p in results["unlimited"][phase]])
        for name, _, _ in sides:
            runs = results[name][phase]
            iops = virtio.med([p["iops"] for p in runs])
            mbps = virtio.med([p["mbps"] for p in runs])
            cpu = virtio.med([p.get("us_per_req") for p in runs])
            ratio = f"{(iops / base - 1) * 100:+.1f} %" if iops and base else "—"
            lines.append(f"| {phase} | {name} | {virtio.fmt(iops, '.0f')} | {virtio.fmt(mbps, '.1f')} | "
                         f"{virtio.fmt(cpu, '.2f')} | {ratio} | {', '.join('%.0f' % p['iops'] for p in runs)} |")
    text = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
