#!/usr/bin/env python3
"""Snapshots: vmm against QEMU 7.2 on the same idle guest, same kernel, same run.

    python3 bench/snapshot.py                  # builds, then ~10 minutes on 2 busy cores
    python3 bench/snapshot.py --skip-build --runs 5 --restore-runs 10

Builds (unless --skip-build) with `make -C Tests/Guests OUT=.build-bench/test-guests` and
`swift build -c release --static-swift-stdlib --product vmm --scratch-path .build-bench`.
The guest is Tests/Guests/idle.elf: it writes touch=N MiB (default 64, non-zero
pattern), prints "idle: touched N MiB" and halts with the LAPIC timer ticking.

1. Pause: 256 MiB and 2 GiB guests. Each run boots one vmm and one QEMU guest (side by
   side, so each is measured while the other idles), waits for "idle: touched", 1 s
   more, then snapshots each in turn (alternating which goes first):
   vmm: control request `snapshot DIR` → `paused_ms` of the answer (and the request's
   wall time). QEMU: QMP `migrate` to `exec:cat > FILE` with default migration
   parameters → `downtime` (and `total-time`) of `query-migrate` once `completed`.
   Both copy memory while the guest runs and pause it only at the end.
2. Restore: 256 MiB and 4 GiB guests, exec → guest running, runs of the sides
   interleaved. vmm: exec of `vmm restore DIR --pid-file P` until P appears (inotify;
   vmm writes it by rename right before the vCPUs first run); against exec of `vmm run`
   of the same guest (same RAM size) until its pid file appears. QEMU: exec of the same
   command line + `-incoming "exec:cat FILE"` (runs by itself when the stream is loaded)
   until QMP says running (`query-status` once connected, else the `RESUME` event).
   Warm: the snapshot files are in the page cache. Cold: before each run the snapshot's
   files (vmm's `memory` and `state`, QEMU's stream) are dropped from the page cache with
   posix_fadvise(DONTNEED) (only those files: the machine is shared; binaries stay warm).
3. Size: `du` of the snapshot folder / of QEMU's stream file, against RAM and touched.

Not a test: nothing asserts; goals are only reported. Writes --out (Markdown).
"""
import argparse
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from qmp import QMP

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRATCH = os.path.join(ROOT, ".build-bench")

MIB = 1 << 20


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, spec=".1f"):
    return "—" if v is None else format(v, spec)


def size_arg(mib):
    return f"{mib}M"


# ---------------------------------------------------------------- inotify
_libc = ctypes.CDLL(None, use_errno=True)
IN_CREATE, IN_MOVED_TO, IN_CLOEXEC, IN_NONBLOCK = 0x100, 0x80, 0o2000000, 0o4000


