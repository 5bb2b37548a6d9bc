#!/usr/bin/env python3
"""virtio-blk and virtio-net over PCI: vmm against QEMU, same guest, same image, same tap.

    sudo python3 bench/virtio.py                      # builds, then ~13 minutes on 2 busy cores
    python3 bench/virtio.py --skip-build --runs 3 --secs 2 --only blk

Builds (unless --skip-build, or when --vmm/--guest point elsewhere) with
`make -C Tests/Guests OUT=.build-bench/test-guests` and `swift build -c release
--static-swift-stdlib --product vmm --scratch-path .build-bench`, prepares a raw image
(256 MiB of random bytes, .build-bench/virtio-bench.img: one file, same filesystem, for
both VMMs) and runs Tests/Guests/virtio-bench.elf K times under each VMM, alternating
which goes first:

  blk: one boot per run, phases seqread, randread, seqwrite, randwrite (1 MiB resp.
       4 KiB requests, queue depth 16, each phase submitting for --secs seconds).
       vmm: --disk IMG. QEMU: -drive cache=writeback,aio=threads (buffered pread/pwrite,
       what vmm does) + virtio-blk-pci,disable-legacy=on.
  net: one boot per run, phase nettx: 1514-byte frames (ethertype 0x88b5) for --secs
       seconds, queue depth 64. Both VMMs run inside a network namespace this script
       creates (tap vbtap0 in it, IPv6 off, nothing else) with a host-side AF_PACKET
       reader in the namespace counting the frames; the namespace is deleted at exit.
       vmm: --net tap=vbtap0,mac=M. QEMU: -netdev tap,ifname=vbtap0 + virtio-net-pci,
       disable-legacy=on.

Throughput comes from the guest (TSC cycles per phase, TSC calibrated against the ACPI
PM timer). CPU comes from /proc/PID/stat and /proc/PID/task/*/stat sampled when the
guest announces a phase (it then idles `idle` ms) and when it prints the result. On a
PVM host the vCPU thread's *system* time holds the guest's own run time (the guest polls
the used ring, so that is ~100 % of the phase), so "VMM CPU" is the process's user+system
time minus the vCPU thread's system time: device threads, I/O workers, main loops, and
the vCPU thread's user time (exits handled in user space). Exits handled in the host
kernel (ioeventfd notifies) are in the excluded part; the guest's notify count is shown.

Not a test: nothing here fails on a goal. Needs root (namespaces, taps) for the net part.
"""
import argparse
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRATCH = os.path.join(ROOT, ".build-bench")
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAC = "52:54:00:12:34:56"
TAP = "vbtap0"
BLK_PHASES = ["seqread", "randread", "seqwrite", "randwrite"]

READER = r'''
import json, signal, socket, sys
tap = sys.argv[1]
def stat(n):
    try: return int(open("/sys/class/net/%s/statistics/%s" % (tap, n)).read())
    except OSError: return -1
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
try: s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)   # SO_RCVBUFFORCE
except OSError: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
s.bind((tap, 0x88b5))
s.settimeout(0.2)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
rx0, drop0 = stat("rx_packets"), stat("rx_dropped")
frames = nbytes = other = 0
buf = bytearray(4096)
print("ready", flush=True)
while not stop:
    try: n, addr = s.recvfrom_into(buf)
    except socket.timeout: continue
    except InterruptedError: continue
    if addr[2] == socket.PACKET_OUTGOING: continue
    if n == 1514: frames += 1; nbytes += n
    else: other += 1
print(json.dumps({"frames": frames, "bytes": nbytes, "other": other,
                  "tap_rx_packets": stat("rx_packets") - rx0, "tap_rx_dropped": stat("rx_dropped") - drop0}), flush=True)
'''


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ---------------------------------------------------------------- /proc sampling
def read_stat(path):
    """(utime, stime) in seconds from a /proc stat file, or None."""
    try:
        with open(path) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK   # fields 14, 15


def snapshot(pid):
    threads = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tids = []
    for t in tids:
        v = read_stat(f"/proc/{pid}/task/{t}/stat")
        if v:
            threads[int(t)] = v
    return {"t": time.perf_counter(), "proc": read_stat(f"/proc/{pid}/stat"), "threads": threads}


def delta_threads(a, b):
    d = {}
    for tid, (u, s) in b["threads"].items():
        u0, s0 = a["threads"].get(tid, (0.0, 0.0))
        d[tid] = (u - u0, s - s0)
    return d


