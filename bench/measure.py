#!/usr/bin/env python3
"""Measures vmm against kvm-loop (C reference) and QEMU: exit cost, start-up, memory.

Called by bench/run.sh after it has built everything; prints a Markdown table and writes
it to --out. Not a test: nothing here asserts; goals are only reported.
"""
import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

QEMU_BASE = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "qemu64", "-M", "pc", "-m", "256",
             "-display", "none", "-no-reboot", "-nodefaults", "-monitor", "none", "-serial", "stdio",
             "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class VMMs:
    def __init__(self, a):
        self.a = a

    def cmd(self, name, kernel, args=""):
        if name == "vmm":
            c = [self.a.vmm, "run", "--kernel", kernel]
            return c + (["--cmdline", args] if args else [])
        if name == "kvm-loop":
            return [self.a.kvm_loop, kernel] + args.split()
        if name == "qemu":
            return QEMU_BASE + ["-kernel", kernel] + (["-append", args] if args else [])
        raise ValueError(name)


def run_rusage(cmd, expect=None, timeout=600):
    """Runs cmd; returns (user s, sys s, wall s, status) from wait4 of that one child."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if expect and expect not in text:
        raise RuntimeError(f"{cmd[0]}: expected {expect!r} in output (status {p.returncode}); got:\n{text[-500:]}")
    return ru.ru_utime, ru.ru_stime, wall, p.returncode


def med(xs):
    return statistics.median(xs)


def exit_cost(a, v):
    """Median user/sys/wall of RUNS runs at COUNT exits and at 0 exits; per-exit = difference / COUNT."""
    names = ["vmm", "kvm-loop"] + (["qemu"] if a.qemu else [])
    res = {}
    for kind in ["pio", "mmio"]:
        kernel = os.path.join(a.test_guests, f"{kind}-exits.elf")
        samples = {n: [] for n in names}
        for r in range(a.runs):
            for n in names:  # interleaved, so drift hits every VMM alike
                u, s, w, rc = run_rusage(v.cmd(n, kernel, f"count={a.count}"), f"{kind}-exits: done {a.count}")
                samples[n].append((u, s, w))
                log(f"  {kind} {n} run {r + 1}/{a.runs}: user {u:.3f} s, sys {s:.2f} s, wall {w:.2f} s")
        res[kind] = samples
    base = {n: [] for n in names}
    kernel = os.path.join(a.test_guests, "pio-exits.elf")
    for r in range(a.runs):
        for n in names:
            u, s, w, rc = run_rusage(v.cmd(n, kernel, "count=0"), "pio-exits: done 0")
            base[n].append((u, s, w))
    log("  baselines (count=0): " + ", ".join(
        f"{n} user {med([x[0] for x in base[n]]):.3f} s wall {med([x[2] for x in base[n]]):.2f} s" for n in names))
    out = {}
    for kind, samples in res.items():
        for n, xs in samples.items():
            per = {}
            for i, key in enumerate(["user", "sys", "wall"]):
                m = med([x[i] for x in xs])
                b = med([x[i] for x in base[n]])
                per[key] = (m - b) / a.count * 1e6  # seconds per million exits == µs per exit
                per[key + "_range"] = (min(x[i] for x in xs) - b, max(x[i] for x in xs) - b)
            out[(kind, n)] = per
    return out


def hyperfine(a, v, label, runs, cmds):
    path = os.path.join(a.workdir, f"hyperfine-{label}.json")
    argv = ["hyperfine", "-N", "-i", "--warmup", "2", "--runs", str(runs), "--export-json", path, "--style", "basic"]
    for n, c in cmds:
        argv += ["-n", n, " ".join(c)]
    subprocess.run(argv, check=True, stdout=sys.stderr)
    data = json.load(open(path))
    return {r["command"]: r for r in data["results"]}


def first_byte(cmd, runs=20):
    """Median seconds from exec until the guest's first console byte reaches stdout:
    start-up up to (a few instructions after) the guest's first instruction, without the
    VM teardown that exec → exit also counts."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        os.read(p.stdout.fileno(), 1)
        times.append(time.perf_counter() - t0)
        p.kill()
        p.wait()
        p.stdout.close()
    return {"median": med(times), "mean": statistics.mean(times), "stddev": statistics.pstdev(times)}


