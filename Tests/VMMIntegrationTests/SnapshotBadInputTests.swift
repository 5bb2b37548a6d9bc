import Foundation
import Testing

/// Damaged or impossible snapshots and snapshot requests: one clear error, nothing started
/// or lost. A refused `vmm restore` is status 2 with one line on stderr, leaves no socket
/// or pid file, says `bad-input` in its exit file and does not touch the disk image.
@Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
struct SnapshotBadInputTests {
    /// A snapshot of the counter guest with one writable 1 MiB disk; after it the disk
    /// image gets a marker that a refused restore must leave in place.
    private final class SourceSnapshot {
        let work: ScratchFolder
        let folder: String
        let disk: String
        static let marker = Data("written after the snapshot".utf8)

        init() throws {
            work = try ScratchFolder()
            folder = work.file("snap")
            disk = work.file("disk.img")
            FileManager.default.createFile(atPath: disk, contents: Data(count: 1 << 20))
            let vmm = try SnapshotTestVM([
                "run", "--kernel", try TestEnvironment.guest("counter"), "--disk", disk,
            ])
            let control = try vmm.control()
            let console = try vmm.console()
            try #require(CounterLog.waitForStep(console, 3), "\(console.text)\(vmm.log)")
            let answer = control.request("snapshot \(folder)", timeout: 60)
            try #require(answer?["ok"] as? Bool == true, "\(answer.map { "\($0)" } ?? "no answer")")
            #expect(vmm.stop(control).status == 143)
            let handle = try #require(FileHandle(forWritingAtPath: disk))
            handle.write(Self.marker)
            try handle.close()
        }

        /// A copy of the snapshot to damage.
        func copy(_ name: String) throws -> String {
            let path = work.file(name)
            try SnapshotFiles.copy(folder, to: path)
            return path
        }

        var diskStillHoldsTheMarker: Bool {
            (FileManager.default.contents(atPath: disk)?.prefix(Self.marker.count)).map { $0 == Self.marker } ?? false
        }
    }

    /// Runs `vmm restore` with every supervisor path and expects it refused.
    private func expectRefused(_ arguments: [String], mentioning texts: [String], _ source: SourceSnapshot,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let folder = source.work.file("run-" + UUID().uuidString.prefix(6))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let result = try HostCommand.run(
            [TestEnvironment.vmmBinary, "restore"] + arguments + SnapshotTestVM.supervisorArguments(folder), timeout: 30)
        let context = "restore \(arguments.joined(separator: " ")): status \(result.status), stderr: \(result.standardError)"
        #expect(result.status == 2, "\(context)", sourceLocation: sourceLocation)
        #expect(result.standardError.split(separator: "\n").count == 1, "one line expected; \(context)", sourceLocation: sourceLocation)
        for text in texts {
            #expect(result.standardError.contains(text), "'\(text)' expected; \(context)", sourceLocation: sourceLocation)
        }
        #expect(result.standardOutput.isEmpty, "\(context)", sourceLocation: sourceLocation)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(left == ["exit.json"], "a refused restore must leave only its exit file, found \(left); \(context)", sourceLocation: sourceLocation)
        let report = FileManager.default.contents(atPath: folder + "/exit.json")
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        #expect(report?["reason"] as? String == "bad-input", "\(report.map { "\($0)" } ?? "no exit file"); \(context)", sourceLocation: sourceLocation)
        #expect(report?["status"] as? Int == 2, sourceLocation: sourceLocation)
        #expect(source.diskStillHoldsTheMarker, "a refused restore must not touch the disk; \(context)", sourceLocation: sourceLocation)
    }