# ---------------------------------------------------------------- VMM commands
def vmm_cmd(a, append, disk=None, tap=None):
    c = [a.vmm, "run", "--kernel", a.guest, "--cmdline", append, "--memory", "256M", "--no-rng"]
    c += getattr(a, "vmm_args", [])
    if disk:
        c += ["--disk", disk]
    if tap:
        c += ["--net", f"tap={tap},mac={MAC}"]
    return c


def qemu_cmd(a, append, disk=None, tap=None):
    c = [a.qemu, "-accel", "kvm", "-cpu", "qemu64", "-M", "pc", "-m", "256", "-display", "none",
         "-no-reboot", "-nodefaults", "-monitor", "none", "-serial", "stdio",
         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
         "-kernel", a.guest, "-append", append]
    if disk:
        c += ["-drive", f"if=none,id=d0,file={disk},format=raw,cache=writeback,aio=threads",
              "-device", "virtio-blk-pci,disable-legacy=on,drive=d0,addr=4"]
    if tap:
        c += ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
              "-device", f"virtio-net-pci,disable-legacy=on,netdev=n0,mac={MAC},addr=5"]
    return c


RESULT = re.compile(r"bench: (\w+) reqs (\d+) bytes (\d+) cycles (\d+) qd (\d+) size (\d+) kicks (\d+) errors (\d+)")
START = re.compile(r"bench: (\w+) start")
TSC = re.compile(r"bench: tsc_khz (\d+)")


def run_once(a, side, append, disk=None, tap=None, netns=None, timeout=300):
    """Boots the guest once; returns {phase: metrics} plus the serial output."""
    cmd = vmm_cmd(a, append, disk, tap) if side == "vmm" else qemu_cmd(a, append, disk, tap)
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd        # ip execs the VMM: same pid
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                         preexec_fn=(lambda: os.nice(a.nice)) if a.nice else None)
    lines = queue.Queue()

    def pump():
        for raw in p.stdout:
            lines.put(raw.decode(errors="replace").rstrip("\r\n"))
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()

    out, phases, tsc_khz, pending = [], {}, None, {}
    deadline = time.monotonic() + timeout
    idle_s = a.idle / 1000
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            p.kill()
            break
        if line is None:
            break
        out.append(line)
        m = START.search(line)
        if m:
            s0 = snapshot(p.pid)
            time.sleep(idle_s / 2)                 # the guest idles: only the vCPU runs
            s1 = snapshot(p.pid)
            d = delta_threads(s0, s1)
            vcpu = max(d, key=lambda t: d[t][0] + d[t][1]) if d else None
            pending[m.group(1)] = (s1, vcpu)
            continue
        m = RESULT.search(line)
        if m:
            s2 = snapshot(p.pid)
            name = m.group(1)
            reqs, nbytes, cycles, qd, size, kicks, errors = map(int, m.groups()[1:])
            s1, vcpu = pending.pop(name, (None, None))
            r = {"reqs": reqs, "bytes": nbytes, "cycles": cycles, "qd": qd, "size": size,
                 "kicks": kicks, "errors": errors}
            if s1 and s1["proc"] and s2["proc"]:
                total = (s2["proc"][0] - s1["proc"][0]) + (s2["proc"][1] - s1["proc"][1])
                dt = delta_threads(s1, s2)
                vu, vs = dt.get(vcpu, (0.0, 0.0))
                r.update(cpu_total=total, vcpu_user=vu, vcpu_sys=vs, vmm_cpu=total - vs,
                         wall=s2["t"] - s1["t"], threads=len(s2["threads"]))
            phases[name] = r
            continue
        m = TSC.search(line)
        if m:
            tsc_khz = int(m.group(1))
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    errtext = err.read().decode(errors="replace")
    ok = p.returncode == 1 and any(l.endswith("bench: done") for l in out)
    for r in phases.values():
        if tsc_khz:
            secs = r["cycles"] / (tsc_khz * 1000)
            r["secs"] = secs
            r["mbps"] = r["bytes"] / secs / 1e6
            r["iops"] = r["reqs"] / secs
        if "vmm_cpu" in r and r["reqs"]:
            r["us_per_req"] = r["vmm_cpu"] / r["reqs"] * 1e6
            r["us_per_req_total"] = r["cpu_total"] / r["reqs"] * 1e6
    return {"ok": ok, "status": p.returncode, "phases": phases, "out": out, "err": errtext,
            "rusage": (ru.ru_utime, ru.ru_stime), "tsc_khz": tsc_khz, "cmd": cmd}


