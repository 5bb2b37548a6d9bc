import Foundation
import Testing

/// Disks are captured at the same instant as memory: the `virtio` test kernel writes
/// numbered blocks one at a time (`test=blkseq`) and prints each acknowledgement; a
/// snapshot taken mid-stream restores a disk that holds every block acknowledged before
/// it and none written after it.
@Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
struct SnapshotDiskTests {
    static let blockCount = 300

    @Test func restoredDiskHoldsExactlyTheWritesAcknowledgedBeforeTheSnapshot() throws {
        let work = try ScratchFolder()
        let snapshot = work.file("snap")
        let image = work.file("disk.img")
        FileManager.default.createFile(atPath: image, contents: Data(count: 2 << 20))  // 512 blocks
        let source = try SnapshotTestVM([
            "run", "--kernel", try TestEnvironment.guest("virtio"), "--disk", image,
            "--cmdline", "test=blkseq count=\(Self.blockCount) delay=20",
        ])
        let control = try source.control()
        let console = try source.console()
        let lastAck = { NumberedBlocks.acknowledged(console.text).last ?? 0 }
        try #require(waitUntil(console, timeout: 60) { _ in lastAck() >= 30 }, "\(console.text.suffix(500))\(source.log)")

        console.drain()
        let before = lastAck()
        let answer = try #require(control.request("snapshot \(snapshot)", timeout: 60))
        console.drain()
        let atAnswer = lastAck()
        #expect(answer["ok"] as? Bool == true, "\(answer)")
        #expect((answer["disk_bytes"] as? Int ?? 0) >= before * NumberedBlocks.blockSize, "the written blocks are copied: \(answer)")
        #expect(try SnapshotFiles.description(snapshot)["disks"].map { "\($0)" }?.contains("disk0.img") == true)

        // The source goes on writing past the snapshot, then stops.
        #expect(waitUntil(console, timeout: 60) { _ in lastAck() >= atAnswer + 40 }, "the source stopped writing: \(console.text.suffix(300))")
        #expect(source.stop(control).status == 143)
        let sourceLayout = try NumberedBlocks.layout(of: image)
        let written = try #require(sourceLayout.count, "the source's image: \(sourceLayout)")
        #expect(written >= atAnswer + 40, "the source's image: \(sourceLayout)")

        // Restored, still paused: the image is the snapshot's.
        let restored = try SnapshotTestVM(["restore", snapshot, "--paused"])
        let restoredControl = try restored.control()
        let restoredConsole = try restored.console()
        try #require(restored.waitUntilStarted(), "\(restored.log)")
        let restoredLayout = try NumberedBlocks.layout(of: image)
        let saved = try #require(restoredLayout.count, "the restored image: \(restoredLayout)")
        let context = "acknowledged before the request: \(before), at the answer: \(atAnswer); the source's image: \(written) blocks; restored: \(restoredLayout)"
        print("SnapshotDiskTests: \(context)")
        #expect(saved >= before, "a write acknowledged before the snapshot is missing; \(context)")
        #expect(saved <= atAnswer + 1, "writes from after the snapshot are in it; \(context)")
        #expect(saved < written, "\(context)")

        // The guest goes on from its own count: the first acknowledgement it prints is the
        // block on disk whose completion it had not printed yet, or the next one.
        #expect(restoredControl.request("resume")?["state"] as? String == "running")
        #expect(waitUntil(restoredConsole, timeout: 60) { !NumberedBlocks.acknowledged($0).isEmpty },
                "\(restoredConsole.text)\(restored.log)")
        let acknowledged = NumberedBlocks.acknowledged(restoredConsole.text)
        let first = try #require(acknowledged.first)
        #expect(first == saved || first == saved + 1,
                "the guest's next acknowledgement is \(first) but the disk holds blocks 1...\(saved); \(context)")
        #expect(waitUntil(restoredConsole, timeout: 120) { $0.contains("virtio: done") || $0.contains("FAIL") },
                "\(restoredConsole.text.suffix(300))")
        let result = restored.finish(timeout: 30)
        #expect(result.status == 1, "\(restoredConsole.text.suffix(300))\(result.standardError)")
        #expect(!restoredConsole.text.contains("FAIL"), "\(restoredConsole.text.suffix(300))")
        let finalAcks = NumberedBlocks.acknowledged(restoredConsole.text)
        #expect(finalAcks == Array(first...Self.blockCount), "acknowledgements must go on one by one")
        #expect(try NumberedBlocks.layout(of: image) == .prefix(Self.blockCount))
    }
}
