#!/usr/bin/env python3
"""What vmm's seccomp filters cost: exits and virtio-blk with --seccomp=on against off.

    python3 bench/seccomp.py                         # after bench/run.sh or virtio.py built
    python3 bench/seccomp.py --runs 9 --count 1000000 --secs 3

Same binary, same run, the two modes interleaved (alternating which goes first), medians:

  exits: Tests/Guests/{pio,mmio}-exits.elf with count=N, user+sys CPU of the vmm process
         (wait4 rusage) minus the median of count=0 runs, per exit. Every exit is a KVM_RUN
         ioctl, which the vCPU thread's filter tests first (and the main filter it
         inherits, also first): this is where a filter costs most.
  blk:   Tests/Guests/virtio-bench.elf phases seqread and randwrite (bench/virtio.py's
         run_once: 1 MiB resp. 4 KiB requests, queue depth 16), MB/s and req/s from the
         guest, VMM CPU per request from /proc.

Goal (issue 11): on within 2 % of off. Not a test: nothing fails on the goal.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import measure  # noqa: E402
import virtio  # noqa: E402

SCRATCH = os.path.join(os.path.dirname(HERE), ".build-bench")
MODES = ["on", "off"]


def exits(a):
    """{(kind, mode): µs of vmm CPU per exit}, plus the per-run samples."""
    def run(kernel, count, mode):
        cmd = [a.vmm, "run", "--kernel", kernel, "--cmdline", f"count={count}", f"--seccomp={mode}"]
        u, s, w, rc = measure.run_rusage(cmd, f"done {count}")
        return u + s
    base = {m: [] for m in MODES}
    samples = {}
    for kind in ["pio", "mmio"]:
        kernel = os.path.join(a.guests, f"{kind}-exits.elf")
        for m in MODES:
            samples[(kind, m)] = []
        for r in range(a.runs):
            for m in (MODES if r % 2 == 0 else MODES[::-1]):
                samples[(kind, m)].append(run(kernel, a.count, m))
                if kind == "pio":
                    base[m].append(run(kernel, 0, m))
                measure.log(f"  {kind} {m} run {r + 1}: {samples[(kind, m)][-1]:.3f} s CPU")
    return {k: (measure.med(v) - measure.med(base[k[1]])) / a.count * 1e6 for k, v in samples.items()}, samples


def blk(a):
    phases = ["seqread", "randwrite"]
    results = {m: {p: [] for p in phases} for m in MODES}
    virtio.prepare_image(a.image, 256)
    for r in range(a.runs):
        for m in (MODES if r % 2 == 0 else MODES[::-1]):
            a.vmm_args = [f"--seccomp={m}"]
            res = virtio.run_once(a, "vmm", f"bench={','.join(phases)} secs={a.secs} idle={a.idle}", disk=a.image)
            if not res["ok"]:
                sys.exit(f"seccomp.py: blk run failed ({m}): {res['err'][-500:]}")
            for p in phases:
                results[m][p].append(res["phases"][p])
            measure.log(f"  blk {m} run {r + 1}: " + ", ".join(
                f"{p} {res['phases'][p]['mbps']:.1f} MB/s" for p in phases))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmm", default=os.path.join(SCRATCH, "release", "vmm"))
    ap.add_argument("--guests", default=os.path.join(SCRATCH, "test-guests"))
    ap.add_argument("--image", default=os.path.join(SCRATCH, "virtio-bench.img"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--secs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results-seccomp-latest.md"))
    a = ap.parse_args()
    a.guest = os.path.join(a.guests, "virtio-bench.elf")
    a.idle, a.nice = 200, 0
    t0 = time.time()
    per_exit, _ = exits(a)
    disk = blk(a)
    rows = ["| Measure | seccomp=on | seccomp=off | on / off |", "|---|---|---|---|"]
    for kind in ["pio", "mmio"]:
        on, off = per_exit[(kind, "on")], per_exit[(kind, "off")]
        rows.append(f"| {kind} exit, vmm CPU (µs) | {on:.3f} | {off:.3f} | {on / off:.3f} |")
    for p in ["seqread", "randwrite"]:
        for key, label, fmt in [("mbps", "MB/s", ".1f"), ("iops", "req/s", ".0f"), ("us_per_req", "VMM µs/req", ".2f")]:
            on = measure.med([r[key] for r in disk["on"][p] if key in r])
            off = measure.med([r[key] for r in disk["off"][p] if key in r])
            rows.append(f"| blk {p} {label} | {on:{fmt}} | {off:{fmt}} | {on / off:.3f} |")
    load = open("/proc/loadavg").read().split()[:3]
    text = (f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {os.cpu_count()} cores, kernel {os.uname().release}, "
            f"/dev/kvm = PVM (nested), a machine shared with other builds; {a.runs} runs per mode, alternating, "
            f"medians; {a.count} exits per exit run; {a.secs} s per blk phase; load average at the end "
            f"{' '.join(load)}; run time {time.time() - t0:.0f} s.\n\n" + "\n".join(rows) + "\n")
    print(text)
    with open(a.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