# ---------------------------------------------------------------- network namespace
class NetNS:
    def __init__(self):
        self.name = f"vbench{os.getpid()}"
        self.made = False

    def __enter__(self):
        sh("ip", "netns", "add", self.name)
        self.made = True
        ex = ["ip", "netns", "exec", self.name]
        sh(*ex, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh(*ex, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        sh(*ex, "ip", "link", "set", "lo", "up")
        sh(*ex, "ip", "tuntap", "add", "dev", TAP, "mode", "tap")
        sh(*ex, "ip", "link", "set", TAP, "up")
        return self

    def close(self):
        if self.made:
            sh("ip", "netns", "del", self.name, check=False)
            self.made = False

    def __exit__(self, *exc):
        self.close()

    def reader(self, nice=0):
        p = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-c", READER, TAP],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             preexec_fn=(lambda: os.nice(nice)) if nice else None)
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("frame reader did not start")
        return p

    @staticmethod
    def reader_result(p):
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=10)
        return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- driver
def build(a):
    log("== make -C Tests/Guests")
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "Tests/Guests"),
                    f"OUT={os.path.join(SCRATCH, 'test-guests')}"], check=True, stdout=sys.stderr)
    log("== swift build -c release --product vmm (scratch .build-bench)")
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "vmm",
                    "--scratch-path", SCRATCH], check=True, cwd=ROOT, stdout=sys.stderr)