class DirWatch:
    """inotify on a folder: wait() returns once a file named `name` is created or renamed in."""

    def __init__(self, folder):
        self.fd = _libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if _libc.inotify_add_watch(self.fd, folder.encode(), IN_CREATE | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch")

    def wait(self, name, proc, timeout=120):
        want = name.encode()
        deadline = time.monotonic() + timeout
        while True:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                t = time.perf_counter()
                buf = os.read(self.fd, 65536)
                i = 0
                while i < len(buf):
                    _, _, _, ln = struct.unpack_from("iIII", buf, i)
                    n = buf[i + 16:i + 16 + ln].rstrip(b"\0")
                    i += 16 + ln
                    if n == want:
                        return t
            elif proc.poll() is not None:
                raise RuntimeError(f"process ended (status {proc.returncode}) before {name} appeared")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not appear in {timeout} s")

    def close(self):
        os.close(self.fd)


# ---------------------------------------------------------------- command lines
def vmm_run_cmd(a, mib, work, tag):
    return [a.vmm, "run", "--kernel", a.guest, "--cmdline", f"touch={a.touch}", "--memory", size_arg(mib),
            "--no-rng", "--control-socket", os.path.join(work, f"{tag}.sock")]


def qemu_cmd(a, mib, work, tag, serial):
    return [a.qemu, "-accel", "kvm", "-cpu", "qemu64", "-M", "pc", "-m", size_arg(mib),
            "-kernel", a.guest, "-append", f"touch={a.touch}", "-display", "none", "-nodefaults",
            "-serial", f"file:{serial}", "-qmp", f"unix:{os.path.join(work, tag + '.qmp')},server,nowait"]


def vmm_request(path, line, timeout=600):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    t0 = time.perf_counter()
    s.sendall(line.encode() + b"\n")
    answer = s.makefile("rb").readline()
    wall = time.perf_counter() - t0
    s.close()
    return json.loads(answer), wall


def du_bytes(path):
    return int(subprocess.run(["du", "-s", "--block-size=1", path], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def settle_stream(path, quiet=0.1, timeout=30):
    """QEMU's `completed` means it wrote the stream into cat's pipe: wait until cat has
    written it all (the size stops changing), then fsync it as vmm syncs its own files."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        size = os.path.getsize(path)
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.01)
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def wait_for(path, text, proc, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if text in open(path, "rb").read():
                return
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} ended (status {proc.returncode}) before {text!r}:\n"
                               + open(path, "rb").read().decode(errors="replace")[-500:])
        if time.monotonic() > deadline:
            raise RuntimeError(f"{text!r} did not appear within {timeout} s")
        time.sleep(0.05)


def stop(proc, timeout=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- 1. pause
class Guest:
    """One idle guest under vmm or QEMU, booted and touched."""

    def __init__(self, a, side, mib, work, tag):
        self.side, self.mib, self.work, self.tag = side, mib, work, tag
        self.out = os.path.join(work, f"{tag}.out")
        remove(self.out)            # QEMU truncates it only once it opens it: no stale "touched"
        err = open(os.path.join(work, f"{tag}.err"), "wb")
        if side == "vmm":
            self.cmd = vmm_run_cmd(a, mib, work, tag)
            self.p = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=open(self.out, "wb"), stderr=err)
        else:
            self.cmd = qemu_cmd(a, mib, work, tag, self.out)
            self.p = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def ready(self, timeout=300):
        wait_for(self.out, f"idle: touched {self.touch_expected} MiB".encode(), self.p, timeout)

    def snapshot(self, dest):
        if self.side == "vmm":
            ans, wall = vmm_request(os.path.join(self.work, f"{self.tag}.sock"), f"snapshot {dest}")
            if not ans.get("ok"):
                raise RuntimeError(f"vmm snapshot: {ans}")
            return {"pause_ms": ans["paused_ms"], "wall_ms": wall * 1000, "bytes": ans["bytes"],
                    "du": du_bytes(dest), "answer": ans}
        q = QMP(os.path.join(self.work, f"{self.tag}.qmp"))
        t0 = time.perf_counter()
        q.cmd("migrate", uri=f"exec:cat > {dest}")
        while True:
            info = q.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        params = q.cmd("query-migrate-parameters")
        q.close()
        if info["status"] != "completed":
            raise RuntimeError(f"QEMU migrate: {info}")
        settle_stream(dest)
        return {"pause_ms": info["downtime"], "wall_ms": wall * 1000, "qemu_total_ms": info.get("total-time"),
                "bytes": os.path.getsize(dest), "du": du_bytes(dest), "ram": info.get("ram", {}),
                "params": {k: params.get(k) for k in ("downtime-limit", "max-bandwidth")}}

    def close(self):
        if self.side == "qemu" and self.p.poll() is None:
            try:
                q = QMP(os.path.join(self.work, f"{self.tag}.qmp"), timeout=2)
                q.cmd("quit")
                q.close()
                self.p.wait(10)
            except Exception:
                pass
        stop(self.p)


def pause_bench(a, work, mib, keep):
    """Returns {side: [result per run]}; keeps the last run's snapshots at keep[(side, mib)]."""
    res = {"vmm": [], "qemu": []}
    for run in range(a.runs):
        sides = ["vmm", "qemu"] if run % 2 == 0 else ["qemu", "vmm"]
        guests = {}
        try:
            for side in sides:
                g = Guest(a, side, mib, work, f"pause-{side}-{mib}")
                g.touch_expected = a.touch
                guests[side] = g
            for side in sides:
                guests[side].ready()
            time.sleep(1.0)
            for side in sides:
                dest = os.path.join(work, f"snap-{side}-{mib}-{run}")
                r = guests[side].snapshot(dest)
                res[side].append(r)
                log(f"  pause {mib} MiB run {run + 1}/{a.runs} {side:4}: paused {r['pause_ms']} ms, "
                    f"request {r['wall_ms']:.0f} ms, {r['du'] / MIB:.1f} MiB on disk")
                old = keep.get((side, mib))
                keep[(side, mib)] = dest
                if old:
                    remove(old)
        finally:
            for g in guests.values():
                g.close()
    return res


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.unlink(path)


def take_snapshot(a, work, side, mib):
    """One snapshot of a fresh idle guest of mib MiB (for restore-only sizes)."""
    g = Guest(a, side, mib, work, f"snap-{side}-{mib}")
    g.touch_expected = a.touch
    try:
        g.ready()
        time.sleep(0.5)
        dest = os.path.join(work, f"snap-{side}-{mib}-restore")
        r = g.snapshot(dest)
        log(f"  snapshot for restore, {side} {mib} MiB: paused {r['pause_ms']} ms, {r['du'] / MIB:.1f} MiB on disk")
        return dest, r
    finally:
        g.close()


# ---------------------------------------------------------------- 2. restore
def drop_file_cache(path):
    files = [os.path.join(path, f) for f in os.listdir(path)] if os.path.isdir(path) else [path]
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def time_vmm_start(cmd, work):
    """exec → pid file (vmm writes it by rename right before the vCPUs first run)."""
    pidfile = os.path.join(work, "start.pid")
    remove(pidfile)
    w = DirWatch(work)
    err = open(os.path.join(work, "start.err"), "wb")
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd + ["--pid-file", pidfile], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        t1 = w.wait(os.path.basename(pidfile), p)
    finally:
        w.close()
    p.kill()
    p.wait()
    remove(pidfile)
    return (t1 - t0) * 1000


def time_qemu_restore(a, work, mib, stream):
    tag = "restore-qemu"
    qmp_path = os.path.join(work, tag + ".qmp")
    remove(qmp_path)
    cmd = qemu_cmd(a, mib, work, tag, os.path.join(work, tag + ".out")) + ["-incoming", f"exec:cat {stream}"]
    err = open(os.path.join(work, tag + ".err"), "wb")
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        q = QMP(qmp_path)
        if q.cmd("query-status")["status"] == "running":
            t1 = time.perf_counter()
        else:
            q.wait_event(lambda e: e["event"] == "RESUME", timeout=120)
            t1 = time.perf_counter()
        status = q.cmd("query-status")["status"]
        if status != "running":
            raise RuntimeError(f"QEMU after incoming migration: {status}")
        q.cmd("quit")
        q.close()
        p.wait(10)
    finally:
        stop(p)
    return (t1 - t0) * 1000


def restore_bench(a, work, mib, vmm_snap, qemu_stream):
    res = {k: [] for k in ("vmm restore", "vmm run", "qemu restore", "vmm restore cold", "qemu restore cold")}
    run_cmd = [a.vmm, "run", "--kernel", a.guest, "--cmdline", f"touch={a.touch}", "--memory", size_arg(mib), "--no-rng"]
    restore_cmd = [a.vmm, "restore", vmm_snap]
    for run in range(a.restore_runs):
        order = ["vmm restore", "vmm run", "qemu restore"]
        if run % 2:
            order.reverse()
        for what in order:
            if what == "vmm restore":
                ms = time_vmm_start(restore_cmd, work)
            elif what == "vmm run":
                ms = time_vmm_start(run_cmd, work)
            else:
                ms = time_qemu_restore(a, work, mib, qemu_stream)
            res[what].append(ms)
        if a.cold:
            for what in (["vmm restore cold", "qemu restore cold"] if run % 2 == 0
                         else ["qemu restore cold", "vmm restore cold"]):
                if what.startswith("vmm"):
                    drop_file_cache(vmm_snap)
                    ms = time_vmm_start(restore_cmd, work)
                else:
                    drop_file_cache(qemu_stream)
                    ms = time_qemu_restore(a, work, mib, qemu_stream)
                res[what].append(ms)
        log(f"  restore {mib} MiB run {run + 1}/{a.restore_runs}: "
            + ", ".join(f"{k} {v[-1]:.1f} ms" for k, v in res.items() if v))
    return res


# ---------------------------------------------------------------- report
def report(a, pause, sizes_p, restore, sizes_r, snaps, t_total):
    L = []
    qv = subprocess.run([a.qemu, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    L.append(f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {os.cpu_count()} cores {cpu}, kernel "
             f"{os.uname().release}, /dev/kvm = PVM (nested); {qv}; guest `idle.elf touch={a.touch}` "
             f"({a.touch} MiB written); pause: {a.runs} runs per side, restore: {a.restore_runs} runs per side, "
             f"interleaved; medians (range); load average at the end {load}; run time {t_total:.0f} s.")
    L.append("")
    params = next((r.get("params") for rs in pause.values() for r in rs.get("qemu", []) if r.get("params")), None)
    L.append("### 1. Guest pause of a snapshot (idle guest)")
    L.append("")
    L.append("| guest RAM | vmm pause ms (`paused_ms`) | QEMU pause ms (`downtime`) | vmm / QEMU | vmm request wall ms | "
             "QEMU migrate wall ms | goal (vmm, 256 MiB) |")
    L.append("|---|---|---|---|---|---|---|")
    for mib in sizes_p:
        v, q = pause[mib]["vmm"], pause[mib]["qemu"]
        vp, qp = med([r["pause_ms"] for r in v]), med([r["pause_ms"] for r in q])
        rng = lambda rs, k: f"({min(r[k] for r in rs):.0f}–{max(r[k] for r in rs):.0f})" if rs else ""
        goal = ""
        if mib == 256 and vp is not None:
            goal = f"≤ 20 ms: {'met' if vp <= 20 else '**missed** by ' + format(vp - 20, '.0f') + ' ms'}"
        L.append(f"| {mib_label(mib)} | **{fmt(vp, '.0f')}** {rng(v, 'pause_ms')} | {fmt(qp, '.0f')} {rng(q, 'pause_ms')} "
                 f"| {fmt(vp / qp if vp is not None and qp else None, '.2f')}× "
                 f"| {fmt(med([r['wall_ms'] for r in v]), '.0f')} {rng(v, 'wall_ms')} "
                 f"| {fmt(med([r['wall_ms'] for r in q]), '.0f')} {rng(q, 'wall_ms')} | {goal} |")
    L.append("")
    L.append("vmm's `paused_ms` is whole milliseconds, rounded up. QEMU migration parameters (defaults): "
             + (", ".join(f"`{k}` {v}" for k, v in params.items()) if params else "—") + ".")
    L.append("")
    L.append("### 2. Restore: exec → guest running")
    L.append("")
    L.append("| guest RAM | `vmm run` → pid file | `vmm restore` → pid file | restore − run | QEMU `-incoming exec:cat` → running "
             "| vmm restore, snapshot files cold | QEMU restore, stream file cold |")
    L.append("|---|---|---|---|---|---|---|")
    mr = {}
    for mib in sizes_r:
        r = restore[mib]
        m = {k: med(v) for k, v in r.items()}
        mr[mib] = m
        rng = lambda k: f"({min(r[k]):.1f}–{max(r[k]):.1f})" if r[k] else ""
        diff = m["vmm restore"] - m["vmm run"]
        L.append(f"| {mib_label(mib)} | {m['vmm run']:.1f} {rng('vmm run')} | **{m['vmm restore']:.1f}** {rng('vmm restore')} "
                 f"| {diff:+.1f} | {m['qemu restore']:.1f} {rng('qemu restore')} "
                 f"| {fmt(m['vmm restore cold'])} {rng('vmm restore cold')} | {fmt(m['qemu restore cold'])} {rng('qemu restore cold')} |")
    L.append("")
    L.append("All times in ms, medians (range).")
    if len(sizes_r) == 2:
        lo, hi = sizes_r
        ratio = mr[hi]["vmm restore"] / mr[lo]["vmm restore"]
        qratio = mr[hi]["qemu restore"] / mr[lo]["qemu restore"]
        diffs = [mr[m]["vmm restore"] - mr[m]["vmm run"] for m in sizes_r]
        L.append("")
        L.append("| restore goal | result |")
        L.append("|---|---|")
        for mib, d in zip(sizes_r, diffs):
            L.append(f"| {mib_label(mib)}: within 2 ms of `vmm run`'s start-up | {d:+.1f} ms: "
                     f"{'met' if d <= 2 else '**missed** by ' + format(d - 2, '.1f') + ' ms'} |")
        L.append(f"| {mib_label(hi)} ≤ 1.2 × {mib_label(lo)} | {ratio:.2f}× (QEMU {qratio:.2f}×): "
                 f"{'met' if ratio <= 1.2 else '**missed**'} |")
    L.append("")
    L.append("### 3. Snapshot size on disk")
    L.append("")
    L.append(f"| guest RAM | touched | vmm: `du` of the folder | vmm: `memory_bytes` | QEMU: `du` of the stream "
             f"| QEMU: stream bytes | vmm / QEMU |")
    L.append("|---|---|---|---|---|---|---|")
    for mib in sorted(snaps):
        v, q = snaps[mib].get("vmm"), snaps[mib].get("qemu")
        if not v or not q:
            continue
        L.append(f"| {mib_label(mib)} | {a.touch} MiB | {v['du'] / MIB:.1f} MiB | {v['answer']['memory_bytes'] / MIB:.1f} MiB "
                 f"| {q['du'] / MIB:.1f} MiB | {q['bytes'] / MIB:.1f} MiB | {v['du'] / q['du']:.2f}× |")
    return "\n".join(L) + "\n"


def mib_label(mib):
    return f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"


def build():
    log("== make -C Tests/Guests")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "Tests/Guests"),
                    f"OUT={os.path.join(SCRATCH, 'test-guests')}"], check=True, stdout=sys.stderr)
    log("== swift build -c release --product vmm (scratch .build-bench)")
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "vmm",
                    "--scratch-path", SCRATCH], check=True, cwd=ROOT, stdout=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmm", default=os.path.join(SCRATCH, "release", "vmm"))
    ap.add_argument("--guest", default=os.path.join(SCRATCH, "test-guests", "idle.elf"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--touch", type=int, default=64, help="MiB the guest writes")
    ap.add_argument("--runs", type=int, default=5, help="pause runs per side and size")
    ap.add_argument("--restore-runs", type=int, default=10, help="restore runs per side and size")
    ap.add_argument("--pause-sizes", default="256,2048", help="MiB")
    ap.add_argument("--restore-sizes", default="256,4096", help="MiB")
    ap.add_argument("--no-cold", dest="cold", action="store_false", help="skip the cold-file restore runs")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--workdir", default=SCRATCH, help="snapshots go in a temporary folder here")
    ap.add_argument("--out", default=os.path.join(HERE, "results-snapshot-latest.md"))
    ap.add_argument("--json", help="also write every run's raw numbers here")
    a = ap.parse_args()
    a.guest = os.path.abspath(a.guest)
    if not a.skip_build:
        build()
    for path in (a.vmm, a.guest):
        if not os.path.exists(path):
            sys.exit(f"snapshot.py: {path} not found (build it, or pass --vmm/--guest)")
    if not shutil.which(a.qemu):
        sys.exit(f"snapshot.py: {a.qemu} not found (apt-get install -y qemu-system-x86)")
    os.makedirs(a.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="snapshot-bench-", dir=a.workdir)
    sizes_p = [int(x) for x in a.pause_sizes.split(",") if x]
    sizes_r = [int(x) for x in a.restore_sizes.split(",") if x]
    t0 = time.time()
    pause, keep, snaps, restore = {}, {}, {}, {}
    try:
        for mib in sizes_p:
            log(f"== pause: {mib} MiB guest, touch={a.touch}, {a.runs} runs per side")
            pause[mib] = pause_bench(a, work, mib, keep)
            snaps[mib] = {s: pause[mib][s][-1] for s in ("vmm", "qemu") if pause[mib][s]}
        for mib in sizes_r:
            if (("vmm", mib) not in keep) or (("qemu", mib) not in keep):
                snaps[mib] = {}
                for side in ("vmm", "qemu"):
                    keep[(side, mib)], snaps[mib][side] = take_snapshot(a, work, side, mib)
            log(f"== restore: {mib} MiB guest, {a.restore_runs} runs per side")
            restore[mib] = restore_bench(a, work, mib, keep[("vmm", mib)], keep[("qemu", mib)])
        text = report(a, pause, sizes_p, restore, sizes_r, snaps, time.time() - t0)
    finally:
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"pause": pause, "restore": restore, "snaps": snaps}, f, indent=1, default=str)
        shutil.rmtree(work, ignore_errors=True)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    log(f"== wrote {a.out}")


if __name__ == "__main__":
    main()
