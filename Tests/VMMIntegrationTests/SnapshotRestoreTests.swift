import Foundation
import Testing

/// `snapshot DIR` on the control socket and `vmm restore DIR` with the `counter` test
/// kernel: it keeps a step count and a checksum of memory it keeps changing, with LAPIC and
/// PIT interrupts running. A restored guest must go on from the saved step, find its memory
/// intact and its timers ticking.
@Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
struct SnapshotRestoreTests {
    /// The counter ends with debug-exit 0 (status 1) here; the source is stopped long before.
    static let finalStep = 150

    private func counterArguments() throws -> [String] {
        ["run", "--kernel", try TestEnvironment.guest("counter"), "--cmdline", "steps=\(Self.finalStep)"]
    }

    @Test func runningGuestGoesOnFromTheSnapshotAfterRestore() throws {
        let work = try ScratchFolder()
        let snapshot = work.file("snap")
        let source = try SnapshotTestVM(try counterArguments())
        let control = try source.control()
        let console = try source.console()
        try #require(CounterLog.waitForStep(console, 5), "the counter did not reach step 5: \(console.text.suffix(500))")

        console.drain()
        let before = CounterLog.lastStep(console.text)
        let answer = try #require(control.request("snapshot \(snapshot)", timeout: 60))
        console.drain()
        let atAnswer = CounterLog.lastStep(console.text)
        #expect(answer["ok"] as? Bool == true, "\(answer)")
        #expect(answer["path"] as? String == snapshot)
        #expect(answer["memory_only"] as? Bool == false)
        let bytes = answer["bytes"] as? Int ?? 0, memoryBytes = answer["memory_bytes"] as? Int ?? 0
        #expect(memoryBytes > 0 && memoryBytes < 64 << 20, "the guest touched well under 64 MiB: \(answer)")
        #expect(bytes > memoryBytes, "bytes counts the state file too: \(answer)")
        #expect(answer["disk_bytes"] as? Int == 0, "no disks: \(answer)")
        let pausedMilliseconds = answer["paused_ms"] as? Int ?? -1
        #expect(pausedMilliseconds >= 1 && pausedMilliseconds < 5000, "a running guest is paused for the snapshot: \(answer)")

        // On disk: the state, a sparse memory file of the guest's RAM size, the description.
        let files = try FileManager.default.contentsOfDirectory(atPath: snapshot).sorted()
        #expect(files == ["memory", "snapshot.json", "state"])
        let memorySize = try FileManager.default.attributesOfItem(atPath: snapshot + "/memory")[.size] as? Int
        #expect(memorySize == 256 << 20)
        #expect(SnapshotFiles.allocatedBytes(snapshot + "/memory") < 64 << 20, "the memory file must be sparse")
        let described = try SnapshotFiles.description(snapshot)
        #expect(described["format"] as? Int == 2)
        #expect(described["bytes"] as? Int == bytes, "\(described)")
        #expect(described["memorySize"] as? Int == 256 << 20)

        // The source runs on.
        #expect(try control.request("status")?["state"] as? String == "running")
        #expect(CounterLog.waitForStep(console, atAnswer + 8), "the source stopped counting after the snapshot: \(console.text.suffix(500))")
        let sourceResult = source.stop(control)
        #expect(sourceResult.status == 143)
        let sourceSteps = CounterLog.steps(console.text)
        #expect(CounterLog.lastStep(console.text) < Self.finalStep, "the source must not have finished on its own")

        // Restored: the console goes on from the snapshot's step.
        let restored = try SnapshotTestVM(["restore", snapshot])
        let restoredConsole = try restored.console()
        let restoredControl = try restored.control()
        #expect(restored.waitUntilStarted(), "\(restored.log)")
        #expect(try restoredControl.request("status")?["state"] as? String == "running")
        let firstRestoredStep = try #require(
            waitUntil(restoredConsole, timeout: 60) { !CounterLog.steps($0).isEmpty } ? CounterLog.steps(restoredConsole.text).first : nil,
            "the restored guest printed no step: \(restoredConsole.text.suffix(500))\n\(restored.log)")
        let first = firstRestoredStep.step
        let context = "source steps \(before) before the request, \(atAnswer) at the answer; restored console begins:\n\(restoredConsole.text.prefix(300))"
        #expect(first > before && first <= atAnswer + 2, "the restored guest must go on from the saved step; \(context)")
        if let same = sourceSteps.first(where: { $0.step == first }) {
            #expect(same.sum == firstRestoredStep.sum, "step \(first): the source printed sum \(same.sum), the restored guest \(firstRestoredStep.sum)")
        }
        if let earlier = sourceSteps.first(where: { $0.step == first - 2 }) {
            #expect(firstRestoredStep.pit >= earlier.pit, "the PIT count went backwards: \(earlier) then \(firstRestoredStep)")
        }
        // Output before the first whole line is the rest of the line the guest was printing.
        let lead = String(restoredConsole.text.prefix { $0 != "\n" })
        if !lead.hasPrefix("counter: step ") {
            let tail = "sum " + String(CounterLog.expectedSums(through: first - 1)[first - 1], radix: 16)
            let previous = CounterLog.lines(console.text).first { $0.hasPrefix("counter: step \(first - 1) ") } ?? ""
            #expect(previous.hasSuffix(lead) || lead.hasSuffix(" " + tail) || tail.hasSuffix(lead),
                    "the restored console begins with '\(lead)', not the rest of step \(first - 1)'s line ('\(previous)')")
        }

        // Timers tick (LAPIC: steps; PIT: its count) until the guest ends at the final step.
        #expect(CounterLog.waitForStep(restoredConsole, first + 10, timeout: 90), "the restored guest stopped counting: \(restoredConsole.text.suffix(500))")
        // Read on while it runs: vmm drops a console client that does not read.
        _ = waitUntil(restoredConsole, timeout: 180) { CounterLog.lastStep($0) >= Self.finalStep || $0.contains("memory damaged") }
        let result = restored.finish(timeout: 30)
        restoredConsole.drain()
        let steps = CounterLog.steps(restoredConsole.text)
        #expect(!restoredConsole.text.contains("memory damaged"), "\(restoredConsole.text.suffix(500))")
        #expect(steps.map(\.step) == Array(first...Self.finalStep), "steps must go on one by one to \(Self.finalStep)")
        #expect(CounterLog.wrongSums(steps + sourceSteps).isEmpty, "sums that are not counter.c's: \(CounterLog.wrongSums(steps + sourceSteps).prefix(5))")
        #expect((steps.last?.pit ?? 0) > firstRestoredStep.pit + 10, "the PIT must keep ticking: \(firstRestoredStep) … \(steps.last.map { "\($0)" } ?? "")")
        #expect(result.status == 1, "status \(result.status): \(result.standardError)")
        #expect(restored.exitReport?["reason"] as? String == "debug-exit")
        #expect(restored.log.contains("restored the VM from \(snapshot)"), "\(restored.log)")
    }

    /// The guest keeps writing 16 MiB (counter's churn=4096) while the snapshot copies its
    /// memory: the restored memory must be exactly the snapshot instant's, which the guest
    /// checks at every step (pages, checksum area) and the host checks in the printed sums.
    @Test func memoryTheGuestKeepsWritingDuringTheSnapshotComesBackExactly() throws {
        let work = try ScratchFolder()
        let snapshot = work.file("snap")
        let source = try SnapshotTestVM([
            "run", "--kernel", try TestEnvironment.guest("counter"), "--cmdline", "steps=1000000 churn=4096",
        ])
        let control = try source.control()
        let console = try source.console()
        try #require(CounterLog.waitForStep(console, 3), "\(console.text.suffix(500))\(source.log)")
        let answer = try #require(control.request("snapshot \(snapshot)", timeout: 60))
        #expect(answer["ok"] as? Bool == true, "\(answer)")
        #expect((answer["memory_bytes"] as? Int ?? 0) >= 16 << 20, "the churned pages are in the snapshot: \(answer)")
        #expect(CounterLog.waitForStep(console, CounterLog.lastStep(console.text) + 3), "the source stopped: \(console.text.suffix(300))")
        #expect(source.stop(control).status == 143)
        #expect(!console.text.contains("memory damaged"), "\(console.text.suffix(300))")

        let restored = try SnapshotTestVM(["restore", snapshot])
        let restoredConsole = try restored.console()
        _ = waitUntil(restoredConsole, timeout: 60) { CounterLog.steps($0).count >= 10 || $0.contains("memory damaged") }
        let damage = CounterLog.lines(restoredConsole.text + "\n").first { $0.contains("memory damaged") }
        #expect(damage == nil, "the restored guest found its memory changed: \(damage ?? ""); snapshot answer \(answer)")
        let steps = CounterLog.steps(restoredConsole.text)
        let ended = restored.isRunning ? nil : restored.finish(timeout: 10)
        #expect(ended == nil, "the restored vmm ended with status \(ended?.status ?? 0): \(restoredConsole.text.suffix(300))\(ended?.standardError.suffix(1500) ?? "")")
        #expect(steps.count >= 10, "\(restoredConsole.text.suffix(300))\(restored.log)")
        #expect(CounterLog.wrongSums(steps).isEmpty, "sums that are not counter.c's: \(CounterLog.wrongSums(steps).prefix(3))")
        if ended == nil && damage == nil { #expect(restored.stop(try restored.control()).status == 143) }
    }

    /// A paused VM stays paused through a snapshot (paused_ms 0); `restore --paused` keeps it
    /// paused until `resume`, and then the next step is exactly the one after the snapshot's.
    /// A restore without --new-identity keeps the generation ID.
    @Test func pausedGuestStaysPausedAndRestoresPausedUntilResumed() throws {
        let work = try ScratchFolder()
        let snapshot = work.file("snap")
        let source = try SnapshotTestVM(try counterArguments())
        let control = try source.control()
        let console = try source.console()
        try #require(CounterLog.waitForStep(console, 3))

        #expect(control.request("pause")?["state"] as? String == "paused")
        console.drain(quiet: 0.5)
        let saved = CounterLog.lastStep(console.text)
        let partial = CounterLog.partialLine(console.text)
        let answer = try #require(control.request("snapshot \(snapshot)", timeout: 60))
        #expect(answer["ok"] as? Bool == true, "\(answer)")
        #expect(answer["paused_ms"] as? Int == 0, "the guest was paused already: \(answer)")
        #expect(control.request("status")?["state"] as? String == "paused", "a paused VM must stay paused")
        let quietText = console.text
        console.drain(quiet: 0.5, limit: 1)
        #expect(console.text == quietText, "the paused guest printed after the snapshot: \(console.text.dropFirst(quietText.count))")
        #expect(control.request("resume")?["state"] as? String == "running")
        #expect(CounterLog.waitForStep(console, saved + 3), "the source did not go on after resume")
        #expect(source.stop(control).status == 143)
        let sourceDescription = try SnapshotFiles.description(snapshot)

        let restored = try SnapshotTestVM(["restore", snapshot, "--paused"])
        let restoredControl = try restored.control()
        let restoredConsole = try restored.console()
        #expect(restored.waitUntilStarted(), "\(restored.log)")
        #expect(restoredControl.request("status")?["state"] as? String == "paused")
        restoredConsole.drain(quiet: 1, limit: 2)
        #expect(restoredConsole.text.isEmpty, "a guest restored --paused ran: \(restoredConsole.text)")

        // The same machine, not a clone: a snapshot of it keeps the generation ID.
        let again = work.file("again")
        #expect(restoredControl.request("snapshot \(again)", timeout: 60)?["ok"] as? Bool == true)
        let againDescription = try SnapshotFiles.description(again)
        #expect(againDescription["generationID"] as? String == sourceDescription["generationID"] as? String)
        #expect((sourceDescription["generationID"] as? String)?.count == 36, "\(sourceDescription)")

        #expect(restoredControl.request("resume")?["state"] as? String == "running")
        #expect(CounterLog.waitForStep(restoredConsole, saved + 3), "the restored guest did not run after resume: \(restoredConsole.text)")
        // The line the source was printing when it was paused, finished by the restored guest.
        let continued = partial + restoredConsole.text
        let firstLine = CounterLog.lines(continued).first ?? ""
        let first = try #require(CounterLog.parse(firstLine), "'\(partial)' + restored output does not begin with a step line: \(continued.prefix(200))")
        #expect(first.step == saved + 1, "the snapshot was taken after step \(saved); the restored guest printed \(firstLine)")
        let steps = CounterLog.steps(continued)
        #expect(CounterLog.wrongSums(steps).isEmpty, "\(CounterLog.wrongSums(steps))")
        #expect(!restoredConsole.text.contains("memory damaged"))
        #expect(restored.stop(restoredControl).status == 143)
        #expect(restored.exitReport?["reason"] as? String == "stopped")
    }
}
