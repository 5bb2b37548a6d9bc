import ClusterTestSupport
import Foundation
import Testing
import VMMAPI
@testable import VMMDaemon

extension DaemonTests {
    /// Rate limits in a definition reach `vmm`'s command line, change on a running VM at once
    /// (PATCH → `limit` on its control socket, which `status` then shows), and absurd or
    /// misspelt values are refused before anything changes.
    @Test func rateLimitsAreDefinedAndChangeOnARunningVM() async throws {
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("vmmd-limit-\(UUID().uuidString).img").path
        #expect(FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20)))
        defer { try? FileManager.default.removeItem(atPath: image) }
        try await withDaemon { daemon in
            func definition(_ name: String, _ limit: String) -> String {
                #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel("echo"))","memory":67108864,"disks":[{"path":"\#(image)","readOnly":true,"rateLimit":\#(limit)}]}"#
            }
            for (limit, fragment) in [
                (#"{"bytesPerSecond":0}"#, "disks[0].rateLimit.bytesPerSecond: the rate 0 is not from 1"),
                (#"{"opsPerSecond":100000001}"#, "not from 1 to 100000000"),
                (#"{"opsBurst":5}"#, "disks[0].rateLimit.opsBurst needs disks[0].rateLimit.opsPerSecond"),
                (#"{"bytesPerSec":5}"#, "rateLimit.bytesPerSec"),
                (#"{"bytesPerSecond":-1}"#, "invalid JSON body"),
            ] {
                let refused = try await daemon.request("POST", "/v1/vms", body: definition("bad", limit))
                #expect(refused.status == 400 && refused.text.contains(fragment), "\(limit): \(refused.status) \(refused.text)")
            }
            #expect(try await daemon.request("GET", "/v1/vms/bad").status == 404, "nothing half-created")

            let created = try await daemon.request("POST", "/v1/vms", body: definition("lim", #"{"bytesPerSecond":8388608,"opsPerSecond":100,"opsBurst":5}"#))
            #expect(created.status == 201, "\(created.text)")
            #expect(try await daemon.request("POST", "/v1/vms/lim/start").status == 200)
            let socket = "\(daemon.runtimeDirectory)/vms/lim/root/control.sock"
            let started = try await ControlChannel(socketPath: socket).status()
            #expect(started.disks?.count == 1)
            let commandLine = try String(contentsOfFile: "/proc/\(started.pid)/cmdline", encoding: .utf8)
            #expect(commandLine.contains("\(image),readonly,bps=8388608,iops=100,iops-burst=5"), "\(commandLine)")

            // A running VM takes new limits; other changes stay refused.
            let patch = #"{"disks":[{"path":"\#(image)","readOnly":true,"rateLimit":{"bytesPerSecond":1048576}}]}"#
            let patched = try await daemon.request("PATCH", "/v1/vms/lim", body: patch)
            #expect(patched.status == 200, "\(patched.text)")
            #expect(try JSONDecoder().decode(VMInfo.self, from: patched.body).definition.disks[0].rateLimit
                == VMRateLimit(bytesPerSecond: 1 << 20))
            let answer = try await ControlChannel(socketPath: socket).request("status")
            #expect(answer.contains(#""disks":[{"bps":1048576,"bps_burst":104857,"waits":0"#), "\(answer)")
            let bad = try await daemon.request("PATCH", "/v1/vms/lim", body: #"{"disks":[{"path":"\#(image)","readOnly":true,"rateLimit":{"opsPerSecond":0}}]}"#)
            #expect(bad.status == 400, "\(bad.text)")
            let other = try await daemon.request("PATCH", "/v1/vms/lim", body: #"{"disks":[{"path":"\#(image)","readOnly":false}]}"#)
            #expect(other.status == 409, "\(other.text)")
            let metrics = try await daemon.request("GET", "/metrics").text
            #expect(metrics.contains(#"vmm_vm_rate_limit_waits_total{vm="lim",device="disk0"} 0"#), "\(metrics)")
            #expect(metrics.contains(#"vmm_vm_rss_bytes{vm="lim"} "#))
            #expect(try await daemon.request("POST", "/v1/vms/lim/kill").status == 200)
            let stored = try JSONDecoder().decode(
                VMDefinition.self, from: Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDirectory)/vms/lim.json")))
            #expect(stored.disks[0].rateLimit == VMRateLimit(bytesPerSecond: 1 << 20), "the definition keeps the last limit")

            // vmctl create takes the same settings as vmm run.
            let vmctl = Vmctl(daemon)
            let fromCLI = try await vmctl(
                "create", "cli", "--kernel", TestPaths.kernel("echo"), "--disk", "\(image),readonly,iops=50",
                "--net", "tap,tx-bps=1M", "--merge-pages", "--cpu-limit", "0.5", "--memory-limit", "on")
            #expect(fromCLI.status == 0, "\(fromCLI)")
            let cli = try JSONDecoder().decode(VMInfo.self, from: try await daemon.request("GET", "/v1/vms/cli").body).definition
            #expect(cli.disks[0].rateLimit == VMRateLimit(opsPerSecond: 50, opsBurst: 5))
            #expect(cli.networks[0].transmitLimit == VMRateLimit(bytesPerSecond: 1 << 20, bytesBurst: 104857))
            #expect(cli.mergePages)
            #expect(cli.limits == VMLimits(cpus: 0.5, memoryLimit: true))
            let info = try await vmctl("info", "cli").output
            for shown in ["(read-only), limit 50 iops", "tx limit 1M/s", "yes (KSM)", "cpu 0.5 CPUs, memory limit on"] {
                #expect(info.contains(shown), "vmctl info lacks '\(shown)':\n\(info)")
            }
            #expect(try await vmctl("create", "cli2", "--kernel", TestPaths.kernel("echo"), "--disk", "\(image),iops=0").status == 2)
        }
    }

    @Test func theVMMCommandLineCarriesLimitsAndPageMerging() throws {
        let launcher = VMMLauncher(executable: "/usr/bin/vmm")
        let definition = VMDefinition(
            name: "web", kernel: "/k", disks: [VMDisk(path: "/d.img", rateLimit: VMRateLimit(opsPerSecond: 10))],
            networks: [VMNetwork(tap: "t0", mac: "02:00:00:00:00:01", receiveLimit: VMRateLimit(bytesPerSecond: 1000, bytesBurst: 10))],
            mergePages: true)
        let arguments = try launcher.arguments(for: definition, in: RuntimeDirectory(path: "/run/vmm/vms/web"))
        let pairs = zip(arguments, arguments.dropFirst()).map { "\($0) \($1)" }
        #expect(pairs.contains("--disk /d.img,iops=10"), "\(arguments)")
        #expect(pairs.contains("--net tap=t0,mac=02:00:00:00:00:01,rx-bps=1000,rx-bps-burst=10"), "\(arguments)")
        #expect(arguments.contains("--merge-pages"))
    }
}
