#!/usr/bin/env python3
"""Daemon benchmarks: a real vmmd with real vmm processes booting echo.elf.

  (a) create + start through the API -> the guest's first console byte, vs `vmm run`
      alone exec -> first byte (median of 10 each);
  (b) VMs started per second by 8 parallel clients (40 VMs, 32 MiB each);
  (c) vmmd's RSS with 0 and with 50 running VMs;
  (d) GET /v1/vms latency with 50 VMs (1000 requests, one connection each, like vmctl).

Usage: python3 bench/daemon.py [--build-dir .build-bench/release] [--guests .build/guests]
Build first: swift build -c release --static-swift-stdlib --scratch-path .build-bench
Prints a Markdown section. Not a test: goals are reported, nothing fails on them.
All VMs are killed and deleted at the end, and the daemon stopped.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from unix_http import UnixHTTPConnection

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY = 32 * 1024 * 1024


def log(message):
    print(message, file=sys.stderr, flush=True)


class Daemon:
    def __init__(self, build_dir, extra=(), cpu_overcommit=64, prefix="vmmd-bench-"):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.socket = f"{self.root}/vmmd.sock"
        self.log = open(f"{self.root}/vmmd.log", "wb")
        self.process = subprocess.Popen(
            [f"{build_dir}/vmmd", "--socket", self.socket, "--state-dir", f"{self.root}/state",
             "--runtime-dir", f"{self.root}/run", "--vmm", f"{build_dir}/vmm",
             # 50 one-vCPU VMs on a 2-core machine: past the default 16 vCPUs per CPU.
             "--cpu-overcommit", str(cpu_overcommit), *extra],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/v1/vms")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("vmmd did not come up; log in " + self.log.name)

    def request(self, method, path, body=None):
        connection = UnixHTTPConnection(self.socket)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def create_and_start(self, name, kernel):
        status, body = self.request("POST", "/v1/vms", {"name": name, "kernel": kernel, "memory": MEMORY})
        assert status == 201, (status, body)
        status, body = self.request("POST", f"/v1/vms/{name}/start")
        assert status == 200, (status, body)

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def remove_all(self):
        status, body = self.request("GET", "/v1/vms")
        for vm in json.loads(body)["vms"]:
            name = vm["definition"]["name"]
            self.request("DELETE", f"/v1/vms/{name}?force=true")
            # An older API without ?force: kill, then delete.
            if self.request("GET", f"/v1/vms/{name}")[0] != 404:
                self.request("POST", f"/v1/vms/{name}/kill")
                self.request("DELETE", f"/v1/vms/{name}")

    def close(self):
        try:
            self.remove_all()
        finally:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
            shutil.rmtree(self.root, ignore_errors=True)


def vmm_first_byte(build_dir, kernel, extra=()):
    """exec -> first byte on the guest's console (stdout) of `vmm run` alone, in ms."""
    start = time.monotonic()
    process = subprocess.Popen([f"{build_dir}/vmm", "run", "--kernel", kernel, "--memory", "32M", *extra],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    process.stdout.read(1)
    elapsed = (time.monotonic() - start) * 1000
    process.kill()
    process.wait()
    return elapsed


def daemon_first_byte(daemon, name, kernel):
    """create + start -> first byte in GET /v1/vms/NAME/console, in ms."""
    start = time.monotonic()
    daemon.create_and_start(name, kernel)
    started = time.monotonic()
    while True:
        status, body = daemon.request("GET", f"/v1/vms/{name}/console")
        if status == 200 and body:
            break
        time.sleep(0.0005)
    end = time.monotonic()
    daemon.request("POST", f"/v1/vms/{name}/kill")
    daemon.request("DELETE", f"/v1/vms/{name}")
    return (end - start) * 1000, (started - start) * 1000


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=f"{ROOT}/.build-bench/release")
    parser.add_argument("--guests", default=f"{ROOT}/.build/guests")
    parser.add_argument("--runs", type=int, default=10)
    a = parser.parse_args()
    kernel = f"{a.guests}/echo.elf"
    if not os.path.exists(kernel):
        subprocess.run(["make", "-s", "-C", f"{ROOT}/Tests/Guests", f"OUT={a.guests}"], check=True)

    results = {}
    # (a) vmm alone, then through the daemon (runs interleaved).
    daemon = Daemon(a.build_dir)
    try:
        time.sleep(0.5)
        results["rss0"] = daemon.rss_kib()
        vmm_runs, api_runs, start_calls = [], [], []
        for i in range(a.runs):
            vmm_runs.append(vmm_first_byte(a.build_dir, kernel))
            total, start_call = daemon_first_byte(daemon, f"first-{i}", kernel)
            api_runs.append(total)
            start_calls.append(start_call)
        results["vmm_first"] = statistics.median(vmm_runs)
        results["api_first"] = statistics.median(api_runs)
        results["api_start_call"] = statistics.median(start_calls)
        log(f"(a) vmm run {results['vmm_first']:.1f} ms, API {results['api_first']:.1f} ms "
            f"(create+start returned after {results['api_start_call']:.1f} ms)")

        # (b) 40 VMs by 8 parallel clients.
        names = [f"par-{i}" for i in range(40)]
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda name: daemon.create_and_start(name, kernel), names))
        elapsed = time.monotonic() - start
        results["per_second"] = len(names) / elapsed
        results["parallel_seconds"] = elapsed
        log(f"(b) 40 VMs in {elapsed:.2f} s: {results['per_second']:.1f} VMs/s")
        daemon.remove_all()

        # (c) and (d) with 50 VMs.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: daemon.create_and_start(f"fifty-{i}", kernel), range(50)))
        status, body = daemon.request("GET", "/v1/vms")
        running = sum(1 for vm in json.loads(body)["vms"] if vm["state"] == "running")
        assert running == 50, running
        time.sleep(1)
        results["rss50"] = daemon.rss_kib()
        log(f"(c) RSS {results['rss0'] / 1024:.1f} MiB idle, {results['rss50'] / 1024:.1f} MiB with 50 VMs")
        latencies = []
        for _ in range(1000):
            start = time.monotonic()
            status, body = daemon.request("GET", "/v1/vms")
            latencies.append((time.monotonic() - start) * 1000)
            assert status == 200
        results["p50"] = percentile(latencies, 0.50)
        results["p99"] = percentile(latencies, 0.99)
        log(f"(d) GET /v1/vms p50 {results['p50']:.2f} ms, p99 {results['p99']:.2f} ms")
    finally:
        daemon.close()

    r = results
    print(f"""| measure | result | goal |
|---|---|---|
| (a) exec `vmm run` → first console byte (median of {a.runs}) | {r['vmm_first']:.1f} ms | |
| (a) API create + start → first byte in `GET …/console` (median of {a.runs}) | {r['api_first']:.1f} ms (start call returned after {r['api_start_call']:.1f} ms) | |
| (a) difference | {r['api_first'] - r['vmm_first']:+.1f} ms | ≤ 20 ms |
| (b) 40 VMs (32 MiB), 8 parallel clients | {r['parallel_seconds']:.2f} s: {r['per_second']:.1f} VMs/s | |
| (c) vmmd RSS, 0 VMs / 50 VMs | {r['rss0'] / 1024:.1f} MiB / {r['rss50'] / 1024:.1f} MiB | < 30 MiB |
| (d) `GET /v1/vms` with 50 VMs, 1000 requests: p50 / p99 | {r['p50']:.2f} ms / {r['p99']:.2f} ms | p99 < 5 ms |""")


if __name__ == "__main__":
    main()
