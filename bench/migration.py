#!/usr/bin/env python3
"""Live migration: vmm against QEMU 7.2 in the same run, downtime seen from outside the guest.

    python3 bench/migration.py                 # builds; ~10 minutes on 2 busy cores
    python3 bench/migration.py --skip-build --runs 3 --only idle --variants qemu-tcp,vmm-unix

Builds (unless --skip-build) with `make -C Tests/Guests OUT=.build-bench/test-guests` and
`swift build -c release --static-swift-stdlib --product vmm|vmmd --scratch-path .build-bench`.

Guest: Tests/Guests/ticker.elf. Its PIT interrupts every millisecond (channel 0, mode 2,
divisor 1193) and the handler writes one '.' to COM1. `touch=N` first writes a word into
every page of N MiB (so neither VMM can skip them as zero pages), `dirty=N` keeps
rewriting one word in every page of N MiB between ticks (the guest prints how many MiB
a second it managed before the ticks start: on PVM its kernel mode is emulated).

Downtime from outside: the benchmark reads the source's and the destination's consoles
(pipes, or vmm's console socket under vmmd) in one thread each, stamping every chunk
with the same clock (CLOCK_MONOTONIC, `time.perf_counter`). Downtime = the first tick
byte from the destination minus the last one from the source, minus the tick period
(0.99985 ms). The noise floor is the longest gap between ticks on the source in the
second before the migration starts (same reader, no migration going on): a downtime
below it cannot be told from the host's scheduling jitter.

Scenarios (each: --runs runs per variant, variants interleaved, medians):
  idle   256 MiB guest, touch=64, no dirtying.
  dirty  1 GiB guest, touch=1024, dirty=256 (keeps rewriting 256 MiB).
  bulk   1 GiB guest, touch=1024, idle: stream throughput = bytes sent / migration time.

Variants:
  qemu-tcp   QEMU 7.2 (`-accel kvm -cpu qemu64 -M pc -nodefaults`), source in network
             namespace A, destination (`-incoming defer`, then QMP `migrate-incoming
             tcp:10.213.0.2:4444`) in namespace B, joined by a veth pair the benchmark
             creates (and deletes at the end). QMP `migrate-set-parameters` on the source:
             `downtime-limit` 300 ms (QEMU's default), `max-bandwidth` raised from QEMU's
             default 128 MiB/s to 100 GB/s (vmm's default is unlimited), capability
             `auto-converge` on (vmm always throttles a guest that does not converge;
             without it QEMU took 2-4 minutes and 6-12 GB to move the dirtying guest
             over TLS here). QEMU's own numbers:
             `downtime`, `total-time`, `ram.transferred` of `query-migrate`.
  qemu-tls   the same with `tls-creds-x509` objects on both sides (verify-peer: mutual
             TLS; a CA and two certificates made with openssl).
  vmm-unix   two vmm processes on this host: `vmm receive --incoming SOCK`, control
             request `migrate SOCK max-downtime=300` to the running source (no TLS, no
             TCP). vmm's own numbers: the source's `status` `migration` object.
  vmm-tls    two vmmd, one per namespace, mutual TLS on the veth (the daemons' migration),
             only if this vmmd has `POST /v1/vms/{name}/migrate`.

Total migration time (all variants): from sending the migrate request until the
destination's first console byte. Bytes: each VMM's own count of stream bytes, and
the bytes the source's veth sent (TCP variants: TCP/IP and TLS overhead included).

Not a test: nothing asserts; goals are only reported. Writes --out (Markdown).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from qmp import QMP
from unix_http import UnixHTTPConnection

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRATCH = os.path.join(ROOT, ".build-bench")

MIB = 1 << 20
TICK_MS = 1193 / 1193182 * 1000                 # the guest's PIT period
NS_A, NS_B = f"migA{os.getpid()}", f"migB{os.getpid()}"
IF_A, IF_B = "mig0", "mig1"
IP_A, IP_B = "10.213.0.1", "10.213.0.2"
QEMU_PORT = 4444
VMMD_PORT = 4450                                # API port; migration port = API + 1

SCENARIOS = {
    "idle": {"mib": 256, "cmdline": "touch=64"},
    "dirty": {"mib": 1024, "cmdline": "touch=1024 dirty=256"},
    "bulk": {"mib": 1024, "cmdline": "touch=1024"},
}
VARIANTS = ["vmm-unix", "vmm-tls", "qemu-tcp", "qemu-tls"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, spec=".1f"):
    return "—" if v is None else format(v, spec)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


# ---------------------------------------------------------------- network namespaces
class Namespaces:
    """Two network namespaces joined by a veth pair; deleted by close() (and at exit)."""

    def __init__(self):
        self.made = []
        for ns in (NS_A, NS_B):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
        sh("ip", "link", "add", IF_A, "netns", NS_A, "type", "veth", "peer", "name", IF_B, "netns", NS_B)
        for ns, ifname, ip in ((NS_A, IF_A, IP_A), (NS_B, IF_B, IP_B)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", ifname)
            sh("ip", "-n", ns, "link", "set", ifname, "up")

    @staticmethod
    def tx_bytes(ns=NS_A, ifname=IF_A):
        info = json.loads(sh("ip", "-n", ns, "-j", "-s", "link", "show", "dev", ifname))
        return info[0]["stats64"]["tx"]["bytes"]

    def close(self):
        for ns in self.made:
            sh("ip", "netns", "del", ns, check=False)
        self.made = []


# ---------------------------------------------------------------- consoles
class Console:
    """Reads a guest console (a pipe or a socket) on a thread of its own and stamps each
    chunk with time.perf_counter(): the source and destination readers share that clock."""

    def __init__(self, fd, name, sock=None):
        self.fd, self.name, self.sock = fd, name, sock
        self.data = bytearray()
        self.chunks = []                        # (time, end offset in data)
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._read, name=name, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                d = self.sock.recv(65536) if self.sock else os.read(self.fd, 65536)
            except OSError:
                d = b""
            t = time.perf_counter()
            if not d:
                break
            with self.lock:
                self.data += d
                self.chunks.append((t, len(self.data)))
        self.closed = True

    def find(self, text):
        with self.lock:
            return self.data.find(text)

    def wait(self, text, proc=None, timeout=300):
        deadline = time.monotonic() + timeout
        while True:
            i = self.find(text)
            if i >= 0:
                return i + len(text)
            if (proc is not None and proc.poll() is not None) or self.closed:
                raise RuntimeError(f"{self.name}: ended before {text!r}: {bytes(self.data[-300:])!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {text!r} in {timeout} s: {bytes(self.data[-300:])!r}")
            time.sleep(0.01)

    def first_time_after(self, offset, timeout):
        """Time of the chunk holding byte `offset` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, end in self.chunks:
                    if end > offset:
                        return t
            if self.closed:
                return None
            time.sleep(0.002)
        return None

    def last_time(self):
        with self.lock:
            return self.chunks[-1][0] if self.chunks else None

    def max_gap(self, t_from, t_to):
        with self.lock:
            ts = [t for t, _ in self.chunks if t_from <= t <= t_to]
        return max((b - a for a, b in zip(ts, ts[1:])), default=None)

    def ticks_between(self, t_from, t_to):
        with self.lock:
            prev = next((end for t, end in reversed(self.chunks) if t < t_from), None)
            last = next((end for t, end in reversed(self.chunks) if t <= t_to), None)
        return None if prev is None or last is None else last - prev


