import ClusterTestSupport
import Foundation
import Testing

/// bench/failover.sh: the failover time over many runs (not a CI test; it runs only with
/// `VMM_BENCH_FAILOVER_RUNS=N`). `FailoverCluster` with defaults (TTL 5 s, keep-alive 1 s);
/// each run SIGKILLs the host that runs the HA writer VM (vmmd and every vmm) and measures
/// until the restarted guest's first write reaches the shared disk (its first console line
/// comes a few milliseconds before), then brings the killed host back for the next run.
/// The table goes to `VMM_BENCH_FAILOVER_OUT` (default bench/results-failover-latest.md).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["VMM_BENCH_FAILOVER_RUNS"] != nil))
struct ClusterFailoverBench {
    static var runs: Int { max(1, Int(ProcessInfo.processInfo.environment["VMM_BENCH_FAILOVER_RUNS"] ?? "") ?? 20) }

    @Test func failoverTimeFromHostDeathToTheGuestRunningElsewhere() async throws {
        try await FailoverCluster.with { cluster in
            try await cluster.createAndStart("ha", on: 0, ha: true)
            let writers = WriterWatch(image: cluster.image("ha"))
            defer { writers.stop() }
            #expect(try await eventually(seconds: 20) { writers.instances.count == 1 })
            var times: [Double] = []
            for run in 1...Self.runs {
                let host = try #require((0..<3).first { cluster.vmmPID("ha", on: $0) != nil }, "run \(run): the VM runs nowhere")
                let before = writers.instances.count
                let killed = ContinuousClock.now
                cluster.hosts.hosts[host].killProcessesUsingRoot()
                guard try await eventually(seconds: 60, { writers.instances.count > before }) else {
                    Issue.record("run \(run): the VM did not run again within 60 s")
                    break
                }
                let seconds = (ContinuousClock.now - killed) / .milliseconds(1) / 1000
                times.append(seconds)
                print("failover run \(run): host\(host) killed, guest writing again after \(String(format: "%.2f", seconds)) s")
                try await cluster.hosts.hosts[host].start()
                #expect(try await eventually(seconds: 30) { try await cluster.isRegistered(host) })
            }
            #expect(writers.violations.isEmpty, "two writers at once: \(writers.violations)")
            try Self.report(times)
        }
    }

    private static func report(_ times: [Double]) throws {
        let sorted = times.sorted()
        guard !sorted.isEmpty else { return }
        let percentile = { (p: Double) in sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)] }
        let format = { (value: Double) in String(format: "%.2f", value) }
        let table = """
            | runs | min | median | p90 | p99 | max |
            |---|---|---|---|---|---|
            | \(sorted.count) | \(format(sorted[0])) s | \(format(percentile(0.5))) s | \(format(percentile(0.9))) s | \(format(percentile(0.99))) s | \(format(sorted.last!)) s |

            Every run (s): \(times.map(format).joined(separator: ", "))

            """
        print(table)
        let path = ProcessInfo.processInfo.environment["VMM_BENCH_FAILOVER_OUT"] ?? "\(TestPaths.packageRoot)/bench/results-failover-latest.md"
        try table.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
