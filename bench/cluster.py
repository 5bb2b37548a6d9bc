#!/usr/bin/env python3
"""API latency in cluster mode against a single host (issue 10's benchmark list).

Starts a 3-member etcd on loopback, three vmmd in cluster mode (one CA, --listen on
127.0.0.1) and one single-host vmmd, each with its own folders, then measures over each
daemon's Unix socket (one connection per request, like vmctl):
  list     GET /v1/vms with 20 VMs defined across the cluster (on the single host: 20 there);
  create   POST /v1/vms: on the single host; in the cluster pinned to the host asked
           ("local") and pinned to another host (forwarded over mutual TLS);
  start    POST /v1/vms/NAME/start of echo.elf (16 MiB): single host; cluster, the VM on
           the host asked (ownership claimed in etcd first) and on another host (forwarded);
  kill     POST /v1/vms/NAME/kill, the same three ways.
Prints a Markdown table (median and p90 in ms). Not a test: nothing fails on the numbers.

Usage: python3 bench/cluster.py [--build-dir .build/debug] [--guests .build/guests] [--runs 20]
Everything it started is stopped and its folders removed at the end.
"""
import argparse
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
MEMORY = 16 * 1024 * 1024


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port(taken):
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(what + " did not come up")


class Etcd:
    """Three etcd members on 127.0.0.1 with free ports and temporary data folders."""

    def __init__(self, root, taken):
        names = ["member0", "member1", "member2"]
        ports = [(free_port(taken), free_port(taken)) for _ in names]
        self.urls = [f"http://127.0.0.1:{client}" for client, _ in ports]
        initial = ",".join(f"{name}=http://127.0.0.1:{peer}" for name, (_, peer) in zip(names, ports))
        self.processes = []
        for name, (client, peer) in zip(names, ports):
            output = open(f"{root}/{name}.log", "wb")
            self.processes.append(subprocess.Popen(
                ["etcd", "--name", name, "--data-dir", f"{root}/{name}",
                 "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
                 "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", os.path.basename(root)],
                stdin=subprocess.DEVNULL, stdout=output, stderr=output))
        for url in self.urls:
            wait_until(lambda: b'"health":"true"' in subprocess.run(
                ["curl", "-s", "--max-time", "1", url + "/health"], capture_output=True).stdout, 30, "etcd " + url)

    def stop(self):
        for process in self.processes:
            process.kill()
            process.wait()


class Daemon:
    def __init__(self, build_dir, root, options):
        os.makedirs(root)
        self.socket = f"{root}/vmmd.sock"
        output = open(f"{root}/vmmd.log", "wb")
        self.process = subprocess.Popen(
            [f"{build_dir}/vmmd", "--socket", self.socket, "--state-dir", f"{root}/state", "--runtime-dir", f"{root}/run",
             "--vmm", f"{build_dir}/vmm", "--cpu-overcommit", "64"] + options,
            stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        wait_until(lambda: self.request("GET", "/v1/vms")[0] == 200, 20, "vmmd " + root)

    def request(self, method, path, body=None):
        connection = UnixHTTPConnection(self.socket)
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def timed(self, method, path, body=None, expect=(200, 201)):
        begin = time.perf_counter()
        status, answer = self.request(method, path, body)
        elapsed = (time.perf_counter() - begin) * 1000
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
        return elapsed

    def stop(self):
        _, body = self.request("GET", "/v1/vms")
        for vm in json.loads(body)["vms"]:
            if vm["state"] in ("starting", "running", "paused"):
                self.request("POST", f"/v1/vms/{vm['definition']['name']}/kill")
        self.process.send_signal(signal.SIGTERM)
        self.process.wait()


def summary(samples):
    samples = sorted(samples)
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=f"{ROOT}/.build/debug")
    parser.add_argument("--guests", default=f"{ROOT}/.build/guests")
    parser.add_argument("--runs", type=int, default=20)
    arguments = parser.parse_args()
    kernel = f"{arguments.guests}/echo.elf"
    root = tempfile.mkdtemp(prefix="vmm-cluster-bench-")
    taken = set()
    etcd, daemons = None, []
    try:
        subprocess.run([f"{ROOT}/scripts/make-certificates.sh", f"{root}/tls", "host0=127.0.0.1", "host1=127.0.0.1",
                        "host2=127.0.0.1"], check=True, capture_output=True)
        etcd = Etcd(root, taken)
        for index in range(3):
            name = f"host{index}"
            daemons.append(Daemon(arguments.build_dir, f"{root}/{name}", [
                "--listen", f"127.0.0.1:{free_port(taken)}", "--migration-port", str(free_port(taken)),
                "--tls-cert", f"{root}/tls/{name}.crt", "--tls-key", f"{root}/tls/{name}.key", "--tls-ca", f"{root}/tls/ca.crt",
                "--cluster", "etcd=" + ",".join(etcd.urls), "--host-name", name]))
        single = Daemon(arguments.build_dir, f"{root}/single", [])
        daemons.append(single)
        asked = daemons[0]
        log("daemons up; measuring")

        def definition(name, host=None):
            body = {"name": name, "kernel": kernel, "memory": MEMORY}
            if host:
                body["host"] = host
            return body

        results = {}
        runs = arguments.runs
        results["create", "single host"] = [single.timed("POST", "/v1/vms", definition(f"s{i}")) for i in range(runs)]
        results["create", "cluster, on the host asked"] = [
            asked.timed("POST", "/v1/vms", definition(f"l{i}", "host0")) for i in range(runs)]
        results["create", "cluster, on another host"] = [
            asked.timed("POST", "/v1/vms", definition(f"r{i}", "host1")) for i in range(runs)]
        # 20 VMs each way defined now: 60 in the cluster, 20 on the single host.
        results["list", "single host (20 VMs)"] = [single.timed("GET", "/v1/vms") for _ in range(runs * 5)]
        results["list", "cluster (60 VMs on 2 hosts)"] = [asked.timed("GET", "/v1/vms") for _ in range(runs * 5)]
        for label, daemon, prefix in [("single host", single, "s"), ("cluster, on the host asked", asked, "l"),
                                      ("cluster, on another host", asked, "r")]:
            starts, kills = [], []
            for i in range(runs):
                starts.append(daemon.timed("POST", f"/v1/vms/{prefix}{i}/start"))
                kills.append(daemon.timed("POST", f"/v1/vms/{prefix}{i}/kill"))
            results["start", label] = starts
            results["kill", label] = kills

        print("| call | where | median ms | p90 ms | n |")
        print("|---|---|---|---|---|")
        for (call, where), samples in results.items():
            median, p90 = summary(samples)
            print(f"| {call} | {where} | {median:.1f} | {p90:.1f} | {len(samples)} |")
    finally:
        for daemon in daemons:
            try:
                daemon.stop()
            except Exception as error:  # keep tearing down
                log(f"stopping a daemon: {error}")
        if etcd:
            etcd.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
