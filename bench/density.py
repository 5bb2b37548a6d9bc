#!/usr/bin/env python3
"""Density: how many VMs one vmmd runs at once on this host, and what each costs.

One vmmd (jailed VMs, as when it runs as root) with its own state and runtime folders under
/tmp; N VMs of 64 MiB booting Tests/Guests/halt.c (halts with interrupts off: no timer, so
an idle VM makes no exits), created and started by K parallel API clients. Reports:

  - create + start rate (VMs/s) from the parallel clients;
  - host memory per VM: the MemAvailable drop / N, and that drop less the guest pages
    touched (the Shmem rise: guest RAM is a memfd), with the /proc/meminfo lines that make
    it up (kernel stacks, page tables, slab, ...);
  - vmm's RSS, PSS and private memory per VM (smaps_rollup of a sample of VMs);
  - tasks (threads and kernel threads) per VM: the rise of the host's task count / N, and
    one VM's own list;
  - GET /v1/vms latency p50/p99 with all of them up;
  - stop + delete time for all of them (K parallel clients).

Usage: python3 bench/density.py [--count 4000] [--clients 8] [--build-dir .build-bench/release]
Build first (as bench/run.sh does; a static Swift stdlib saves each vmm ~0.3 MiB of dirty
shared-library pages): swift build -c release --static-swift-stdlib --scratch-path .build-bench
--product vmm, and the same for vmmd.
Needs root (jailed VMs) and /dev/kvm. Prints Markdown (and writes it to --output). Every VM
is killed and deleted at the end, also on failure, and the daemon stopped. Not a test:
goals are reported, nothing fails on them; a run that stops short says at what count and why.
"""
import argparse
import concurrent.futures
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import daemon as daemon_bench
from daemon import log, percentile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1024 * 1024
KEPT_LOG = "/tmp/density-vmmd.log"
MEMINFO_LINES = ["MemAvailable", "Shmem", "AnonPages", "KernelStack", "PageTables", "SecPageTables", "Slab",
                 "SUnreclaim", "Percpu", "VmallocUsed"]


def meminfo():
    values = {}
    with open("/proc/meminfo") as file:
        for line in file:
            name, rest = line.split(":", 1)
            values[name] = int(rest.split()[0])  # KiB
    return values


def host_tasks():
    """Threads and kernel threads on the host (what kernel.pid_max limits)."""
    with open("/proc/loadavg") as file:
        return int(file.read().split()[3].split("/")[1])


def read(path, default=""):
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return default


def smaps_rollup(pid):
    values = {}
    for line in read(f"/proc/{pid}/smaps_rollup").splitlines()[1:]:
        name, rest = line.split(":", 1)
        values[name] = int(rest.split()[0])
    return values


def private_memory_by_mapping(pids):
    """Private (dirty) KiB per mapping name, averaged over `pids`: where vmm's own memory is.
    Unnamed mappings are thread stacks and malloc arenas."""
    totals = {}
    for pid in pids:
        name = None
        for line in read(f"/proc/{pid}/smaps").splitlines():
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                path = fields[5] if len(fields) > 5 else ""
                name = os.path.basename(path) if path.startswith("/") else (path or "[anonymous]")
            elif fields and fields[0] == "Private_Dirty:":
                totals[name] = totals.get(name, 0) + int(fields[1])
    return sorted(((kib / max(1, len(pids)), name) for name, kib in totals.items()), reverse=True)


def task_names(pid):
    """The threads of `pid` by name."""
    return [read(f"/proc/{pid}/task/{task}/comm").strip() for task in os.listdir(f"/proc/{pid}/task")]


def pit_threads():
    """KVM's PIT kernel threads (one per VM; named `kvm-pit/PID` with the pid the VM
    process has in its own namespace: 1 for a jailed one)."""
    return sum(1 for entry in os.listdir("/proc")
               if entry.isdigit() and read(f"/proc/{entry}/comm").startswith("kvm-pit/"))


