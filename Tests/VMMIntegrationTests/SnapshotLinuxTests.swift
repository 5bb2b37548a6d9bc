import Foundation
import Testing

extension LongGuestRuns {
    /// The minimal Linux guest snapshotted mid-boot, then live-migrated mid-boot to a `vmm
    /// receive`, which boots it on to /init; later the snapshot is restored: the kernel
    /// boots on to /init again with its clocks intact (no watchdog, lockup or time warnings,
    /// printk time neither going back nor leaping by the time the VM spent on disk). One
    /// cold boot for both.
    @Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
    struct SnapshotLinuxTests {
        /// Seconds between killing the source and restoring: a clock that leaps by the time on
        /// disk shows a gap this large where the restored kernel goes on.
        static let timeOnDisk: TimeInterval = 10
        /// What arrival times on the console may be late by (polling, UART, pipe).
        static let slack: TimeInterval = 3

        /// Kernel messages that must not appear after a restore.
        static let forbidden = [
            "unstable", "watchdog", "soft lockup", "hard lockup", "went backwards", "self-detected stall",
            "rcu: INFO", "blocked for more than", "Kernel panic", "BUG:", "WARNING:", "Oops",
        ]

        /// Console lines with the time each was first seen.
        private final class Timeline {
            var lines: [(arrived: Date, text: String)] = []

            func update(_ output: String) {
                let complete = CounterLog.lines(output)
                let now = Date()
                for line in complete.dropFirst(lines.count) { lines.append((now, line)) }
            }

            /// printk's "[   12.345678]" of a line.
            static func kernelTime(_ line: String) -> Double? {
                guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return nil }
                return Double(line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces))
            }

            var kernelTimes: [(arrived: Date, time: Double)] {
                lines.compactMap { line in Self.kernelTime(line.text).map { (line.arrived, $0) } }
            }