def stop(proc, timeout=10):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_path(path, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} ended (status {proc.returncode}) before {path} appeared")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear in {timeout} s")
        time.sleep(0.002)


# ---------------------------------------------------------------- QEMU


def make_qemu_certs(work):
    """A CA and a server (B) and client (A) certificate in QEMU's tls-creds-x509 layout."""
    d = os.path.join(work, "qemu-tls")
    srv, cli = os.path.join(d, "server"), os.path.join(d, "client")
    os.makedirs(srv)
    os.makedirs(cli)
    ca_key, ca_crt = os.path.join(d, "ca-key.pem"), os.path.join(d, "ca-cert.pem")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
       "-days", "2", "-subj", "/CN=migration-bench-ca",
       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for folder, role, san, usage in ((srv, "server", f"IP:{IP_B}", "serverAuth"), (cli, "client", f"IP:{IP_A}", "clientAuth")):
        key, csr, crt = (os.path.join(folder, f"{role}-key.pem"), os.path.join(d, f"{role}.csr"),
                         os.path.join(folder, f"{role}-cert.pem"))
        ext = os.path.join(d, f"{role}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
                    f"keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n")
        sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={role}")
        sh("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
           "-out", crt, "-days", "2", "-extfile", ext)
        shutil.copy(ca_crt, os.path.join(folder, "ca-cert.pem"))
    return srv, cli


def qemu_cmd(a, ns, mib, cmdline, qmp, tls_dir=None, tls_endpoint=None, incoming=False):
    cmd = ["ip", "netns", "exec", ns,                    # ip execs QEMU: same pid
           a.qemu, "-accel", "kvm", "-cpu", "qemu64", "-M", "pc", "-m", f"{mib}M",
           "-kernel", a.guest, "-append", cmdline, "-display", "none", "-nodefaults",
           "-monitor", "none", "-serial", "stdio", "-qmp", f"unix:{qmp},server,nowait"]
    if tls_dir:
        cmd += ["-object", f"tls-creds-x509,id=tls0,dir={tls_dir},endpoint={tls_endpoint},verify-peer=on"]
    if incoming:
        cmd += ["-incoming", "defer"]
    return cmd


