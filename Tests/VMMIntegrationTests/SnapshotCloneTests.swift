import Foundation
import Testing

/// Clones: `vmm restore DIR --new-identity` with a disk copy and a tap of their own. Two
/// clones of one snapshot run at the same time as distinct machines (own disk, MAC and
/// generation ID) and the snapshot stays as it was.
///
/// Network safety: every tap lives in a network namespace of the test's own, deleted at
/// the end; the counter guest sends nothing anyway.
@Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
struct SnapshotCloneTests {
    @Test(.enabled(if: NetworkNamespace.available, "needs root and iproute2 for a network namespace"))
    func twoClonesOfOneSnapshotRunTogetherAsDistinctMachines() throws {
        let work = try ScratchFolder()
        let namespace = try NetworkNamespace()
        defer { namespace.delete() }
        let clones = [("vmsnapA0", "52:54:00:5a:00:0a", work.file("clone-a.img")),
                      ("vmsnapB0", "52:54:00:5a:00:0b", work.file("clone-b.img"))]
        for tap in ["vmsnapS0"] + clones.map(\.0) { try namespace.addTap(tap) }

        // The source: counter guest with a disk holding a marker, and a NIC.
        let sourceImage = work.file("source.img")
        var content = Data("source disk at the snapshot".utf8)
        content.append(Data(count: (1 << 20) - content.count))
        FileManager.default.createFile(atPath: sourceImage, contents: content)
        let snapshot = work.file("snap")
        do {
            let source = try SnapshotTestVM([
                "run", "--kernel", try TestEnvironment.guest("counter"), "--disk", sourceImage,
                "--net", "tap=vmsnapS0,mac=52:54:00:5a:00:01",
            ], in: namespace)
            let control = try source.control()
            let console = try source.console()
            try #require(CounterLog.waitForStep(console, 3), "\(console.text)\(source.log)")
            let answer = control.request("snapshot \(snapshot)", timeout: 60)
            try #require(answer?["ok"] as? Bool == true, "\(answer.map { "\($0)" } ?? "no answer")")
            #expect(source.stop(control).status == 143)
        }
        let sourceDescription = try SnapshotFiles.description(snapshot)
        let sourceNetworks = sourceDescription["networks"] as? [[String: Any]]
        #expect(sourceNetworks?.first?["mac"] as? String == "52:54:00:5a:00:01", "\(sourceDescription)")
        #expect(sourceNetworks?.first?["tap"] as? String == "vmsnapS0", "\(sourceDescription)")
        // After the snapshot the source's disk moves on; no clone may touch it.
        let handle = try #require(FileHandle(forWritingAtPath: sourceImage))
        handle.write(Data("source disk after the snapshot".utf8))
        try handle.close()
        let sourceFolderBefore = try SnapshotFiles.fingerprint(snapshot)
        let sourceImageBefore = try Data(contentsOf: URL(fileURLWithPath: sourceImage))

        // Both clones at once.
        let running = try clones.map { tap, mac, image in
            try SnapshotTestVM(["restore", snapshot, "--new-identity", "--disk", image, "--net", "tap=\(tap),mac=\(mac)"],
                               in: namespace)
        }
        var consoles: [UnixSocketConnection] = []
        var controls: [UnixSocketConnection] = []
        for vm in running {
            #expect(vm.waitUntilStarted(), "\(vm.log)")
            consoles.append(try vm.console())
            controls.append(try vm.control())
        }
        // Both make progress while the other runs.
        for (index, console) in consoles.enumerated() {
            _ = waitUntil(console, timeout: 30) { !CounterLog.steps($0).isEmpty }
            let first = CounterLog.steps(console.text).first?.step ?? 1
            #expect(CounterLog.waitForStep(console, first + 10),
                    "clone \(index) does not count: \(console.text.suffix(300))\(running[index].log)")
        }
        for (index, control) in controls.enumerated() {
            #expect(control.request("status")?["state"] as? String == "running", "clone \(index)")
            #expect(running[index].isRunning)
        }

        // Each clone's own snapshot describes its identity.
        var generationIDs = [sourceDescription["generationID"] as? String ?? "source"]
        for (index, control) in controls.enumerated() {
            let folder = work.file("clone-snap-\(index)")
            let answer = control.request("snapshot \(folder)", timeout: 60)
            try #require(answer?["ok"] as? Bool == true, "clone \(index): \(answer.map { "\($0)" } ?? "no answer")")
            let description = try SnapshotFiles.description(folder)
            let (tap, mac, image) = clones[index]
            let network = (description["networks"] as? [[String: Any]])?.first
            #expect(network?["mac"] as? String == mac, "clone \(index): \(description)")
            #expect(network?["tap"] as? String == tap, "clone \(index): \(description)")
            let disk = (description["disks"] as? [[String: Any]])?.first
            #expect(disk?["path"] as? String == image, "clone \(index): \(description)")
            generationIDs.append(description["generationID"] as? String ?? "clone \(index)")
        }
        #expect(Set(generationIDs).count == 3, "source and clones need distinct generation IDs: \(generationIDs)")
        #expect(generationIDs.allSatisfy { $0.count == 36 }, "\(generationIDs)")

        for (index, vm) in running.enumerated() {
            #expect(!consoles[index].text.contains("memory damaged"))
            #expect(vm.stop(controls[index]).status == 143, "clone \(index): \(vm.log)")
        }

        // Each clone's disk started as the snapshot's copy; the source's disk and the
        // snapshot folder are as they were.
        let snapshotDisk = try Data(contentsOf: URL(fileURLWithPath: snapshot + "/disk0.img"))
        #expect(snapshotDisk.starts(with: Data("source disk at the snapshot".utf8)))
        for (_, _, image) in clones {
            #expect(try Data(contentsOf: URL(fileURLWithPath: image)) == snapshotDisk, "\(image)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: sourceImage)) == sourceImageBefore, "a clone wrote the source's disk")
        #expect(try SnapshotFiles.fingerprint(snapshot) == sourceFolderBefore, "restoring clones changed the snapshot")
    }
}