            var text: String { lines.map(\.text).joined(separator: "\n") }
        }

        /// Polls `vmm`'s output into `timeline` until `condition` holds, vmm ends or `timeout` passes.
        private func watch(_ vmm: VMMProcess, _ timeline: Timeline, timeout: TimeInterval, until condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                timeline.update(vmm.standardOutput)
                if condition() { return true }
                if !vmm.process.isRunning { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            timeline.update(vmm.standardOutput)
            return condition()
        }

        @Test func linuxSnapshottedAndMigratedMidBootBootsOnToInitAfterEach() throws {
            let directory = TestEnvironment.linuxGuestDirectory
            let kernel = "\(directory)/bzImage", initrd = "\(directory)/initramfs.cpio"
            if ProcessInfo.processInfo.environment["VMM_LINUX_GUEST"] == nil
                && !(FileManager.default.fileExists(atPath: kernel) && FileManager.default.fileExists(atPath: initrd)) {
                print("SnapshotLinuxTests: skipped: VMM_LINUX_GUEST is unset and \(directory) has no bzImage and initramfs.cpio (scripts/build-linux-guest.sh builds them)")
                return
            }
            for path in [kernel, initrd] where !FileManager.default.fileExists(atPath: path) {
                throw TestSetupError("\(path) is missing: run scripts/build-linux-guest.sh")
            }
            let work = try ScratchFolder()
            let snapshot = work.file("snap")
            let controlPath = work.file("control.sock")

            // Boot until the kernel keeps time on a real clocksource: mid-boot, long before /init.
            let source = VMMProcess([
                "run", "--kernel", kernel, "--initrd", initrd, "--memory", "256M",
                "--cmdline", LinuxGuestTests.commandLine, "--control-socket", controlPath,
            ])
            try source.start()
            defer { if source.process.isRunning { source.signal(SIGKILL); _ = source.finish(timeout: 10) } }
            let sourceTimeline = Timeline()
            let started = Date()
            let trigger = "clocksource: Switched to clocksource"
            let midBoot = watch(source, sourceTimeline, timeout: LinuxGuestTests.bootTimeout) { sourceTimeline.text.contains(trigger) }
            try #require(midBoot, "the kernel never switched clocksource: \(sourceTimeline.text.suffix(3000))")
            let control = try UnixSocketConnection(path: controlPath)
            sourceTimeline.update(source.standardOutput)
            // Lines seen before the request were printed before the snapshot's instant.
            let lastBeforeSnapshot = try #require(sourceTimeline.kernelTimes.last)
            let answer = try #require(control.request("snapshot \(snapshot)", timeout: 120))
            let answered = Date()
            try #require(answer["ok"] as? Bool == true, "\(answer)")
            print("SnapshotLinuxTests: snapshot \(Int(answered.timeIntervalSince(started))) s into the boot: \(answer)")

            // The source goes on booting; migrated now, it boots on to /init on the destination.
            let incoming = work.file("incoming.sock")
            let destination = VMMProcess(["receive", "--incoming", incoming, "--no-reboot"])
            try destination.start()
            defer { if destination.process.isRunning { destination.signal(SIGKILL); _ = destination.finish(timeout: 10) } }
            let socketDeadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: incoming) && Date() < socketDeadline { Thread.sleep(forTimeInterval: 0.01) }
            let migrate = control.request("migrate \(incoming)", timeout: 30)
            let migrated = source.finish(timeout: 120)
            sourceTimeline.update(migrated.standardOutput)
            try #require(!sourceTimeline.text.contains("Run /init"),
                         "the kernel reached /init before the snapshot and the migration: nothing left to show (this host boots too fast)")
            #expect(migrate?["ok"] as? Bool == true, "\(migrate ?? [:])")
            #expect(migrated.status == 0, "the source must exit once migrated: \(migrated.standardError.suffix(2000))")
            let destinationTimeline = Timeline()
            let destinationReachedInit = watch(destination, destinationTimeline, timeout: LinuxGuestTests.bootTimeout) {
                destinationTimeline.text.contains("Run /init as init process") || destinationTimeline.text.contains("Kernel panic")
            } && destinationTimeline.text.contains("Run /init as init process")
            destination.signal(SIGKILL)
            let received = destination.finish(timeout: 10)
            destinationTimeline.update(received.standardOutput)
            let destinationContext = "destination console:\n\(destinationTimeline.text.suffix(3000))\nvmm stderr:\n\(received.standardError.suffix(2000))\nsource stderr:\n\(migrated.standardError.suffix(1000))"
            #expect(destinationReachedInit, "the migrated kernel did not reach /init; \(destinationContext)")
            for text in Self.forbidden {
                #expect(!destinationTimeline.text.lowercased().contains(text.lowercased()), "'\(text)' after the migration; \(destinationContext)")
            }
            let migratedTimes = destinationTimeline.kernelTimes.map(\.time)
            #expect(zip(migratedTimes, migratedTimes.dropFirst()).allSatisfy { $0 <= $1 }, "printk time went backwards; \(destinationContext)")
            if let last = sourceTimeline.kernelTimes.last?.time, let first = migratedTimes.first {
                #expect(first >= last, "the migrated kernel's time \(first) is before the source's last line (\(last))")
            }
            print("SnapshotLinuxTests: migrated mid-boot, /init on the destination after \(Int(Date().timeIntervalSince(answered))) s; \(migrated.standardError.split(separator: "\n").last { $0.contains("completed") } ?? "")")

            // Time on disk (at least), then restore.
            Thread.sleep(forTimeInterval: max(0, Self.timeOnDisk - Date().timeIntervalSince(answered)))
            let restoreStarted = Date()
            let restored = VMMProcess(["restore", snapshot, "--verbose", "--no-reboot"])
            try restored.start()
            defer { if restored.process.isRunning { restored.signal(SIGKILL); _ = restored.finish(timeout: 10) } }
            let timeline = Timeline()
            let reachedInit = watch(restored, timeline, timeout: LinuxGuestTests.bootTimeout) {
                timeline.text.contains("Run /init as init process") || timeline.text.contains("Kernel panic")
            } && timeline.text.contains("Run /init as init process")
            restored.signal(SIGKILL)
            let result = restored.finish(timeout: 10)
            timeline.update(result.standardOutput)
            let log = timeline.text
            let context = "restored console:\n\(log.suffix(4000))\nvmm stderr:\n\(result.standardError.suffix(2000))"
            print("SnapshotLinuxTests: restored boot reached /init after \(Int(Date().timeIntervalSince(restoreStarted))) s")
            #expect(reachedInit, "the restored kernel did not reach /init; \(context)")
            #expect(result.standardError.contains("restored the VM from \(snapshot)"), "\(context)")
            #expect(!result.standardError.contains("rebooted"), "the restored kernel rebooted; \(context)")
            for text in Self.forbidden {
                #expect(!log.lowercased().contains(text.lowercased()), "'\(text)' after the restore; \(context)")
            }

            // printk time goes on from the snapshot: never backwards, and not by the time on disk.
            let times = timeline.kernelTimes
            let first = try #require(times.first, "no kernel line after the restore; \(context)")
            #expect(zip(times, times.dropFirst()).allSatisfy { $0.time <= $1.time }, "printk time went backwards; \(context)")
            #expect(first.time >= lastBeforeSnapshot.time,
                    "the restored kernel's time \(first.time) is before the last line before the snapshot (\(lastBeforeSnapshot.time))")
            let guestCouldHaveRun = answered.timeIntervalSince(lastBeforeSnapshot.arrived)
                + first.arrived.timeIntervalSince(restoreStarted) + Self.slack
            print("SnapshotLinuxTests: printk time \(lastBeforeSnapshot.time) s on the last line before the snapshot, \(first.time) s on the first after the restore; the guest ran at most \(guestCouldHaveRun) s in between")
            #expect(first.time - lastBeforeSnapshot.time <= guestCouldHaveRun,
                    "the kernel's clock leapt: \(lastBeforeSnapshot.time) s before the snapshot, \(first.time) s on the first line after the restore, but the guest ran at most \(guestCouldHaveRun) s in between (it spent \(Self.timeOnDisk) s on disk)")
        }
    }
}