    @Test func damagedOrIncompleteSnapshotsAreRefused() throws {
        let source = try SourceSnapshot()
        #expect(FileManager.default.fileExists(atPath: source.folder + "/disk0.img"), "the writable disk must be copied")

        // Memory file cut short.
        let truncated = try source.copy("truncated-memory")
        #expect(truncate(truncated + "/memory", off_t((256 << 20) - 4096)) == 0)
        try expectRefused([truncated], mentioning: ["memory", "truncated"], source)

        // One bit of the state body flipped: the checksum catches it.
        let flipped = try source.copy("flipped-state")
        var state = try Data(contentsOf: URL(fileURLWithPath: flipped + "/state"))
        state[20 + (state.count - 24) / 2] ^= 0x10
        try state.write(to: URL(fileURLWithPath: flipped + "/state"))
        try expectRefused([flipped], mentioning: ["checksum"], source)

        // A format version this vmm does not know (the UInt32 after the 8-byte magic).
        let newer = try source.copy("version-3")
        state = try Data(contentsOf: URL(fileURLWithPath: newer + "/state"))
        #expect(Array(state.prefix(8)) == Array("VMMSNAP\0".utf8))
        #expect(Array(state[8..<12]) == [2, 0, 0, 0], "format version 2, little-endian")
        state.replaceSubrange(8..<12, with: [3, 0, 0, 0])
        try state.write(to: URL(fileURLWithPath: newer + "/state"))
        try expectRefused([newer], mentioning: ["version 3"], source)

        // The state file cut short.
        let shortState = try source.copy("short-state")
        state = try Data(contentsOf: URL(fileURLWithPath: shortState + "/state"))
        try state.prefix(state.count - 100).write(to: URL(fileURLWithPath: shortState + "/state"))
        try expectRefused([shortState], mentioning: ["truncated"], source)

        // No state file at all.
        let stateless = try source.copy("no-state")
        try FileManager.default.removeItem(atPath: stateless + "/state")
        try expectRefused([stateless], mentioning: ["state"], source)

        // No memory file.
        let memoryless = try source.copy("no-memory")
        try FileManager.default.removeItem(atPath: memoryless + "/memory")
        try expectRefused([memoryless], mentioning: ["memory", "missing"], source)

        // The disk copy is gone: the disk cannot be restored (and is not touched).
        let diskless = try source.copy("no-disk-copy")
        try FileManager.default.removeItem(atPath: diskless + "/disk0.img")
        try expectRefused([diskless], mentioning: ["disk0.img", "missing"], source)
    }

    @Test func foldersThatAreNoSnapshotAreRefused() throws {
        let source = try SourceSnapshot()
        let unrelated = source.work.file("unrelated")
        try FileManager.default.createDirectory(atPath: unrelated, withIntermediateDirectories: false)
        try "hello".write(toFile: unrelated + "/notes.txt", atomically: true, encoding: .utf8)
        try expectRefused([unrelated], mentioning: ["not a complete snapshot"], source)
        try expectRefused([source.work.file("nonexistent")], mentioning: ["not a snapshot folder"], source)
        try expectRefused([unrelated + "/notes.txt"], mentioning: ["not a snapshot folder"], source)

        let garbage = try source.copy("garbage-state")
        try Data("this is not a state file at all, just some text".utf8).write(to: URL(fileURLWithPath: garbage + "/state"))
        try expectRefused([garbage], mentioning: ["VMMSNAP"], source)
    }

    /// --disk and --net replace the recorded disks and NICs one for one, or not at all.
    @Test func diskAndNetworkCountsMustMatchTheSnapshot() throws {
        let source = try SourceSnapshot()
        try expectRefused([source.folder, "--disk", source.work.file("a.img"), "--disk", source.work.file("b.img")],
                          mentioning: ["1 disks but 2 --disk"], source)
        try expectRefused([source.folder, "--net", "tap=vmmsnap0"], mentioning: ["0 NICs but 1 --net"], source)
        #expect(!FileManager.default.fileExists(atPath: source.work.file("a.img")), "a refused restore must not create disks")
        // The snapshot itself still restores.
        let restored = try SnapshotTestVM(["restore", source.folder])
        let console = try restored.console()
        #expect(CounterLog.waitForStep(console, 5), "\(console.text)\(restored.log)")
        #expect(restored.stop(try restored.control()).status == 143)
    }

    /// A restore refused for a reason found late (its control socket path is taken by a
    /// regular file) must not have put the snapshot's disk back over the image either.
    @Test func aRestoreRefusedForItsSocketLeavesTheDiskAlone() throws {
        let source = try SourceSnapshot()
        let taken = source.work.file("taken")
        try "not a socket".write(toFile: taken, atomically: true, encoding: .utf8)
        let result = try HostCommand.run(
            [TestEnvironment.vmmBinary, "restore", source.folder, "--control-socket", taken], timeout: 30)
        #expect(result.status == 2, "\(result.standardError)")
        #expect(result.standardError.contains("not a socket"), "\(result.standardError)")
        #expect(try String(contentsOfFile: taken, encoding: .utf8) == "not a socket")
        #expect(source.diskStillHoldsTheMarker, "vmm refused to start but overwrote the disk with the snapshot's copy")
    }

