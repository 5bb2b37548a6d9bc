import Foundation
import Testing

extension LongGuestRuns {
    /// vmm's token buckets seen from a guest: the `virtio-bench` test kernel does I/O as fast
    /// as it can and measures, with its calibrated TSC, what it gets; a limited disk or NIC
    /// delivers its limit (within 10 %), an unlimited one far more, and a limit changed on
    /// the control socket holds from the next phase on.
    @Suite(.enabled(if: TestEnvironment.kvmAvailable))
    struct RateLimitGuestTests {
        /// One phase's result line: `bench: NAME reqs N bytes B cycles C ...`.
        struct Phase {
            let requests: Double
            let bytes: Double
            let seconds: Double
            var bytesPerSecond: Double { bytes / seconds }
            var requestsPerSecond: Double { requests / seconds }

            /// The phase `name` in the guest's output, timed with its `bench: tsc_khz` line.
            static func parse(_ output: String, _ name: String, occurrence: Int = 0) -> Phase? {
                let lines = output.split(whereSeparator: \.isNewline)
                guard let khz = lines.first(where: { $0.hasPrefix("bench: tsc_khz ") }).flatMap({ Double($0.split(separator: " ")[2]) })
                else { return nil }
                let results = lines.filter { $0.hasPrefix("bench: \(name) reqs ") }
                guard results.indices.contains(occurrence) else { return nil }
                let fields = results[occurrence].split(separator: " ").map(String.init)
                func value(_ key: String) -> Double? { fields.firstIndex(of: key).flatMap { Double(fields[$0 + 1]) } }
                guard let requests = value("reqs"), let bytes = value("bytes"), let cycles = value("cycles"), cycles > 0
                else { return nil }
                return Phase(requests: requests, bytes: bytes, seconds: cycles / (khz * 1000))
            }
        }

        /// A sparse 64 MiB image.
        private func image() throws -> TemporaryFile {
            let file = try TemporaryFile(contents: "")
            #expect(truncate(file.path, 64 << 20) == 0)
            return file
        }

        private func bench(_ cmdline: String, disk: String, timeout: TimeInterval = 90) throws -> VMMProcess.Result {
            try VMMProcess.run([
                "run", "--kernel", try TestEnvironment.guest("virtio-bench"), "--memory", "64M", "--cmdline", cmdline,
                "--disk", disk,
            ], timeout: timeout)
        }

        private func expectNear(_ measured: Double, _ limit: Double, _ what: String, output: String) {
            #expect(measured >= limit * 0.9 && measured <= limit * 1.1, "\(what): \(measured) per second against a limit of \(limit)\n\(output)")
        }

        @Test func aLimitedDiskDeliversItsBytesPerSecondAndAnUnlimitedOneFarMore() throws {
            let disk = try image()
            let limit = Double(8 << 20)
            let limited = try bench("bench=seqread secs=3 size=65536 qd=8", disk: "\(disk.path),bps=8M")
            let unlimited = try bench("bench=seqread secs=1 size=65536 qd=8", disk: disk.path)
            let throttled = try #require(Phase.parse(limited.standardOutput, "seqread"), "\(limited.standardOutput)\(limited.standardError)")
            let free = try #require(Phase.parse(unlimited.standardOutput, "seqread"), "\(unlimited.standardOutput)")
            expectNear(throttled.bytesPerSecond, limit, "seqread bytes", output: limited.standardOutput)
            #expect(free.bytesPerSecond > 4 * limit, "unlimited seqread: \(free.bytesPerSecond) B/s")
            #expect(limited.status == 1 && unlimited.status == 1)
        }

        @Test func aLimitedDiskDeliversItsRequestsPerSecond() throws {
            let disk = try image()
            let result = try bench("bench=randread secs=3 qd=8", disk: "\(disk.path),iops=300")
            let phase = try #require(Phase.parse(result.standardOutput, "randread"), "\(result.standardOutput)\(result.standardError)")
            expectNear(phase.requestsPerSecond, 300, "randread requests", output: result.standardOutput)
            #expect(result.status == 1)
        }

        /// The first phase runs at 4 MiB/s; between the phases (the guest idles two seconds)
        /// the control socket raises the limit to 16 MiB/s, which the second phase gets.
        @Test func aLimitChangedOnTheControlSocketHoldsAtOnce() throws {
            let disk = try image()
            let vmm = try SupervisedVMM(
                kernel: "virtio-bench",
                arguments: ["--memory", "64M", "--cmdline", "bench=seqread,seqread secs=2 size=65536 qd=8 idle=2000",
                            "--disk", "\(disk.path),bps=4M"])
            let console = try vmm.console()
            let control = try vmm.control()
            #expect(console.waitFor("bench: seqread reqs", timeout: 60), "\(console.text)")
            let answer = control.request("limit disk 0 bps=16M")
            #expect((answer?["ok"] as? Bool) == true, "\(answer ?? [:])")
            #expect(((answer?["disk"] as? [String: Any])?["bps"] as? Int) == 16 << 20)
            // Bad settings are refused with the reason, and the limit stays (the guest ends when done, so ask now).
            let refused = control.request("limit disk 0 bps=0")
            #expect(((refused?["error"] as? [String: Any])?["message"] as? String)?.contains("bps=0 must be") == true, "\(refused ?? [:])")
            #expect(((control.request("limit disk 3 none")?["error"] as? [String: Any])?["message"] as? String)?.contains("no disk 3") == true)
            #expect(console.waitFor("bench: seqread reqs", timeout: 60), "\(console.text)")
            let status = control.request("status")
            let disks = status?["disks"] as? [[String: Any]]
            #expect((disks?.first?["waits"] as? Int ?? 0) > 0, "\(status ?? [:])")
            #expect((disks?.first?["throttled_ms"] as? Int ?? 0) > 1000, "\(status ?? [:])")
            console.drain()
            let first = try #require(Phase.parse(console.text, "seqread", occurrence: 0), "\(console.text)")
            let second = try #require(Phase.parse(console.text, "seqread", occurrence: 1), "\(console.text)")
            expectNear(first.bytesPerSecond, Double(4 << 20), "first seqread", output: console.text)
            expectNear(second.bytesPerSecond, Double(16 << 20), "second seqread", output: console.text)
        }

        @Test(.enabled(if: NetworkNamespace.available, "needs root and iproute2 for a network namespace"))
        func aLimitedNICSendsItsFramesAndBytesPerSecond() throws {
            let namespace = try NetworkNamespace()
            try namespace.addTap("vmmrate0")
            let result = try namespace.run([
                TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("virtio-bench"), "--memory", "64M",
                "--cmdline", "bench=nettx secs=3", "--net", "tap=vmmrate0,tx-pps=2000",
            ], timeout: 90)
            let phase = try #require(Phase.parse(result.standardOutput, "nettx"), "\(result.standardOutput)\(result.standardError)")
            expectNear(phase.requestsPerSecond, 2000, "nettx frames", output: result.standardOutput)
            // Bytes: 1514-byte frames (the virtio-net header does not count) at 2 MiB/s.
            let bytes = try namespace.run([
                TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("virtio-bench"), "--memory", "64M",
                "--cmdline", "bench=nettx secs=3", "--net", "tap=vmmrate0,tx-bps=2M",
            ], timeout: 90)
            let bytePhase = try #require(Phase.parse(bytes.standardOutput, "nettx"), "\(bytes.standardOutput)\(bytes.standardError)")
            expectNear(bytePhase.bytesPerSecond, Double(2 << 20), "nettx bytes", output: bytes.standardOutput)
        }
    }
}