def qemu_quit(proc, qmp_path):
    if proc.poll() is None:
        try:
            q = QMP(qmp_path, timeout=2)
            q.cmd("quit")
            q.close()
            proc.wait(10)
        except Exception:
            pass
    stop(proc)


def migrate_qemu(a, work, scen, tls, certs):
    mib, cmdline = scen["mib"], scen["cmdline"]
    src_qmp, dst_qmp = os.path.join(work, "src.qmp"), os.path.join(work, "dst.qmp")
    for p in (src_qmp, dst_qmp):
        if os.path.exists(p):
            os.unlink(p)
    err = open(os.path.join(work, "qemu.err"), "ab")
    src = dst = qs = qd = None
    try:
        src = subprocess.Popen(qemu_cmd(a, NS_A, mib, cmdline, src_qmp, certs[1] if tls else None, "client"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        src_con = Console(src.stdout.fileno(), "qemu-src")
        rate = guest_ready(src_con, src)
        dst = subprocess.Popen(qemu_cmd(a, NS_B, mib, cmdline, dst_qmp, certs[0] if tls else None, "server",
                                        incoming=True),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        dst_con = Console(dst.stdout.fileno(), "qemu-dst")
        qd = QMP(dst_qmp)
        if tls:
            qd.cmd("migrate-set-parameters", **{"tls-creds": "tls0"})
        qd.cmd("migrate-incoming", uri=f"tcp:{IP_B}:{QEMU_PORT}")
        qs = QMP(src_qmp)
        qs.cmd("migrate-set-capabilities", capabilities=[{"capability": "events", "state": True},
                                                         {"capability": "auto-converge", "state": True}])
        params = {"downtime-limit": 300, "max-bandwidth": 100 * 10**9}
        if tls:
            params["tls-creds"] = "tls0"
        qs.cmd("migrate-set-parameters", **params)
        noise = settle(src_con)
        bytes0 = Namespaces.tx_bytes()
        t0 = time.perf_counter()
        qs.cmd("migrate", uri=f"tcp:{IP_B}:{QEMU_PORT}")
        ev = qs.wait_event(lambda e: e["event"] == "MIGRATION"
                           and e["data"]["status"] in ("completed", "failed", "cancelled"))
        info = qs.cmd("query-migrate")
        if info["status"] != "completed":
            raise RuntimeError(f"QEMU migration {ev['data']['status']}: {info}")
        t_first = dst_con.first_time_after(0, timeout=60)
        bytes1 = Namespaces.tx_bytes()
        ram = info.get("ram", {})
        # QEMU 7.2 sometimes answers a completed migration with total-time 0 and downtime 0
        # (seen over TLS): no figure of its own then.
        bogus = not info.get("total-time")
        return result(t0, src_con, t_first, noise, rate, own_downtime=None if bogus else info.get("downtime"),
                      own_total=None if bogus else info.get("total-time"), stream_bytes=ram.get("transferred"),
                      wire_bytes=bytes1 - bytes0, qemu_zero_times=bogus)
    finally:
        for q in (qs, qd):
            if q:
                q.close()
        if src:
            qemu_quit(src, src_qmp)
        if dst:
            qemu_quit(dst, dst_qmp)


# ---------------------------------------------------------------- vmm
def vmm_request(path, line, timeout=60):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    answer = s.makefile("rb").readline()
    s.close()
    if not answer:
        raise ConnectionError(f"no answer to {line!r}")
    return json.loads(answer)


def vmm_has(a, command):
    return subprocess.run([a.vmm, command, "--help"], capture_output=True).returncode == 0


def migrate_vmm_unix(a, work, scen):
    mib, cmdline = scen["mib"], scen["cmdline"]
    ctl_src, ctl_dst = os.path.join(work, "src.ctl"), os.path.join(work, "dst.ctl")
    incoming, src_log = os.path.join(work, "incoming.sock"), os.path.join(work, "vmm-src.err")
    for p in (ctl_src, ctl_dst, incoming):
        if os.path.exists(p):
            os.unlink(p)
    src = dst = None
    try:
        src = subprocess.Popen([a.vmm, "run", "--kernel", a.guest, "--cmdline", cmdline, "--memory", f"{mib}M",
                                "--no-rng", "--control-socket", ctl_src],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(src_log, "wb"))
        src_con = Console(src.stdout.fileno(), "vmm-src")
        rate = guest_ready(src_con, src)
        dst = subprocess.Popen([a.vmm, "receive", "--incoming", incoming, "--control-socket", ctl_dst],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=open(os.path.join(work, "vmm-dst.err"), "wb"))
        dst_con = Console(dst.stdout.fileno(), "vmm-dst")
        wait_path(incoming, dst)
        noise = settle(src_con)
        t0 = time.perf_counter()
        ans = vmm_request(ctl_src, f"migrate {incoming} max-downtime=300")
        if not ans.get("ok"):
            raise RuntimeError(f"vmm migrate: {ans}")
        while src.poll() is None:                    # the source exits once the guest runs on D
            try:
                mig = vmm_request(ctl_src, "status", timeout=5).get("migration") or {}
                if mig.get("phase") in ("failed", "cancelled"):
                    raise RuntimeError(f"vmm migration {mig.get('phase')}: {mig}")
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        t_first = dst_con.first_time_after(0, timeout=60)
        with open(src_log, errors="replace") as f:
            m = re.search(r"completed: (\d+) bytes in (\d+) rounds, (\d+) Mbit/s, downtime (\d+) ms, total (\d+) ms",
                          f.read())
        if src.returncode != 0 or not m:
            raise RuntimeError(f"vmm source exited {src.returncode} without a completed migration (see {src_log})")
        return result(t0, src_con, t_first, noise, rate, own_downtime=int(m[4]), own_total=int(m[5]),
                      stream_bytes=int(m[1]), wire_bytes=None, rounds=int(m[2]))
    finally:
        stop(src)
        stop(dst)


# ---------------------------------------------------------------- common
def guest_ready(con, proc):
    """Waits for "ticker: ready"; returns the guest's dirty rate line's MiB/s, if any."""
    end = con.wait(b"ticker: ready\n", proc)
    with con.lock:
        text = bytes(con.data[:end]).decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("ticker: dirtying"):
            return int(line.split(" over ")[1].split()[0])
    return None


def settle(con, seconds=1.0):
    """Lets the guest tick for `seconds` and returns the longest gap between ticks then (ms)."""
    t0 = time.perf_counter()
    time.sleep(seconds)
    gap = con.max_gap(t0, time.perf_counter())
    return None if gap is None else gap * 1000


def result(t0, src_con, t_first, noise, rate, **own):
    t_last = src_con.last_time()
    if t_first is None or t_last is None:
        raise RuntimeError("no console byte from the destination (or none from the source)")
    r = {"downtime_ms": (t_first - t_last) * 1000 - TICK_MS, "total_ms": (t_first - t0) * 1000,
         "noise_ms": noise, "dirty_rate": rate,
         "src_last_ms": (t_last - t0) * 1000, "dst_first_ms": (t_first - t0) * 1000,
         "precopy_gap_ms": max(0.0, (src_con.max_gap(t0, t_last) or 0) * 1000 - TICK_MS)}
    r.update(own)
    return r


# ---------------------------------------------------------------- report
def report(a, res, measured, skipped, drain, t_total, merged=()):
    L = []
    qv = subprocess.run([a.qemu, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    L.append(f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {os.cpu_count()} cores {cpu}, kernel "
             f"{os.uname().release}, /dev/kvm = PVM (nested: guest kernel mode emulated); {qv}; guest "
             f"`ticker.elf` (a console byte per 1 kHz PIT tick); {a.idle_runs} (idle) / {a.runs} (dirty, bulk) runs "
             f"per variant, variants interleaved; medians (range); load average at the end {load}; run time {t_total:.0f} s"
             + "".join(f"; {m}" for m in merged) + ".")
    L.append("")
    L.append("Variants measured: " + ", ".join(f"`{v}`" for v in measured) + "."
             + ("" if not skipped else " Not measured: " + "; ".join(f"`{v}` ({why})" for v, why in skipped.items()) + "."))
    L.append("")
    L.append("| scenario | variant | **downtime from outside**, ms | own reported downtime, ms | longest tick gap on the "
             "source during the pre-copy, ms | noise floor: longest tick gap before, ms | total: request → first "
             "destination byte, ms | own total, ms | stream bytes, MiB | bytes on the veth, MiB | throughput, MB/s "
             "| rounds | guest dirty rate, MiB/s |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def cell(rs, k, spec=".1f", scale=1.0):
        xs = [r[k] / scale for r in rs if r.get(k) is not None]
        if not xs:
            return "—"
        m = statistics.median(xs)
        return f"{m:{spec}} ({min(xs):{spec}}–{max(xs):{spec}})" if len(xs) > 1 else f"{m:{spec}}"

    def median_of(scen, v, k):
        return med([r.get(k) for r in res.get(scen, {}).get(v, [])])

    for scen in SCENARIOS:
        s = SCENARIOS[scen]
        for v in VARIANTS:
            rs = res.get(scen, {}).get(v)
            if not rs:
                continue
            for r in rs:
                b = r.get("wire_bytes") or r.get("stream_bytes")
                r["throughput"] = None if not b else b / 1e6 / (r["total_ms"] / 1000)
            L.append(f"| {scen} ({mib_label(s['mib'])}, `{s['cmdline']}`) | {v} | **{cell(rs, 'downtime_ms')}** "
                     f"| {cell(rs, 'own_downtime', '.0f')} | {cell(rs, 'precopy_gap_ms')} | {cell(rs, 'noise_ms')} "
                     f"| {cell(rs, 'total_ms', '.0f')} | {cell(rs, 'own_total', '.0f')} "
                     f"| {cell(rs, 'stream_bytes', '.1f', MIB)} | {cell(rs, 'wire_bytes', '.1f', MIB)} "
                     f"| {cell(rs, 'throughput', '.0f')} | {cell(rs, 'rounds', '.0f')} | {cell(rs, 'dirty_rate', '.0f')} |")
    L.append("")
    zero = sum(1 for vs in res.values() for v, rs in vs.items() for r in rs if r.get("qemu_zero_times"))
    if zero:
        L.append(f"QEMU answered {zero} completed migration(s) with `total-time` 0 and `downtime` 0: left out of "
                 "its own columns (—).")
        L.append("")
    L.append("Downtime from outside: first destination tick byte − last source tick byte − one tick period. "
             "Own reported downtime: QEMU's `downtime` (source: stop until the last byte is sent), vmm's "
             "`downtime_ms` (source: vCPUs paused until the destination said it resumed). "
             "Stream bytes: QEMU's `ram.transferred`, vmm's `bytes_sent` (vmm-unix; under vmmd only the last "
             "polled value is known, so —). Throughput: bytes on the veth (TCP variants, TLS and TCP/IP "
             "overhead included) or stream bytes (vmm-unix) / total time.")
    L.append("")
    goal_rows = []
    q = median_of("idle", "qemu-tcp", "downtime_ms")
    for v in ("vmm-unix", "vmm-tls"):
        d = median_of("idle", v, "downtime_ms")
        if d is None:
            continue
        verdict = "met" if d <= 50 and (q is None or d < q) else "**missed**"
        goal_rows.append(f"| idle 256 MiB, {v}: downtime from outside ≤ 50 ms and below QEMU's | {d:.1f} ms "
                         f"(QEMU over TCP {fmt(q)} ms): {verdict} |")
    if goal_rows:
        L.append("| goal | result |")
        L.append("|---|---|")
        L += goal_rows
        L.append("")
    rows = []
    for plain, enc, label in (("vmm-unix", "vmm-tls", "vmm"), ("qemu-tcp", "qemu-tls", "QEMU")):
        p, e = median_of("bulk", plain, "throughput"), median_of("bulk", enc, "throughput")
        if p is None and e is None:
            continue
        ratio = f"{e / p:.2f}×" if p and e else "—"
        rows.append(f"| {label} | {fmt(p, '.0f')} (`{plain}`) | {fmt(e, '.0f')} (`{enc}`) | {ratio} |")
    if rows:
        L.append(f"Stream throughput, bulk scenario ({mib_label(SCENARIOS['bulk']['mib'])}, "
                 f"`{SCENARIOS['bulk']['cmdline']}`), MB/s (10^6 bytes/s), medians:")
        L.append("")
        L.append("| VMM | plain | encrypted (mutual TLS) | encrypted / plain |")
        L.append("|---|---|---|---|")
        L += rows
        L.append("")
    if drain is None:
        L.append("Drain: not measured (needs the daemons' migration: `vmm-tls`).")
    else:
        runs = drain.get("runs", [])
        worst = [max((d for d in r["downtimes"] if d is not None), default=None) for r in runs]
        allds = [d for r in runs for d in r["downtimes"] if d is not None]
        missing = sum(1 for r in runs for d in r["downtimes"] if d is None)
        if runs:
            L.append(f"Drain of {a.drain} idle VMs ({mib_label(a.drain_mib)}, `touch={a.drain_touch}`) from vmmd A to "
                     f"vmmd B (`POST /v1/host/drain`, `parallel` 2), {len(runs)} runs: wall time from the request until "
                     f"B runs them all {fmt(med([r['wall_ms'] for r in runs]), '.0f')} ms "
                     f"({', '.join(format(r['wall_ms'], '.0f') for r in runs)}); worst downtime from outside per run "
                     f"{', '.join(fmt(w) for w in worst)} ms; median over all VMs {fmt(med(allds))} ms"
                     + (f"; {missing} VM(s) without a measured first destination byte" if missing else "") + ".")
        for f in drain.get("failed", []):
            L.append(f"Drain run failed: {f[:300]}")
    L.append("")
    return "\n".join(L) + "\n"


def mib_label(mib):
    return f"{mib // 1024} GiB" if mib >= 1024 else f"{mib} MiB"


def build():
    log("== make -C Tests/Guests")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "Tests/Guests"),
                    f"OUT={os.path.join(SCRATCH, 'test-guests')}"], check=True, stdout=sys.stderr)
    for product in ("vmm", "vmmd"):
        log(f"== swift build -c release --product {product} (scratch .build-bench)")
        subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", product,
                        "--scratch-path", SCRATCH], check=True, cwd=ROOT, stdout=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmm", default=os.path.join(SCRATCH, "release", "vmm"))
    ap.add_argument("--vmmd", default=os.path.join(SCRATCH, "release", "vmmd"))
    ap.add_argument("--guest", default=os.path.join(SCRATCH, "test-guests", "ticker.elf"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--runs", type=int, default=3, help="runs per variant of the dirty and bulk scenarios")
    ap.add_argument("--idle-runs", type=int, default=5, help="runs per variant of the idle scenario (short)")
    ap.add_argument("--only", default=",".join(SCENARIOS), help="scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--variants", default=",".join(VARIANTS), help="variants: " + ",".join(VARIANTS))
    ap.add_argument("--drain", type=int, default=10, help="idle VMs to drain from A to B (vmmd), 0: none")
    ap.add_argument("--drain-runs", type=int, default=3)
    ap.add_argument("--drain-mib", type=int, default=128)
    ap.add_argument("--drain-touch", type=int, default=16)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--workdir", default=SCRATCH)
    ap.add_argument("--out", default=os.path.join(HERE, "results-migration-latest.md"))
    ap.add_argument("--json", help="also write every run's raw numbers here")
    ap.add_argument("--merge", action="append", default=[],
                    help="a --json file of an earlier run: its variants (and drain) that this run did not "
                         "measure go into the report, with their time")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("migration.py: terminated"))  # cleanup runs
    a.guest = os.path.abspath(a.guest)
    if not a.skip_build:
        build()
    for path in (a.vmm, a.guest):
        if not os.path.exists(path):
            sys.exit(f"migration.py: {path} not found (build it, or pass --vmm/--guest)")
    variants = [v for v in a.variants.split(",") if v]
    skipped = {}
    if not shutil.which(a.qemu):
        for v in ("qemu-tcp", "qemu-tls"):
            skipped[v] = f"{a.qemu} not found"
    if not vmm_has(a, "receive"):
        skipped["vmm-unix"] = "this vmm has no `receive`"
    if not daemon_migration_available(a):
        skipped["vmm-tls"] = "this vmmd has no migration"
    variants = [v for v in variants if v not in skipped]
    os.makedirs(a.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="migration-bench-", dir=a.workdir)
    t0 = time.monotonic()
    res, drain = {}, None
    ns = daemons = None
    try:
        ns = Namespaces()
        certs = make_qemu_certs(work) if "qemu-tls" in variants else None
        if "vmm-tls" in variants:
            daemons = Daemons(a, work)
        for scen in [s for s in a.only.split(",") if s]:
            res[scen] = {v: [] for v in variants}
            runs = a.idle_runs if scen == "idle" else a.runs
            for run in range(runs):
                order = variants[run % len(variants):] + variants[:run % len(variants)]
                for v in order:
                    try:
                        if v == "vmm-unix":
                            r = migrate_vmm_unix(a, work, SCENARIOS[scen])
                        elif v == "vmm-tls":
                            r = daemons.migrate(SCENARIOS[scen], f"{scen}{run}")
                        else:
                            r = migrate_qemu(a, work, SCENARIOS[scen], v == "qemu-tls", certs)
                    except Exception as e:                  # a failed run is reported, not fatal
                        log(f"  {scen} run {run + 1} {v}: FAILED: {e}")
                        res[scen][v].append({"failed": str(e)})
                        continue
                    res[scen][v].append(r)
                    log(f"  {scen} run {run + 1}/{runs} {v:9}: downtime {r['downtime_ms']:.1f} ms "
                        f"(own {r.get('own_downtime')}), total {r['total_ms']:.0f} ms, noise {fmt(r['noise_ms'])} ms, "
                        f"bytes {r.get('stream_bytes')} / wire {r.get('wire_bytes')}; last source tick at {r['src_last_ms']:.1f} ms, "
                        f"longest source gap before it {r['precopy_gap_ms']:.1f} ms")
        if daemons and a.drain:
            log(f"== drain: {a.drain} idle VMs ({a.drain_mib} MiB, touch={a.drain_touch}) from A to B")
            drain = {"runs": [], "failed": []}
            for run in range(a.drain_runs):
                try:
                    d = daemons.drain(a.drain, {"mib": a.drain_mib, "cmdline": f"touch={a.drain_touch}"})
                    drain["runs"].append(d)
                    log(f"  drain run {run + 1}/{a.drain_runs}: {d['wall_ms']:.0f} ms, downtimes "
                        + ", ".join(fmt(x) for x in d["downtimes"]))
                except Exception as e:
                    log(f"  drain run {run + 1}: FAILED: {e}\n{traceback.format_exc()}")
                    drain["failed"].append(str(e))
        when = time.strftime("%Y-%m-%d %H:%M %Z")
        merged, all_res, all_variants, all_drain = [], {s: dict(vs) for s, vs in res.items()}, list(variants), drain
        for path in a.merge:
            with open(path) as f:
                old = json.load(f)
            took = set()
            for scen, vs in old["res"].items():
                for v, rs in vs.items():
                    if rs and not all_res.get(scen, {}).get(v):
                        all_res.setdefault(scen, {})[v] = rs
                        took.add(v)
            if all_drain is None and old.get("drain"):
                all_drain = old["drain"]
                took.add("drain")
            for v in sorted(took):
                skipped.pop(v, None)
                if v != "drain" and v not in all_variants:
                    all_variants.append(v)
            if took:
                merged.append(f"{', '.join(f'`{v}`' for v in sorted(took))} measured {old['when']} (merged from an earlier run)")
        ok = {s: {v: [r for r in rs if "failed" not in r] for v, rs in vs.items()} for s, vs in all_res.items()}
        text = report(a, ok, all_variants, skipped, all_drain, time.monotonic() - t0, merged)
        fails = [(s, v, r["failed"]) for s, vs in all_res.items() for v, rs in vs.items() for r in rs if "failed" in r]
        if fails:
            text += "\nFailed runs: " + "; ".join(f"{s}/{v}: {m[:200]}" for s, v, m in fails) + "\n"
    finally:
        if daemons:
            daemons.close()
        if ns:
            ns.close()
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"when": time.strftime("%Y-%m-%d %H:%M %Z"), "res": res, "drain": drain}, f, indent=1,
                          default=str)
        shutil.rmtree(work, ignore_errors=True)
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    log(f"== wrote {a.out}")


# ---------------------------------------------------------------- vmmd
def daemon_migration_available(a):
    if not os.path.exists(a.vmmd) or not os.path.exists(os.path.join(ROOT, "scripts", "make-certificates.sh")):
        return False
    help_text = subprocess.run([a.vmmd, "--help"], capture_output=True, text=True).stdout
    return "--listen" in help_text and "--migration-port" in help_text


class Daemon:
    """One vmmd in a namespace: API on a Unix socket here, mutual TLS on IP:VMMD_PORT."""

    def __init__(self, a, root, ns, ip, host, certs):
        self.root, self.ns, self.ip = root, ns, ip
        os.makedirs(root)
        self.socket = os.path.join(root, "vmmd.sock")
        self.runtime = os.path.join(root, "run")
        self.log = open(os.path.join(root, "vmmd.log"), "wb")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", ns, a.vmmd, "--socket", self.socket, "--state-dir", os.path.join(root, "state"),
             "--runtime-dir", self.runtime, "--vmm", a.vmm, "--listen", f"{ip}:{VMMD_PORT}",
             "--migration-port", str(VMMD_PORT + 1), "--tls-cert", f"{certs}/{host}.crt",
             "--tls-key", f"{certs}/{host}.key", "--tls-ca", f"{certs}/ca.crt"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.request("GET", "/v1/vms")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vmmd in {ns} did not come up; log in {self.log.name}")
            time.sleep(0.05)

    def request(self, method, path, body=None, timeout=600):
        connection = UnixHTTPConnection(self.socket, timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=data,
                               headers={"Content-Type": "application/json"} if data is not None else {})
            response = connection.getresponse()
            payload = response.read()
            try:
                return response.status, json.loads(payload) if payload else None
            except ValueError:
                return response.status, payload
        finally:
            connection.close()

    def console_path(self, name):
        return os.path.join(self.runtime, "vms", name, "console.sock")

    def console(self, name, timeout=30):
        """Connects to the VM's console socket (vmm serves every client the same bytes)."""
        path, deadline = self.console_path(name), time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return Console(None, f"{self.ns}/{name}", sock=s)
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no console socket {path} in {timeout} s")
                time.sleep(0.001)

    def remove_all(self):
        status, body = self.request("GET", "/v1/vms")
        for vm in (body or {}).get("vms", []) if status == 200 else []:
            self.request("DELETE", f"/v1/vms/{vm['definition']['name']}?force=true")

    def close(self):
        try:
            self.remove_all()
        except Exception:
            pass
        stop(self.process)
        # vmm processes (also a `vmm receive` still waiting) outlive their daemon by design:
        # kill, by pid, those the API did not remove: their sockets are in this daemon's folder.
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if self.runtime.encode() + b"/" in f.read():
                        os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


class Daemons:
    """vmmd on A and B (certificates from scripts/make-certificates.sh): the daemons'
    migration, the stream in mutual TLS on the veth."""

    def __init__(self, a, work):
        self.a = a
        certs = os.path.join(work, "vmmd-certs")
        sh("bash", os.path.join(ROOT, "scripts", "make-certificates.sh"), certs, f"hostA={IP_A}", f"hostB={IP_B}")
        self.A = self.B = None
        try:
            self.A = Daemon(a, os.path.join(work, "vmmd-A"), NS_A, IP_A, "hostA", certs)
            self.B = Daemon(a, os.path.join(work, "vmmd-B"), NS_B, IP_B, "hostB", certs)
        except Exception:
            self.close()
            raise

    def ready(self, name, timeout=300):
        """Waits for "ticker: ready" in the daemon's console log (the console socket may
        have been connected after the first lines); returns the guest's dirty rate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, body = self.A.request("GET", f"/v1/vms/{name}/console")
            text = body.decode(errors="replace") if isinstance(body, bytes) else json.dumps(body)
            if "ticker: ready" in text:
                for line in text.splitlines():
                    if line.startswith("ticker: dirtying"):
                        return int(line.split(" over ")[1].split()[0])
                return None
            time.sleep(0.05)
        raise RuntimeError(f"{name}: no 'ticker: ready' in {timeout} s")

    def start_vm(self, name, scen):
        st, body = self.A.request("POST", "/v1/vms", {"name": name, "kernel": self.a.guest, "cmdline": scen["cmdline"],
                                                       "memory": scen["mib"] * MIB, "rng": False})
        if st != 201:
            raise RuntimeError(f"create {name}: {st} {body}")
        st, body = self.A.request("POST", f"/v1/vms/{name}/start")
        if st != 200:
            raise RuntimeError(f"start {name}: {st} {body}")
        return self.A.console(name)

    def follow_destination(self, names, out, stop_event):
        """Connects to each VM's console on B as soon as its `vmm receive` serves it."""
        pending = set(names)
        while pending and not stop_event.is_set():
            for name in list(pending):
                if os.path.exists(self.B.console_path(name)):
                    try:
                        out[name] = self.B.console(name, timeout=1)
                        pending.discard(name)
                    except RuntimeError:
                        pass
            time.sleep(0.001)

    def migrate(self, scen, name):
        src_con = self.start_vm(name, scen)
        try:
            rate = self.ready(name)
            noise = settle(src_con)
            dst, stop_event = {}, threading.Event()
            follower = threading.Thread(target=self.follow_destination, args=([name], dst, stop_event), daemon=True)
            follower.start()
            bytes0 = Namespaces.tx_bytes()
            t0 = time.perf_counter()
            st, body = self.A.request("POST", f"/v1/vms/{name}/migrate", {"to": f"{IP_B}:{VMMD_PORT}", "maxDowntimeMs": 300})
            t_done = time.perf_counter()
            stop_event.set()
            follower.join()
            if st not in (200, 202) or name not in dst:
                raise RuntimeError(f"migrate {name}: {st} {body}")
            t_first = dst[name].first_time_after(0, timeout=60)
            bytes1 = Namespaces.tx_bytes()
            # The daemon's bytesSent is vmm's count as last polled (every 200 ms): not the
            # total. The veth's count stands in for it.
            return result(t0, src_con, t_first, noise, rate, own_downtime=body.get("downtimeMs"),
                          own_total=body.get("seconds", 0) * 1000, stream_bytes=None,
                          wire_bytes=bytes1 - bytes0, rounds=body.get("rounds"), request_ms=(t_done - t0) * 1000)
        finally:
            self.A.request("DELETE", f"/v1/vms/{name}?force=true")
            self.B.request("DELETE", f"/v1/vms/{name}?force=true")

    def drain(self, count, scen):
        """Drains `count` idle VMs from A to B; returns the wall time and each VM's downtime."""
        names = [f"drain{i}" for i in range(count)]
        consoles = {}
        try:
            for n in names:
                consoles[n] = self.start_vm(n, scen)
            for n in names:
                self.ready(n)
            time.sleep(1.0)
            dst, stop_event = {}, threading.Event()
            follower = threading.Thread(target=self.follow_destination, args=(names, dst, stop_event), daemon=True)
            follower.start()
            t0 = time.perf_counter()
            st, body = self.A.request("POST", "/v1/host/drain", {"to": [f"{IP_B}:{VMMD_PORT}"], "parallel": 2})
            if st not in (200, 202):
                raise RuntimeError(f"drain: {st} {body}")
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:            # done once B runs them all
                st, body = self.B.request("GET", "/v1/vms")
                running = [vm for vm in body.get("vms", []) if vm.get("state") == "running"] if st == 200 else []
                if len(running) >= count:
                    break
                time.sleep(0.05)
            t_done = time.perf_counter()
            stop_event.set()
            follower.join()
            downtimes = []
            for n in names:
                t_first = dst[n].first_time_after(0, timeout=10) if n in dst else None
                t_last = consoles[n].last_time()
                downtimes.append(None if t_first is None else (t_first - t_last) * 1000 - TICK_MS)
            _, report = self.A.request("GET", "/v1/host")
            return {"wall_ms": (t_done - t0) * 1000, "downtimes": downtimes, "host": report}
        finally:
            for n in names:
                self.A.request("DELETE", f"/v1/vms/{n}?force=true")
                self.B.request("DELETE", f"/v1/vms/{n}?force=true")
            self.A.request("POST", "/v1/host/undrain")

    def close(self):
        for d in (self.A, self.B):
            if d:
                d.close()


if __name__ == "__main__":
    main()