    /// Bad snapshot requests are refused with `bad_request`; the VM runs on.
    @Test func badSnapshotRequestsAreRefusedAndTheVMRunsOn() throws {
        let work = try ScratchFolder()
        let existing = work.file("existing")
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        try "keep".write(toFile: existing + "/keep.txt", atomically: true, encoding: .utf8)
        let vmm = try SnapshotTestVM(["run", "--kernel", try TestEnvironment.guest("counter")])
        let control = try vmm.control()
        let console = try vmm.console()
        try #require(CounterLog.waitForStep(console, 2))

        let cases: [(String, String)] = [
            ("snapshot \(existing)", "already exists"),
            ("snapshot relative/snap", "not absolute"),
            ("snapshot \(work.file("missing/parent/snap"))", "parent does not exist"),
            ("snapshot \(work.file("x")) turbo", "unknown snapshot option"),
            ("snapshot", "usage"),
        ]
        for (request, text) in cases {
            let answer = control.request(request, timeout: 30)
            #expect(errorCode(answer) == "bad_request", "\(request): \(answer.map { "\($0)" } ?? "no answer")")
            #expect(errorMessage(answer).contains(text), "\(request): \(errorMessage(answer))")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing) == ["keep.txt"], "an existing folder must be left alone")
        #expect(!FileManager.default.fileExists(atPath: work.file("x")))
        #expect(!FileManager.default.fileExists(atPath: "relative"))
        console.drain()
        let step = CounterLog.lastStep(console.text)
        #expect(control.request("status")?["state"] as? String == "running")
        #expect(CounterLog.waitForStep(console, step + 5), "the VM must run on after refused snapshots")
        #expect(vmm.stop(control).status == 143)
    }

    /// The file system fills up while the snapshot is written (a 128 KiB tmpfs; the guest's
    /// memory alone is larger): the answer says `failed` and why, the partial snapshot is
    /// removed, the VM runs on, and a snapshot elsewhere then works.
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func aFullDiskFailsTheSnapshotRemovesItAndTheVMRunsOn() throws {
        let work = try ScratchFolder()
        let small = work.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: false)
        try HostCommand.check(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", small])
        defer { _ = try? HostCommand.run(["umount", small], timeout: 20) }
        let disk = work.file("disk.img")
        // 1 MiB of data: the disk copy alone does not fit either.
        FileManager.default.createFile(atPath: disk, contents: Data(repeating: 0x5a, count: 1 << 20))

        let vmm = try SnapshotTestVM(["run", "--kernel", try TestEnvironment.guest("counter"), "--disk", disk])
        let control = try vmm.control()
        let console = try vmm.console()
        try #require(CounterLog.waitForStep(console, 2))

        for request in ["snapshot \(small)/snap", "snapshot \(small)/memory-only-snap memory-only"] {
            let answer = control.request(request, timeout: 60)
            #expect(errorCode(answer) == "failed", "\(request): \(answer.map { "\($0)" } ?? "no answer")")
            #expect(errorMessage(answer).lowercased().contains("no space"), "\(request): \(errorMessage(answer))")
            let left = try FileManager.default.contentsOfDirectory(atPath: small)
            #expect(left.isEmpty, "\(request): the partial snapshot must be removed, found \(left)")
            #expect(control.request("status")?["state"] as? String == "running", "\(request): the VM must be running again")
            console.drain()
            let step = CounterLog.lastStep(console.text)
            #expect(CounterLog.waitForStep(console, step + 3), "\(request): the VM must run on")
        }
        #expect(!console.text.contains("memory damaged"))

        let good = work.file("good")
        let answer = control.request("snapshot \(good)", timeout: 60)
        #expect(answer?["ok"] as? Bool == true, "\(answer.map { "\($0)" } ?? "no answer")")
        #expect(answer?["disk_bytes"] as? Int == 1 << 20, "\(answer.map { "\($0)" } ?? "no answer")")
        #expect(vmm.stop(control).status == 143)
    }
}
