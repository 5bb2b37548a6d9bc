import Foundation
import Testing

/// The `balloon` test kernel's virtio-balloon driver against vmm's device: inflation and
/// free page reporting shrink vmm's resident guest RAM, deflated and reported pages read
/// as zeros, statistics arrive, and a hostile driver cannot free what it does not own.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct BalloonGuestTests {
    private static let pages = 8192
    private static let bytes = pages * 4096

    @Test func inflatingAndReportingGiveMemoryBackToTheHost() throws {
        let vmm = try SupervisedVMM(kernel: "balloon", arguments: [
            "--memory", "256M", "--balloon", "0,stats=1", "--cmdline", "pages=\(Self.pages)",
        ])
        let control = try vmm.control()
        let console = try vmm.console()
        #expect(console.waitFor("balloon: features stats deflate-on-oom reporting"), "\(console.text)")
        #expect(console.waitFor("balloon: touched \(Self.pages)"))
        let pid = vmm.process.process.processIdentifier
        let touched = try #require(GuestRAM.resident(pid: pid))
        #expect(touched >= Self.bytes, "the guest touched \(Self.bytes) bytes; resident \(touched)")

        let answer = control.request("balloon 32M")
        #expect(answer?["ok"] as? Bool == true, "\(answer ?? [:])")
        #expect(console.waitFor("balloon: actual \(Self.pages)"), "\(console.text)")
        let inflated = try #require(GuestRAM.resident(pid: pid))
        #expect(touched - inflated >= Self.bytes * 9 / 10, "resident \(touched) → \(inflated) after inflating 32 MiB")
        let balloon = try #require(waitForBalloon(control) { ($0["actual"] as? Int) == Self.bytes })
        #expect(balloon["target"] as? Int == Self.bytes)
        #expect(balloon["inflated"] as? Int == Self.bytes)
        #expect(balloon["refused_pages"] as? Int == 0)

        // The guest reports every second (stats=1): its figures, refreshed.
        let stats = try #require(waitForBalloon(control) {
            (($0["stats"] as? [String: Any])?["minor_faults"] as? Int ?? 0) >= 3
        }?["stats"] as? [String: Any], "no refreshed statistics")
        #expect(stats["total_memory"] as? Int == 256 << 20)
        #expect(stats["free_memory"] as? Int == 12345 * 4096)
        #expect(stats.count == 4, "known tags only, plus age_ms: \(stats)")

        #expect(control.request("balloon 0")?["ok"] as? Bool == true)
        #expect(console.waitFor("balloon: actual 0"))
        #expect(console.waitFor("balloon: deflated pages read zero"), "\(console.text)")
        #expect(waitForBalloon(control) { ($0["deflated_pages"] as? Int) == Self.pages } != nil)

        #expect(console.send("r"))
        #expect(console.waitFor("balloon: touched report region"))
        let beforeReport = try #require(GuestRAM.resident(pid: pid))
        #expect(console.send("r"))
        #expect(console.waitFor("balloon: reported \(Self.pages) pages"), "\(console.text)")
        let reported = try #require(GuestRAM.resident(pid: pid))
        #expect(beforeReport - reported >= Self.bytes * 9 / 10, "resident \(beforeReport) → \(reported) after reporting 32 MiB")
        #expect(console.send("r"))
        #expect(console.waitFor("balloon: reported pages read zero"))
        #expect(waitForBalloon(control) { ($0["reported"] as? Int) == Self.bytes } != nil)

        #expect(errorCode(control.request("balloon 257M")) == "bad_request", "more than the RAM")
        #expect(errorCode(control.request("balloon lots")) == "bad_request")
        #expect(errorCode(control.request("balloon")) == "bad_request")
        #expect(control.request("stop")?["ok"] as? Bool == true)
        #expect(vmm.process.finish(timeout: 10).status == 143)
    }

    /// A snapshot leaves the ballooned pages out; the restored VM has the same target and
    /// actual size, and its driver goes on: statistics keep coming on the buffer the
    /// device held, and a deflate gives back pages that read as zeros. A VM restored from
    /// a snapshot that had the pages (mapped copy-on-write from it) gives them back too,
    /// and its next snapshot leaves them out.
    @Test func snapshotsLeaveBalloonedPagesOutAndCarryTheBalloon() throws {
        let work = try ScratchFolder()
        let touched = work.file("touched"), inflated = work.file("inflated"), again = work.file("again")
        let source = try SnapshotTestVM(balloonRun)
        let control = try source.control()
        let console = try source.console()
        #expect(console.waitFor("balloon: touched \(Self.pages)"), "\(console.text)")
        #expect(memoryBytes(control.request("snapshot \(touched)", timeout: 60)) >= Self.bytes, "the touched pages are saved")
        #expect(control.request("balloon 32M")?["ok"] as? Bool == true)
        #expect(console.waitFor("balloon: actual \(Self.pages)"))
        let before = try #require(waitForBalloon(control) {
            ($0["actual"] as? Int) == Self.bytes && (($0["stats"] as? [String: Any])?["minor_faults"] as? Int ?? 0) >= 2
        })
        let reportsBefore = (before["stats"] as? [String: Any])?["minor_faults"] as? Int ?? 0
        #expect(memoryBytes(control.request("snapshot \(inflated)", timeout: 60)) < 8 << 20, "the 32 MiB in the balloon must not be copied")
        #expect(source.stop(control).status == 143)

        let restored = try SnapshotTestVM(["restore", inflated])
        #expect(restored.waitUntilStarted(), "\(restored.log)")
        let restoredControl = try restored.control()
        let restoredConsole = try restored.console()
        let balloon = try #require(restoredControl.request("status")?["balloon"] as? [String: Any])
        #expect(balloon["target"] as? Int == Self.bytes)
        #expect(balloon["actual"] as? Int == Self.bytes)
        #expect(balloon["inflated"] as? Int == Self.bytes)
        #expect(waitForBalloon(restoredControl) {
            (($0["stats"] as? [String: Any])?["minor_faults"] as? Int ?? 0) > reportsBefore + 1
        } != nil, "the restored driver must keep answering statistics requests")
        #expect(restoredControl.request("balloon 0")?["ok"] as? Bool == true)
        #expect(restoredConsole.waitFor("balloon: actual 0"), "\(restoredConsole.text)")
        #expect(restoredConsole.waitFor("balloon: deflated pages read zero"))
        #expect(restored.stop(restoredControl).status == 143)

        // Restored from the snapshot that holds the touched pages: inflating drops them.
        let fromTouched = try SnapshotTestVM(["restore", touched])
        #expect(fromTouched.waitUntilStarted(), "\(fromTouched.log)")
        let touchedControl = try fromTouched.control()
        let touchedConsole = try fromTouched.console()
        #expect(touchedControl.request("balloon 32M")?["ok"] as? Bool == true)
        #expect(touchedConsole.waitFor("balloon: actual \(Self.pages)"), "\(touchedConsole.text)")
        #expect(waitForBalloon(touchedControl) { ($0["inflated"] as? Int) == Self.bytes } != nil)
        #expect(memoryBytes(touchedControl.request("snapshot \(again)", timeout: 60)) < 8 << 20,
                "pages given back after a restore must not be copied either")
        #expect(fromTouched.stop(touchedControl).status == 143)
    }

    private var balloonRun: [String] {
        get throws {
            ["run", "--kernel", try TestEnvironment.guest("balloon"), "--memory", "256M", "--balloon", "0,stats=1",
             "--cmdline", "pages=\(Self.pages)"]
        }
    }

    private func memoryBytes(_ answer: [String: Any]?) -> Int {
        #expect(answer?["ok"] as? Bool == true, "\(answer ?? [:])")
        return answer?["memory_bytes"] as? Int ?? -1
    }

    @Test func aVMWithoutBalloonRefusesTheRequest() throws {
        let vmm = try SupervisedVMM(kernel: "echo")
        let control = try vmm.control()
        #expect(try vmm.console().waitFor("echo: ready"))
        #expect(control.request("status")?["balloon"] == nil)
        let answer = control.request("balloon 16M")
        #expect(errorCode(answer) == "conflict")
        #expect(errorMessage(answer).contains("--balloon"))
        #expect(control.request("stop")?["ok"] as? Bool == true)
        _ = vmm.process.finish(timeout: 10)
    }

    /// Page numbers in the MMIO hole, past the end of RAM and huge arrays are ignored;
    /// buffers that leave guest RAM or wrap break the queue (NEEDS_RESET), and the driver
    /// starts over. Memory nobody named keeps its contents; vmm stays up throughout.
    @Test func hostileDriverFreesNothingItDoesNotOwn() throws {
        let result = try VMMProcess.run([
            "run", "--kernel", try TestEnvironment.guest("balloon"), "--memory", "3584M", "--balloon", "0",
            "--cmdline", "test=hostile",
        ], timeout: 120)
        let output = result.standardOutput + result.standardError
        for line in [
            "balloon: out-of-range page numbers ignored", "balloon: huge array done",
            "balloon: refused array running past RAM", "balloon: refused 4 GiB array", "balloon: refused wrapping array",
            "balloon: refused range running past RAM", "balloon: refused wrapping range",
            "balloon: refused range in the MMIO hole", "balloon: canaries intact", "balloon: hostile done",
        ] {
            #expect(result.lines.contains(line), "missing '\(line)':\n\(output)")
        }
        #expect(result.status == 1, "the guest's own exit (debug-exit 0): \(output)")
        #expect(result.standardError.contains("virtio balloon device needs reset"))
    }

    @Test func badBalloonOptionsAreRefused() throws {
        for (value, words) in [("1G", ["more than", "256M"]), ("big", ["not a size"]), ("0,stats=-1", ["stats=-1"]),
                               ("0,frob=1", ["unknown setting"]), ("0,deflate-on-oom=off,deflate-on-oom=on", ["twice"])] {
            let result = try VMMProcess.run([
                "run", "--kernel", try TestEnvironment.guest("balloon"), "--balloon", value,
            ])
            #expect(result.status == 2, "--balloon \(value)")
            for word in words {
                #expect(result.standardError.contains(word), "--balloon \(value): \(result.standardError)")
            }
        }
    }

    /// Polls `status` until the balloon object satisfies `condition` (10 s at most).
    private func waitForBalloon(
        _ control: UnixSocketConnection, _ condition: ([String: Any]) -> Bool
    ) -> [String: Any]? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let balloon = control.request("status")?["balloon"] as? [String: Any], condition(balloon) { return balloon }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }
}

/// vmm's resident guest RAM: the `Rss` of its memfd mapping in /proc/PID/smaps.
enum GuestRAM {
    static func resident(pid: Int32) -> Int? {
        // procfs files have no size: read to the end rather than by the length stat gives.
        guard let file = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps") else { return nil }
        defer { try? file.close() }
        let smaps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        var inGuestRAM = false
        for line in smaps.split(separator: "\n") {
            // A mapping's header starts "START-END perms ..."; its fields "Name:  value kB".
            if let first = line.split(separator: " ").first, first.contains("-"), !first.hasSuffix(":") {
                inGuestRAM = line.contains("vmm-guest-ram")
            } else if inGuestRAM, line.hasPrefix("Rss:") {
                let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
                return kilobytes.map { $0 * 1024 }
            }
        }
        return nil
    }
}
