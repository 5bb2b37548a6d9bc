import Foundation
import Glibc
import Testing

extension DaemonTests {
    @Test func eventsStreamEveryStateChange() async throws {
        try await withDaemon { daemon in
            try await daemon.create("watched")
            let socket = daemon.socket
            // curl ends the stream after a few seconds; the VM changes state meanwhile.
            async let stream = ChildProcess.run([
                "/usr/bin/curl", "-sN", "--max-time", "4", "--unix-socket", socket, "http://localhost/v1/events",
            ])
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await daemon.request("POST", "/v1/vms/watched/start").state == "running")
            #expect(try await daemon.request("POST", "/v1/vms/watched/kill").state == "stopped")
            let lines = try await stream.output.split(separator: "\n")
            let states = lines.compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["state"] as? String
            }
            #expect(states == ["starting", "running", "stopping", "stopped"])
        }
    }

    @Test func hostAndMetricsDescribeTheDaemon() async throws {
        try await withDaemon { daemon in
            try await daemon.create("measured")
            #expect(try await daemon.request("POST", "/v1/vms/measured/start").state == "running")
            let host = try await daemon.request("GET", "/v1/host")
            #expect(host.status == 200)
            #expect((host.json["kvm"] as? [String: Any])?["apiVersion"] as? Int == 12)
            #expect((host.json["vms"] as? [String: Any])?["running"] as? Int == 1)
            #expect(host.json["cpus"] as? Int ?? 0 >= 1)

            let stats = try await daemon.request("GET", "/v1/vms/measured/stats")
            #expect(stats.status == 200)
            let vcpus = stats.json["vcpus"] as? [[String: Any]] ?? []
            #expect(vcpus.map { $0["id"] as? Int } == [0])
            #expect((vcpus.first?["counters"] as? [String: Any])?["exits"] as? Int ?? 0 > 0, "\(stats.text)")
            let printed = try await Vmctl(daemon)("stats", "measured")
            #expect(printed.status == 0 && printed.output.contains("vcpu 0 exits "), "\(printed)")

            let metrics = try await daemon.request("GET", "/metrics").text
            #expect(metrics.contains(#"vmm_vms{state="running"} 1"#))
            #expect(metrics.contains(#"vmm_vm_vcpus{vm="measured"} 1"#))
            #expect(metrics.contains(#"vmm_vm_memory_bytes{vm="measured"} 16777216"#))
            #expect(metrics.contains(#"vmm_vm_exits_total{vm="measured",reason="io"}"#))
            #expect(metrics.contains("vmmd_uptime_seconds "))
        }
    }

    @Test func readinessIsSentToTheNotifySocket() async throws {
        let listener = try DatagramListener()
        try await withDaemon(environment: ["NOTIFY_SOCKET": listener.path]) { _ in
            #expect(listener.receive() == "READY=1")
        }
    }

    @Test func onlyRootAndTheGroupGetIn() async throws {
        // "users" (gid 100) stands in for kvm; nobody (65534) is the outsider.
        try await withDaemon(group: "users") { daemon in
            var info = stat()
            #expect(stat(daemon.socket, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o660)
            #expect(info.st_uid == 0 && info.st_gid == 100)
            let member = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--groups=100", "--"]
            let outsider = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
            #expect(try await daemon.request("GET", "/v1/vms", runAs: member).status == 200)
            #expect(try await daemon.request("GET", "/v1/vms", runAs: outsider).status == 0, "the socket's mode keeps others out")
            // Past a loosened mode, the peer's credentials still keep them out.
            chmod(daemon.socket, 0o666)
            let refused = try await daemon.request("GET", "/v1/vms", runAs: outsider)
            #expect(refused.status == 403)
            #expect(refused.errorCode == "forbidden")
        }
    }
}

/// A Unix datagram socket standing in for systemd's notify socket.
final class DatagramListener {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8)).sock").path
    private let fd: Int32

    init() throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw HarnessError("cannot bind \(path)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram (waits up to 10 s), nil if none came.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }
}