def startup(a, v):
    now = os.path.join(a.guests, "exit-now.elf")
    hello = os.path.join(a.test_guests, "hello.elf")
    for n in ["vmm", "kvm-loop"] + (["qemu"] if a.qemu else []):
        run_rusage(v.cmd(n, hello), "hello: multiboot ok")  # sanity check
        run_rusage(v.cmd(n, now))
    res = {}
    r = hyperfine(a, v, "exit-now", 20, [("vmm", v.cmd("vmm", now)), ("kvm-loop", v.cmd("kvm-loop", now))])
    for n, x in r.items():
        res[("exit-now", n)] = x
    cmds = [("vmm", v.cmd("vmm", hello)), ("kvm-loop", v.cmd("kvm-loop", hello))]
    if a.qemu:
        cmds.append(("qemu", v.cmd("qemu", hello)))
    r = hyperfine(a, v, "hello", 20, cmds)
    for n, x in r.items():
        res[("hello", n)] = x
    for n, c in cmds:
        res[("first-byte", n)] = first_byte(c)
    return res


def rss_sample(a, v, name):
    """Starts echo.elf (idles in HLT waiting for serial input).

    Returns KiB: VmRSS, Rss of the guest-RAM memfd mapping, RssAnon, RssFile, RssShmem,
    the private (unshared) resident memory outside guest RAM: what each further VM costs,
    since the binary's and libraries' pages are shared by every process running them, and
    the Pss outside guest RAM (shared pages divided among the processes mapping them).
    """
    kernel = os.path.join(a.test_guests, "echo.elf")
    cmd = v.cmd(name, kernel)
    ram_name = {"vmm": "memfd:vmm-guest-ram", "kvm-loop": "memfd:kvm-loop-guest-ram", "qemu": "memfd:memory-backend-memfd"}[name]
    if name == "qemu":
        cmd = cmd[:]
        i = cmd.index("-M")
        cmd[i + 1] = "pc,memory-backend=ram"
        cmd += ["-object", "memory-backend-memfd,id=ram,size=256M"]
    fifo = os.path.join(a.workdir, "stdin.fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR)  # kept open: the guest's serial input never hits EOF
    outpath = os.path.join(a.workdir, f"echo-{name}.out")
    with open(outpath, "wb") as out:
        p = subprocess.Popen(cmd, stdin=fd, stdout=out, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while b"echo: ready" not in open(outpath, "rb").read():
            if p.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{name}: echo.elf never became ready (status {p.poll()})")
            time.sleep(0.05)
        time.sleep(1.0)  # let it settle in HLT
        status = dict(l.split(":", 1) for l in open(f"/proc/{p.pid}/status").read().splitlines() if ":" in l)
        vmrss = int(status["VmRSS"].split()[0])
        guest, private, pss, current = 0, 0, 0, None
        for line in open(f"/proc/{p.pid}/smaps"):
            f = line.split()
            if f and "-" in f[0] and len(f) >= 5 and not f[0].endswith(":"):
                current = " ".join(f[5:])
            elif f and f[0] == "Rss:" and current and ram_name in current:
                guest += int(f[1])
            elif f and f[0] in ("Private_Clean:", "Private_Dirty:") and not (current and ram_name in current):
                private += int(f[1])
            elif f and f[0] == "Pss:" and not (current and ram_name in current):
                pss += int(f[1])
        if guest == 0:
            log(f"  warning: {name}: no resident mapping named {ram_name}")
        kib = lambda k: int(status[k].split()[0])
        return vmrss, guest, kib("RssAnon"), kib("RssFile"), kib("RssShmem"), private, pss
    finally:
        if name == "vmm":
            os.write(fd, b"quit\n")
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        os.close(fd)


def memory(a, v):
    res = {}
    for n in ["vmm", "kvm-loop"] + (["qemu"] if a.qemu else []):
        xs = [rss_sample(a, v, n) for _ in range(a.mem_runs)]
        over = [(x[0] - x[1]) / 1024 for x in xs]
        res[n] = {"vmrss": med([x[0] for x in xs]) / 1024, "guest": med([x[1] for x in xs]) / 1024,
                  "anon": med([x[2] for x in xs]) / 1024, "file": med([x[3] for x in xs]) / 1024,
                  "shmem": med([x[4] for x in xs]) / 1024, "private": med([x[5] for x in xs]) / 1024,
                  "over": med(over), "range": (min(over), max(over))}
        log(f"  memory {n}: " + ", ".join(f"{x[0] / 1024:.1f}-{x[1] / 1024:.1f}" for x in xs) + " MiB (VmRSS-guest)")
    return res


def fmt_ratio(x, y):
    return f"{x / y:.2f}×" if y > 0 else "—"


def table(a, ex, st, mem):
    q = a.qemu
    rows = ["| Measure | vmm | kvm-loop (C) | QEMU 7.2 | vmm / C | Goal |", "|---|---|---|---|---|---|"]

    def qv(d, key, f):
        return format(d[key], f) if d else "not run"

    def rng(d, key):
        lo, hi = d[key + "_range"]
        return f"({lo / a.count * 1e6:.3f}–{hi / a.count * 1e6:.3f})"

    for kind, label in [("pio", "port I/O (`outb` to 0x80)"), ("mmio", "MMIO (store to unmapped 0xd0000000)")]:
        v_, c_, qq = ex[(kind, "vmm")], ex[(kind, "kvm-loop")], ex.get((kind, "qemu"))
        rows.append(f"| {label}: **user CPU s / 1M exits** | **{v_['user']:.3f}** {rng(v_, 'user')} "
                    f"| {c_['user']:.3f} {rng(c_, 'user')} | {qv(qq, 'user', '.3f')} "
                    f"| **{fmt_ratio(v_['user'], c_['user'])}** | ≤ 1.2× C |")
        rows.append(f"| {label}: sys CPU s / 1M exits | {v_['sys']:.2f} | {c_['sys']:.2f} | {qv(qq, 'sys', '.2f')} "
                    f"| {fmt_ratio(v_['sys'], c_['sys'])} | |")
        rows.append(f"| {label}: wall s / 1M exits | {v_['wall']:.2f} | {c_['wall']:.2f} | {qv(qq, 'wall', '.2f')} "
                    f"| {fmt_ratio(v_['wall'], c_['wall'])} | |")

    def ms(key):
        r = st.get(key)
        return f"{r['median'] * 1000:.1f} (mean {r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f})" if r else "not run"

    for k, label in [("first-byte", "start-up: exec → first console byte of `hello.elf`, ms"),
                     ("exit-now", "start-up: exec → exit, `exit-now.elf` (first instruction exits), ms"),
                     ("hello", "start-up: exec → exit, `hello.elf`, ms")]:
        v_, c_ = st[(k, "vmm")], st[(k, "kvm-loop")]
        qtxt = ms((k, "qemu")) if q else "not run"
        if k == "exit-now" and q:
            qtxt = "— (see hello: SeaBIOS dominates)"
        rows.append(f"| {label} | **{ms((k, 'vmm'))}** | {ms((k, 'kvm-loop'))} | {qtxt} "
                    f"| {fmt_ratio(v_['median'], c_['median'])} | ≤ 5 ms |")
    mv, mc, mq = mem["vmm"], mem["kvm-loop"], mem.get("qemu")
    rows.append(f"| memory, idle `echo.elf`: VmRSS, MiB | {mv['vmrss']:.1f} | {mc['vmrss']:.1f} | {qv(mq, 'vmrss', '.1f')} | | |")
    rows.append(f"| memory: resident guest RAM (memfd), MiB | {mv['guest']:.1f} | {mc['guest']:.1f} | {qv(mq, 'guest', '.1f')} | | |")
    for key, what in [("anon", "RssAnon (private heap, stacks, relocated data)"), ("file", "RssFile (mapped binary and libraries, shared page cache)"),
                      ("shmem", "RssShmem (memfd / shared)")]:
        rows.append(f"| memory: {what}, MiB | {mv[key]:.1f} | {mc[key]:.1f} | {qv(mq, key, '.1f')} | | |")
    rows.append(f"| memory: **VmRSS minus guest RAM, MiB** | **{mv['over']:.1f}** | {mc['over']:.1f} | {qv(mq, 'over', '.1f')} "
                f"| {fmt_ratio(mv['over'], mc['over'])} | ≤ 5 MiB |")

    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kvm-loop", required=True)
    ap.add_argument("--guests", required=True, help="bench/guests build dir (exit-now)")
    ap.add_argument("--test-guests", required=True, help="Tests/Guests build dir (hello, echo)")
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mem-runs", type=int, default=5)
    ap.add_argument("--no-qemu", dest="qemu", action="store_false")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    a.workdir = tempfile.mkdtemp(prefix="vmm-bench-")
    v = VMMs(a)
    t0 = time.time()
    log(f"== memory (idle echo.elf, {a.mem_runs} runs each)")
    mem = memory(a, v)
    log("== start-up (hyperfine, 20 runs each)")
    st = startup(a, v)
    log(f"== exit cost ({a.count} exits, {a.runs} runs each, interleaved)")
    ex = exit_cost(a, v)
    t = table(a, ex, st, mem)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    hdr = (f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {os.cpu_count()} cores {cpu}, "
           f"kernel {os.uname().release}, /dev/kvm = PVM (nested), "
           f"{'QEMU 7.2, ' if a.qemu else ''}{a.count} exits × {a.runs} runs (medians; range in parentheses), "
           f"run time {time.time() - t0:.0f} s.\n")
    text = hdr + "\n" + t + "\n"
    print(text)
    with open(a.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
