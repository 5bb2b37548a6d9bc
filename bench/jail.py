#!/usr/bin/env python3
"""What the jail (docs/jail.md) costs at start-up, same binaries, same run, interleaved:

  (a) exec `vmm run` -> the guest's first console byte, with `--jail DIR --uid --gid`
      and without (median of --runs each);
  (b) the daemon's create + start (until the start call returns) of --runs VMs one after
      another, vmmd jailing (the default as root) against `vmmd --no-jail`: median
      latency and VMs per second.

Usage: sudo python3 bench/jail.py [--build-dir .build/debug] [--guests .build/guests] [--runs 10]
Prints a Markdown table. Not a test: nothing fails on a number.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import Daemon, vmm_first_byte, ROOT  # noqa: E402

USER = 233000


def jailed_first_byte(build_dir, kernel):
    folder = tempfile.mkdtemp(prefix="vmm-jail-bench-")
    os.chown(folder, USER, USER)
    os.chmod(folder, 0o700)
    try:
        return vmm_first_byte(build_dir, kernel, ("--jail", folder, "--uid", str(USER), "--gid", str(USER)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def create_and_start_times(build_dir, kernel, runs, extra):
    daemon = Daemon(build_dir, extra)
    try:
        times = []
        begin = time.monotonic()
        for index in range(runs):
            start = time.monotonic()
            daemon.create_and_start(f"vm{index}", kernel)
            times.append((time.monotonic() - start) * 1000)
        total = time.monotonic() - begin
        return times, runs / total
    finally:
        daemon.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=f"{ROOT}/.build/debug")
    parser.add_argument("--guests", default=f"{ROOT}/.build/guests")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    a = parser.parse_args()
    kernel = f"{a.guests}/echo.elf"
    plain, jailed = [], []
    for _ in range(a.runs):
        plain.append(vmm_first_byte(a.build_dir, kernel))
        jailed.append(jailed_first_byte(a.build_dir, kernel))
    daemon = {"jail": ([], []), "no-jail": ([], [])}
    for _ in range(a.rounds):
        for mode, extra in (("jail", ()), ("no-jail", ("--no-jail",))):
            times, rate = create_and_start_times(a.build_dir, kernel, a.runs, extra)
            daemon[mode][0].extend(times)
            daemon[mode][1].append(rate)
    median = statistics.median
    print(f"""| measure | unjailed | jailed | difference |
|---|---|---|---|
| exec `vmm run` → first console byte (median of {a.runs}) | {median(plain):.1f} ms | {median(jailed):.1f} ms | {median(jailed) - median(plain):+.1f} ms |
| vmmd create + start, one after another (median of {a.runs * a.rounds}) | {median(daemon['no-jail'][0]):.1f} ms | {median(daemon['jail'][0]):.1f} ms | {median(daemon['jail'][0]) - median(daemon['no-jail'][0]):+.1f} ms |
| vmmd create + start rate (median of {a.rounds} rounds of {a.runs}) | {median(daemon['no-jail'][1]):.1f} VMs/s | {median(daemon['jail'][1]):.1f} VMs/s | |""")


if __name__ == "__main__":
    main()
