#!/usr/bin/env python3
"""Instructions per KVM exit, counted exactly by callgrind (CPU time here is noise).

For port I/O (pio-exits.elf) and MMIO (mmio-exits.elf), vmm and the C reference loop
(kvm-loop) each run the guest with count=N and count=SMALL under
`valgrind --tool=callgrind`; instructions per exit = (Ir(N) - Ir(SMALL)) / (N - SMALL).
The count is deterministic, so one run of each suffices. Writes a Markdown table.

Usage: python3 bench/exit-instructions.py --vmm PATH --kvm-loop PATH --test-guests DIR
                                          [--count N] [--out FILE]
"""
import argparse, os, re, subprocess, sys, tempfile

SMALL = 10


def instructions(command):
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + command,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
        match = re.search(r"Collected : (\d+)", result.stderr)
        if not match:
            sys.exit(f"exit-instructions: no callgrind total for {' '.join(command)}:\n{result.stderr[-2000:]}")
        return int(match.group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vmm", required=True)
    parser.add_argument("--kvm-loop", required=True)
    parser.add_argument("--test-guests", required=True)
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--out")
    a = parser.parse_args()

    def vmm(kernel, n):
        # valgrind cannot run seccomp(2); the filters run in the kernel, which callgrind does not count anyway
        return [a.vmm, "run", "--kernel", kernel, "--cmdline", f"count={n}", "--no-rng", "--seccomp=off"]

    def c_loop(kernel, n):
        return [a.kvm_loop, kernel, f"count={n}"]

    rows = []
    for kind in ("pio", "mmio"):
        kernel = os.path.join(a.test_guests, f"{kind}-exits.elf")
        per_exit = {}
        for name, command in (("vmm", vmm), ("C loop", c_loop)):
            big, small = instructions(command(kernel, a.count)), instructions(command(kernel, SMALL))
            per_exit[name] = (big - small) / (a.count - SMALL)
            print(f"{kind} {name}: {per_exit[name]:.1f} instructions per exit", file=sys.stderr)
        rows.append((kind, per_exit["vmm"], per_exit["C loop"]))

    lines = [
        f"Instructions per exit (callgrind, user space, (Ir(count={a.count}) - Ir(count={SMALL})) / {a.count - SMALL}):",
        "",
        "| exit | vmm | C loop | vmm / C |",
        "|---|---|---|---|",
    ] + [f"| {'port I/O' if kind == 'pio' else 'MMIO'} | {v:.0f} | {c:.0f} | {v / c:.2f}× |" for kind, v, c in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
