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

        /// Runs `body` with ksmd on and scanning fast, then puts both settings back; records
        /// an issue (or skips, with VMM_SKIP_KSM_TEST=1) on a kernel without KSM.
        private func withSamePageMerging(_ body: () throws -> Void) throws {
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
            try body()
        }

        /// The pages KSM merged in the processes `pids`, once they reach `expected` or after a minute.
        private func mergedPages(_ pids: [String], expected: UInt64) -> UInt64 {
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
            return merged
        }

        private static let touchedMiB: UInt64 = 16
        /// All but a few of `touchedMiB` of one repeated page can go.
        private static let mergeableInOneGuest = touchedMiB * 256 * 9 / 10

        @Test func twoGuestsWithTheSameMemoryShareItsPages() throws { try withSamePageMerging {
            let touchedMiB = Self.touchedMiB
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
            let expected = 2 * Self.mergeableInOneGuest
            let merged = mergedPages(pids, expected: expected)
            #expect(merged >= expected, "the two vmm processes have \(merged) merged pages, expected at least \(expected)")
            #expect((read("pages_sharing") ?? 0) > 0)
            for guest in guests { _ = (try? guest.control())?.request("stop") }
        } }

        /// `vmm receive --merge-pages`: the RAM a migration stream fills is mergeable, so a
        /// guest that ran without merging has its identical pages merged on arrival.
        @Test func aMigratedGuestsPagesMergeWhereItArrives() throws { try withSamePageMerging {
            let work = try ScratchFolder()
            let source = try SnapshotTestVM([
                "run", "--kernel", try TestEnvironment.guest("idle"), "--memory", "64M", "--cmdline", "touch=\(Self.touchedMiB)",
            ])
            let console = try source.console()
            #expect(console.waitFor("idle: touched \(Self.touchedMiB) MiB", timeout: 120), "\(console.text)")
            let incoming = work.file("in.sock")
            let destination = try SnapshotTestVM(["receive", "--incoming", incoming, "--merge-pages"])
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: incoming) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            Thread.sleep(forTimeInterval: 0.2)  // from bind to listen
            #expect(try source.control().request("migrate \(incoming)")?["ok"] as? Bool == true)
            #expect(source.finish(timeout: 60).status == 0, "\(source.log)")
            #expect(destination.waitUntilStarted(), "\(destination.log)")
            let pid = try String(contentsOfFile: destination.pidPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let merged = mergedPages([pid], expected: Self.mergeableInOneGuest)
            #expect(merged >= Self.mergeableInOneGuest, "the destination has \(merged) merged pages, expected at least \(Self.mergeableInOneGuest)")
            #expect(destination.stop(try destination.control()).status == 143)
        } }

        /// `vmm restore --merge-pages`: the snapshot's copy-on-write mapping is marked
        /// mergeable (its pages merge once the guest writes them), and so is the fresh RAM of
        /// each reboot, where the guest writes its pattern again.
        @Test func aRestoredGuestsPagesMergeAndStayMergeableAcrossAReboot() throws { try withSamePageMerging {
            let work = try ScratchFolder()
            let snapshot = work.file("snap")
            let source = try SnapshotTestVM([
                "run", "--kernel", try TestEnvironment.guest("idle"), "--memory", "64M", "--cmdline", "touch=\(Self.touchedMiB)",
            ])
            let console = try source.console(), control = try source.control()
            #expect(console.waitFor("idle: touched \(Self.touchedMiB) MiB", timeout: 120), "\(console.text)")
            #expect(control.request("snapshot \(snapshot)", timeout: 60)?["ok"] as? Bool == true)
            #expect(source.stop(control).status == 143)

            let restored = try SnapshotTestVM(["restore", snapshot, "--merge-pages"])
            #expect(restored.waitUntilStarted(), "\(restored.log)")
            let pid = try String(contentsOfFile: restored.pidPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let restoredConsole = try restored.console(), restoredControl = try restored.control()
            // `status` answers once the machine is built (its RAM mapped).
            #expect(restoredControl.request("status")?["state"] as? String == "running")
            // Read to the end: a /proc file has no size, and smaps is longer than a page.
            let smaps = String(decoding: try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/smaps")).readDataToEndOfFile(), as: UTF8.self)
            let memoryMapping = smaps.components(separatedBy: "\n").drop { !$0.hasSuffix("\(snapshot)/memory") }
            let flags = memoryMapping.first { $0.hasPrefix("VmFlags:") } ?? "(no mapping of \(snapshot)/memory)"
            #expect(flags.split(separator: " ").contains("mg"), "the snapshot's memory mapping is not mergeable: \(flags)")

            #expect(restoredControl.request("reboot")?["ok"] as? Bool == true)
            #expect(restoredConsole.waitFor("idle: touched \(Self.touchedMiB) MiB", timeout: 120), "\(restoredConsole.text)")
            let merged = mergedPages([pid], expected: Self.mergeableInOneGuest)
            #expect(merged >= Self.mergeableInOneGuest, "the rebooted guest has \(merged) merged pages, expected at least \(Self.mergeableInOneGuest)")
            #expect(restored.stop(restoredControl).status == 143)
        } }
    }
}