class Daemon(daemon_bench.Daemon):
    def __init__(self, build_dir, count, extra=()):
        # What admission would refuse on a 2-CPU, 24 GiB host: 4000 one-vCPU VMs promise
        # 2000 vCPUs per CPU and 250 GiB of guest RAM, of which they touch little.
        super().__init__(build_dir, extra=["--memory-overcommit", str(max(2, count // 100)), *extra],
                         cpu_overcommit=max(64, count), prefix="vmmd-density-")

    def create_and_start(self, name, kernel, memory):
        status, body = self.request("POST", "/v1/vms", {"name": name, "kernel": kernel, "memory": memory})
        if status != 201:
            raise RuntimeError(f"create {name}: {status} {body.decode(errors='replace')}")
        status, body = self.request("POST", f"/v1/vms/{name}/start")
        if status != 200:
            raise RuntimeError(f"start {name}: {status} {body.decode(errors='replace')}")

    def vms(self):
        status, body = self.request("GET", "/v1/vms")
        return json.loads(body)["vms"] if status == 200 else []

    def delete(self, name):
        status, body = self.request("DELETE", f"/v1/vms/{name}?force=true")
        if status not in (200, 204, 404):
            raise RuntimeError(f"delete {name}: {status} {body.decode(errors='replace')}")

    def close(self, clients=8):
        """Deletes every VM, stops the daemon and ends any `vmm` of this run left behind (a
        daemon that died leaves its VMs running, by design); keeps vmmd's log if it died."""
        try:
            names = [vm["definition"]["name"] for vm in self.vms()]
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda name: self.delete(name), names))
        except OSError as error:
            log(f"cannot delete the VMs through vmmd ({error}); its log is in {KEPT_LOG}")
            shutil.copy(self.log.name, KEPT_LOG)
        finally:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid in self.leftover_vmms():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(1)
            shutil.rmtree(self.root, ignore_errors=True)

    def leftover_vmms(self):
        """The `vmm` processes of this run still alive (their command lines name its folders)."""
        return [int(entry) for entry in os.listdir("/proc")
                if entry.isdigit() and f"{self.root}/" in read(f"/proc/{entry}/cmdline").replace("\0", " ")]


def start_all(daemon, names, kernel, memory, clients):
    """Creates and starts `names` from `clients` threads until one fails; returns how many
    started, the seconds it took and the first failure."""
    failure = []
    started = []
    lock = threading.Lock()
    index = iter(names)

    def client():
        while True:
            with lock:
                if failure:
                    return
                name = next(index, None)
            if name is None:
                return
            try:
                daemon.create_and_start(name, kernel, memory)
            except Exception as error:  # noqa: BLE001 - reported, and the run stops there
                with lock:
                    failure.append(f"{error}")
                return
            with lock:
                started.append(name)
                if len(started) % 250 == 0:
                    log(f"  {len(started)} VMs up, {len(started) / (time.monotonic() - begin):.0f}/s, "
                        f"{host_tasks()} host tasks, MemAvailable {meminfo()['MemAvailable'] // 1024} MiB")

    begin = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(started), time.monotonic() - begin, failure[0] if failure else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--memory", type=int, default=64, help="MiB per VM")
    parser.add_argument("--requests", type=int, default=50, help="GET /v1/vms requests timed")
    parser.add_argument("--build-dir", default=f"{ROOT}/.build-bench/release")
    parser.add_argument("--guests", default=f"{ROOT}/.build/guests")
    parser.add_argument("--vmmd-arg", action="append", default=[], help="another argument for vmmd")
    parser.add_argument("--output", default=f"{ROOT}/bench/results-density-latest.md")
    a = parser.parse_args()
    kernel = f"{a.guests}/halt.elf"
    if not os.path.exists(kernel):
        subprocess.run(["make", "-s", "-C", f"{ROOT}/Tests/Guests", f"OUT={a.guests}"], check=True)

    r = {"count": a.count, "clients": a.clients, "build": os.path.relpath(a.build_dir, ROOT)}
    pid_max = int(read("/proc/sys/kernel/pid_max", "0"))
    threads_max = int(read("/proc/sys/kernel/threads-max", "0"))
    before_memory = meminfo()
    before_tasks = host_tasks()
    before_pits = pit_threads()
    daemon = Daemon(a.build_dir, a.count, a.vmmd_arg)
    try:
        time.sleep(0.5)
        daemon_rss0 = smaps_rollup(daemon.process.pid).get("Rss", 0)
        log(f"vmmd up; {before_tasks} host tasks (pid_max {pid_max}), MemAvailable {before_memory['MemAvailable'] // 1024} MiB")
        names = [f"d{i}" for i in range(a.count)]
        started, seconds, failure = start_all(daemon, names, kernel, a.memory * MIB, a.clients)
        r.update(started=started, seconds=seconds, failure=failure, rate=started / seconds if seconds else 0)
        log(f"{started} VMs started in {seconds:.1f} s ({r['rate']:.1f}/s)" + (f"; stopped: {failure}" if failure else ""))
        if failure:
            shutil.copy(daemon.log.name, KEPT_LOG)
            log(f"vmmd's log: {KEPT_LOG}")
            r["failure_tasks"] = host_tasks()
            r["failure_available"] = meminfo()["MemAvailable"] // 1024

        # Let the last guests reach their halt, then measure.
        time.sleep(5)
        vms = daemon.vms()
        running = [vm for vm in vms if vm["state"] == "running"]
        r["running"] = len(running)
        after_memory = meminfo()
        after_tasks = host_tasks()
        n = max(1, started)
        r["tasks_per_vm"] = (after_tasks - before_tasks) / n
        r["tasks_total"] = after_tasks
        r["meminfo"] = {line: (before_memory.get(line, 0) - after_memory.get(line, 0)) / n / 1024
                        if line == "MemAvailable" else (after_memory.get(line, 0) - before_memory.get(line, 0)) / n / 1024
                        for line in MEMINFO_LINES}
        r["beyond_guest"] = r["meminfo"]["MemAvailable"] - r["meminfo"]["Shmem"]
        pids = [vm["pid"] for vm in running if vm.get("pid")]
        sample = random.sample(pids, min(50, len(pids)))
        rollups = [smaps_rollup(pid) for pid in sample]
        rollups = [rollup for rollup in rollups if rollup]
        for key in ["Rss", "Pss", "Private_Dirty", "Private_Clean", "Shared_Clean", "Pss_Shmem", "Pss_Anon"]:
            r[key] = statistics.mean(rollup.get(key, 0) for rollup in rollups) / 1024 if rollups else 0
        r["vm_tasks"] = task_names(sample[0]) if sample else []
        r["by_mapping"] = private_memory_by_mapping(sample[:10])
        r["pits_per_vm"] = (pit_threads() - before_pits) / n
        r["daemon_rss"] = (smaps_rollup(daemon.process.pid).get("Rss", 0) - daemon_rss0) / n / 1024
        r["daemon_fds"] = len(os.listdir(f"/proc/{daemon.process.pid}/fd"))
        log(f"{len(running)} running; {r['tasks_per_vm']:.2f} tasks/VM; MemAvailable -{r['meminfo']['MemAvailable']:.2f} MiB/VM "
            f"({r['beyond_guest']:.2f} beyond guest pages); vmm RSS {r['Rss']:.2f} PSS {r['Pss']:.2f} MiB")

        latencies = []
        size = 0
        for _ in range(a.requests):
            begin = time.monotonic()
            status, body = daemon.request("GET", "/v1/vms")
            latencies.append((time.monotonic() - begin) * 1000)
            size = len(body)
        r.update(p50=percentile(latencies, 0.5), p99=percentile(latencies, 0.99), list_bytes=size)
        log(f"GET /v1/vms p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms ({size} bytes)")

        begin = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(a.clients) as pool:
            list(pool.map(lambda vm: daemon.delete(vm["definition"]["name"]), vms))
        r["delete_seconds"] = time.monotonic() - begin
        log(f"deleted {len(vms)} VMs in {r['delete_seconds']:.1f} s")
    finally:
        daemon.close(a.clients)

    text = report(r, pid_max, threads_max)
    print(text)
    with open(a.output, "w") as file:
        file.write(text)


def report(r, pid_max, threads_max):
    m = r["meminfo"]
    kernel = (open("/proc/sys/kernel/osrelease").read().strip())
    stopped = (f"\n**Stopped at {r['started']} of {r['count']}**: {r['failure']} "
               f"({r['failure_tasks']} host tasks of kernel.pid_max {pid_max}, "
               f"MemAvailable {r['failure_available']} MiB)\n") if r["failure"] else ""
    return f"""# Density (bench/density.py)

{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, kernel {kernel}, {os.cpu_count()} CPUs,
{meminfo()['MemTotal'] // 1024} MiB, kernel.pid_max {pid_max}, kernel.threads-max {threads_max}.
One vmmd (`{r['build']}`, jailed VMs), {r['count']} VMs of 64 MiB booting `halt.elf`, created and
started by {r['clients']} parallel clients.
{stopped}
| measure | result | goal |
|---|---|---|
| VMs running at once | {r['running']} of {r['count']} | 4000 |
| create + start rate ({r['clients']} clients) | {r['rate']:.1f} VMs/s ({r['started']} in {r['seconds']:.1f} s) | ≥ 100 VMs/s |
| host memory per VM (MemAvailable drop / count) | {m['MemAvailable']:.2f} MiB | |
| of which guest pages touched (Shmem rise / count) | {m['Shmem']:.2f} MiB | |
| host memory per VM beyond the guest pages | {r['beyond_guest']:.2f} MiB | ≤ 1.5 MiB |
| `GET /v1/vms` with all up (p50 / p99 of 50) | {r['p50']:.1f} / {r['p99']:.1f} ms ({r['list_bytes'] // 1024} KiB) | p99 < 50 ms |
| stop + delete all ({r['clients']} clients) | {r['delete_seconds']:.1f} s | |
| host tasks per VM (rise / count) | {r['tasks_per_vm']:.2f} ({r['tasks_total']} tasks with all up) | fits kernel.pid_max |

Where a VM's host memory goes (per VM, MiB; /proc/meminfo rises / count, vmm from
`smaps_rollup` of {min(50, r['running'])} VMs):

| item | MiB per VM |
|---|---|
| vmm RSS / PSS | {r['Rss']:.2f} / {r['Pss']:.2f} |
| vmm private dirty / private clean / shared clean | {r['Private_Dirty']:.2f} / {r['Private_Clean']:.2f} / {r['Shared_Clean']:.2f} |
| vmm PSS of anonymous memory / of shared memory (guest RAM) | {r['Pss_Anon']:.2f} / {r['Pss_Shmem']:.2f} |
| AnonPages | {m['AnonPages']:.2f} |
| KernelStack | {m['KernelStack']:.2f} |
| PageTables / SecPageTables (KVM's) | {m['PageTables']:.2f} / {m['SecPageTables']:.2f} |
| Slab (unreclaimable) | {m['Slab']:.2f} ({m['SUnreclaim']:.2f}) |
| Percpu / VmallocUsed | {m['Percpu']:.2f} / {m['VmallocUsed']:.2f} |
| vmmd RSS rise | {r['daemon_rss']:.3f} ({r['daemon_fds']} descriptors open with all up) |

vmm's private dirty memory by mapping (KiB per VM, mean of {min(10, r['running'])} VMs; unnamed mappings are
thread stacks and malloc arenas): {', '.join(f'{name} {kib:.0f}' for kib, name in r['by_mapping'][:8])}.

One VM's tasks: {', '.join(f'`{name}`' for name in r['vm_tasks'])} (threads of its `vmm`), plus
{r['pits_per_vm']:.2f} `kvm-pit` kernel thread per VM.
"""


if __name__ == "__main__":
    main()
