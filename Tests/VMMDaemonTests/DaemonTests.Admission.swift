import ClusterTestSupport
import Foundation
import Testing

/// Admission: the daemon promises no more guest RAM or vCPUs than host × its ratios.
extension DaemonTests {
    @Test func startsPastTheOvercommitRatiosAreRefusedWithTheNumbers() async throws {
        // Ratios that leave room for 40 MiB of guest RAM and 3 vCPUs on whatever host runs this.
        let hostMemory = try #require(Self.meminfoBytes("MemTotal:"))
        let memoryRatio = Double(40 << 20) / Double(hostMemory)
        let cpuRatio = 3 / Double(ProcessInfo.processInfo.activeProcessorCount)
        try await withDaemon(arguments: ["--memory-overcommit", "\(memoryRatio)", "--cpu-overcommit", "\(cpuRatio)"]) { daemon in
            for name in ["a", "b", "c"] {
                #expect(try await daemon.request("POST", "/v1/vms", body: Self.echoVM(name, memory: 16 << 20, cpus: 1)).status == 201)
            }
            #expect(try await daemon.request("POST", "/v1/vms", body: Self.echoVM("wide", memory: 8 << 20, cpus: 2)).status == 201)
            for name in ["a", "b"] { #expect(try await daemon.request("POST", "/v1/vms/\(name)/start").state == "running") }

            // 32 MiB promised, 16 more would pass 40.
            let refused = try await daemon.request("POST", "/v1/vms/c/start")
            #expect(refused.status == 409, "\(refused.text)")
            #expect(refused.text.contains("cannot start VM c: it needs 16M of memory and 32M of 40M are promised already"), "\(refused.text)")
            #expect(refused.text.contains("--memory-overcommit"))
            #expect(try await daemon.state("c") == "stopped", "nothing half-started")

            // Memory fits (40 of 40) but vCPUs do not (2 + 2 > 3).
            let wide = try await daemon.request("POST", "/v1/vms/wide/start")
            #expect(wide.status == 409, "\(wide.text)")
            #expect(wide.text.contains("it needs 2 vCPUs and 2 of 3 are promised already"), "\(wide.text)")
            #expect(!wide.text.contains("of memory"), "only what is short is named: \(wide.text)")

            // The host says what is promised; vmctl shows it.
            let committed = try #require(try await daemon.request("GET", "/v1/host").json["committed"] as? [String: Any])
            #expect(committed["memory"] as? Int == 32 << 20)
            #expect(committed["vcpus"] as? Int == 2)
            #expect(committed["vcpuCapacity"] as? Int == 3)
            #expect(abs((committed["memoryCapacity"] as? Int ?? 0) - (40 << 20)) < 4096)
            let shown = try await ChildProcess.run([TestPaths.vmctl, "--socket", daemon.socket, "host"])
            #expect(shown.output.contains("committed memory"), "\(shown.output)")
            #expect(shown.output.contains("2 of 3"), "\(shown.output)")

            // A stopped VM's promise is released: c starts now.
            #expect(try await daemon.request("POST", "/v1/vms/a/kill").state == "stopped")
            #expect(try await daemon.request("POST", "/v1/vms/c/start").state == "running")
            for name in ["b", "c"] { #expect(try await daemon.request("POST", "/v1/vms/\(name)/kill").state == "stopped") }
        }
    }

    @Test func overcommitRatiosMustBePositive() async throws {
        for option in ["--memory-overcommit", "--cpu-overcommit"] {
            let result = try await ChildProcess.run(
                ["/bin/sh", "-c", "'\(TestPaths.vmmd)' \(option) 0 --socket /nonexistent/vmmd.sock 2>&1"])
            #expect(result.status != 0)
            #expect(result.output.contains("\(option) must be a ratio above 0"), "\(result.output)")
        }
    }

    static func echoVM(_ name: String, memory: Int, cpus: Int) -> String {
        #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel("echo"))","memory":\#(memory),"cpus":\#(cpus)}"#
    }

    static func meminfoBytes(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return kib * 1024
    }
}
