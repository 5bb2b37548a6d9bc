"""QEMU's QMP monitor over its Unix socket, for the benchmarks that drive QEMU."""
import json
import socket
import time


class QMP:
    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)  # restore timings wait on this connect
        self.s.settimeout(timeout)
        self.f = self.s.makefile("rb")
        self.events = []
        json.loads(self.f.readline())              # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        line = self.f.readline()
        if not line:
            raise RuntimeError("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            m = self.read()
            if "event" in m:
                self.events.append(m)
                continue
            if "error" in m:
                raise RuntimeError(f"QMP {name}: {m['error']}")
            return m["return"]

    def wait_event(self, pred, timeout=600):
        for i, e in enumerate(self.events):
            if pred(e):
                del self.events[i]
                return e
        self.s.settimeout(timeout)
        while True:
            m = self.read()
            if "event" in m and pred(m):
                return m

    def close(self):
        self.s.close()