def prepare_image(path, mib):
    if os.path.exists(path) and os.path.getsize(path) == mib << 20:
        return
    log(f"== image {path}: {mib} MiB of random bytes")
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(mib):
            f.write(chunk[i % 4096:] + chunk[:i % 4096])
        f.flush()
        os.fsync(f.fileno())


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def summarize(results, phases, sides):
    """results[side][phase] = list of metric dicts (one per run)"""
    rows = []
    rows.append("| benchmark | side | MB/s | IOPS (req/s) | VMM CPU µs/req | vCPU user µs/req | "
                "total process CPU µs/req | guest notifies/req | runs (MB/s) |")
    rows.append("|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for ph in phases:
        for side in sides:
            rs = results[side].get(ph, [])
            if not rs:
                continue
            mb = med([r.get("mbps") for r in rs])
            iops = med([r.get("iops") for r in rs])
            cpu = med([r.get("us_per_req") for r in rs])
            vu = med([r["vcpu_user"] / r["reqs"] * 1e6 for r in rs if "vcpu_user" in r and r["reqs"]])
            tot = med([r.get("us_per_req_total") for r in rs])
            kicks = med([r["kicks"] / r["reqs"] for r in rs if r["reqs"]])
            summary[(ph, side)] = (mb, iops, cpu)
            runs = ", ".join(fmt(r.get("mbps"), ".0f") for r in rs)
            rows.append(f"| {ph} | {side} | {fmt(mb, '.1f')} | {fmt(iops, '.0f')} | **{fmt(cpu, '.2f')}** | "
                        f"{fmt(vu, '.2f')} | {fmt(tot, '.1f')} | {fmt(kicks, '.3f')} | {runs} |")
    if "vmm" in sides and "qemu" in sides:
        rows.append("")
        rows.append("| benchmark | throughput vmm / QEMU | VMM CPU per request vmm / QEMU | goal (≥ 1, ≤ 1) |")
        rows.append("|---|---|---|---|")
        for ph in phases:
            v, q = summary.get((ph, "vmm")), summary.get((ph, "qemu"))
            if not v or not q:
                continue
            tr = v[0] / q[0] if v[0] and q[0] else None
            cr = v[2] / q[2] if v[2] is not None and q[2] else None
            met = []
            if tr is not None:
                met.append("throughput " + ("met" if tr >= 1 else "**missed**"))
            if cr is not None:
                met.append("CPU " + ("met" if cr <= 1 else "**missed**"))
            rows.append(f"| {ph} | {fmt(tr, '.2f')}× | {fmt(cr, '.2f')}× | {', '.join(met)} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vmm", default=os.path.join(SCRATCH, "release", "vmm"))
    ap.add_argument("--guest", default=os.path.join(SCRATCH, "test-guests", "virtio-bench.elf"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--image", default=os.path.join(SCRATCH, "virtio-bench.img"))
    ap.add_argument("--image-mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--secs", type=int, default=3, help="seconds each phase submits requests")
    ap.add_argument("--idle", type=int, default=200, help="guest idle ms around each phase")
    ap.add_argument("--qd", type=int, default=0, help="queue depth (default: guest's, 16 blk / 64 net)")
    ap.add_argument("--only", choices=["blk", "net"])
    ap.add_argument("--nice", type=int, default=0,
                    help="nice increment for both VMMs and the frame reader (e.g. -10 on a busy host)")
    ap.add_argument("--sides", default="vmm,qemu")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results-virtio-latest.md"))
    ap.add_argument("--json", help="also write every run's raw numbers here")
    a = ap.parse_args()
    sides = a.sides.split(",")
    if not a.skip_build:
        build(a)
    for path in [a.guest] + ([a.vmm] if "vmm" in sides else []):
        if not os.path.exists(path):
            sys.exit(f"virtio.py: {path} not found (build it, or pass --vmm/--guest)")
    prepare_image(a.image, a.image_mib)

    common = f"secs={a.secs} idle={a.idle}" + (f" qd={a.qd}" if a.qd else "")
    results = {s: {} for s in sides}
    raw = []
    t0 = time.time()

    def record(side, res, what):
        raw.append({"side": side, "what": what, **{k: v for k, v in res.items() if k != "out"},
                    "out": res["out"]})
        if not res["ok"]:
            log(f"!! {side} {what}: status {res['status']}, output:\n  " + "\n  ".join(res["out"][-15:])
                + "\n  stderr: " + res["err"].strip()[-2000:])
        for ph, r in res["phases"].items():
            results[side].setdefault(ph, []).append(r)
            log(f"   {side:4} {ph:9} {r.get('mbps', 0):9.1f} MB/s {r.get('iops', 0):9.0f} req/s "
                f"VMM {r.get('us_per_req', float('nan')):7.2f} µs/req (vCPU user {r.get('vcpu_user', 0):.2f} s, "
                f"total {r.get('cpu_total', 0):.2f} s, vCPU sys {r.get('vcpu_sys', 0):.2f} s) "
                f"notifies {r['kicks']}/{r['reqs']}")

    if a.only in (None, "blk"):
        log(f"== blk: {', '.join(BLK_PHASES)}, {a.runs} runs, {a.secs} s per phase")
        for run in range(a.runs):
            for side in (sides if run % 2 == 0 else sides[::-1]):
                log(f"-- run {run + 1} {side}")
                res = run_once(a, side, f"bench={','.join(BLK_PHASES)} {common}", disk=a.image)
                record(side, res, "blk")

    net_frames = {s: [] for s in sides}
    if a.only in (None, "net"):
        if os.geteuid() != 0:
            log("== net: skipped (needs root for the namespace and the tap)")
        else:
            log(f"== net: nettx, {a.runs} runs, {a.secs} s each, inside a network namespace")
            ns = NetNS()
            old = signal.signal(signal.SIGTERM, lambda *x: (ns.close(), sys.exit(1)))
            try:
                with ns:
                    for run in range(a.runs):
                        for side in (sides if run % 2 == 0 else sides[::-1]):
                            log(f"-- run {run + 1} {side}")
                            rd = ns.reader(a.nice)
                            res = run_once(a, side, f"bench=nettx {common}", tap=TAP, netns=ns.name)
                            cnt = ns.reader_result(rd)
                            res["reader"] = cnt
                            record(side, res, "net")
                            sent = res["phases"].get("nettx", {}).get("reqs")
                            net_frames[side].append((sent, cnt))
                            log(f"   host reader: {cnt['frames']} frames of 1514 bytes (guest sent {sent}), "
                                f"tap rx_packets {cnt['tap_rx_packets']}, rx_dropped {cnt['tap_rx_dropped']}")
            finally:
                ns.close()
                signal.signal(signal.SIGTERM, old)

    phases = ([p for p in BLK_PHASES] if a.only in (None, "blk") else []) + \
             (["nettx"] if a.only in (None, "net") else [])
    table = summarize(results, phases, sides)
    qv = sh(a.qemu, "--version", check=False).stdout.split("\n")[0] if "qemu" in sides else ""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    load = open("/proc/loadavg").read().split()[:3]
    hdr = (f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {os.cpu_count()} cores {cpu}, kernel "
           f"{os.uname().release}, /dev/kvm = PVM (nested); {qv}; {a.runs} runs per side, alternating, "
           f"medians; {a.secs} s per phase; VMMs at nice {a.nice}; load average at the end {' '.join(load)}; run time "
           f"{time.time() - t0:.0f} s.\n")
    net_lines = []
    for side in sides:
        for sent, cnt in net_frames[side]:
            net_lines.append(f"{side}: guest sent {sent}, host reader counted {cnt['frames']} "
                             f"(tap rx_packets {cnt['tap_rx_packets']}, rx_dropped {cnt['tap_rx_dropped']})")
    text = hdr + "\n" + table + "\n"
    if net_lines:
        text += "\nnettx frames, per run:\n\n" + "\n".join("- " + l for l in net_lines) + "\n"
    print(text)
    with open(a.out, "w") as f:
        f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(raw, f, indent=1, default=str)
    log(f"== wrote {a.out}")


if __name__ == "__main__":
    main()
