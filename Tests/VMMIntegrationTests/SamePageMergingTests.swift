import Foundation
import Testing

extension LongGuestRuns {
    /// `vmm run --merge-pages`: two guests that fill memory with the same bytes end up
    /// sharing those pages through the kernel's same-page merging (KSM). The test turns
    /// ksmd on (and scans faster) for its own run and puts both settings back after.
    ///
    /// Without /sys/kernel/mm/ksm the test fails saying so, unless VMM_SKIP_KSM_TEST=1
    /// (for kernels built without CONFIG_KSM).
    @Suite(.enabled(if: TestEnvironment.kvmAvailable))
    struct SamePageMergingTests {
        static let ksm = "/sys/kernel/mm/ksm"

        private func read(_ name: String) -> UInt64? {
            (try? String(contentsOfFile: "\(Self.ksm)/\(name)", encoding: .utf8))
                .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        private func write(_ value: UInt64, _ name: String) throws {
            try "\(value)\n".write(toFile: "\(Self.ksm)/\(name)", atomically: false, encoding: .utf8)
        }

        @Test func twoGuestsWithTheSameMemoryShareItsPages() throws {
            guard FileManager.default.fileExists(atPath: Self.ksm) else {
                let reason = "\(Self.ksm) is missing: this kernel has no same-page merging (CONFIG_KSM), so --merge-pages cannot be shown here"
                if ProcessInfo.processInfo.environment["VMM_SKIP_KSM_TEST"] == "1" {
                    print("SamePageMergingTests skipped (VMM_SKIP_KSM_TEST=1): \(reason)")
                } else {
                    Issue.record("\(reason); set VMM_SKIP_KSM_TEST=1 to skip this test on such a kernel")
                }
                return
            }
            let run = try #require(read("run")), pagesToScan = try #require(read("pages_to_scan"))
            try write(1, "run")
            try write(2000, "pages_to_scan")
            defer {
                try? write(pagesToScan, "pages_to_scan")
                // 0 stops ksmd and keeps what it merged; 2 would unmerge everything on the host.
                try? write(run, "run")
            }
            let touchedMiB: UInt64 = 16
            let guests = try (0..<2).map { _ in
                try SupervisedVMM(kernel: "idle", arguments: ["--memory", "64M", "--cmdline", "touch=\(touchedMiB)", "--merge-pages"])
            }
            var pids: [String] = []
            for guest in guests {
                let console = try guest.console()
                #expect(console.waitFor("idle: touched \(touchedMiB) MiB", timeout: 120), "\(console.text)")
                pids.append(try String(contentsOfFile: guest.pidPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
            }
            // Both guests' 16 MiB hold one repeated page: all but one page of them can go.
            // Each process's own count (pages_sharing is host-wide and lags behind exits).
            let expected = 2 * touchedMiB * 256 * 9 / 10
            var merged: UInt64 = 0
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                merged = pids.compactMap { pid in
                    (try? String(contentsOfFile: "/proc/\(pid)/ksm_merging_pages", encoding: .utf8))
                        .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                }.reduce(0, +)
                if merged >= expected { break }
                Thread.sleep(forTimeInterval: 0.5)
            }
            #expect(merged >= expected, "the two vmm processes have \(merged) merged pages, expected at least \(expected)")
            #expect((read("pages_sharing") ?? 0) > 0)
            for guest in guests { _ = (try? guest.control())?.request("stop") }
        }
    }
}
