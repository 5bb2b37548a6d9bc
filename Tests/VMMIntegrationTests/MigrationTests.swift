import Foundation
import Testing
import TestSupport

extension LongGuestRuns {
    /// Live migration between two vmm processes on this host through a Unix socket
    /// (docs/migration.md, section 1), with the `counter` guest: its steps must go on across
    /// every migration with none lost or repeated, and a failed migration must leave the guest
    /// running on exactly one side.
    @Suite(.serialized, .enabled(if: TestEnvironment.kvmAvailable))
    struct MigrationTests {
        private static func counter(_ cmdline: String = "steps=1000000", kernel: String? = nil) throws -> [String] {
            ["run", "--kernel", try kernel ?? TestEnvironment.guest("counter"), "--cmdline", cmdline]
        }

        /// A `vmm receive` listening at `incoming` (in a scratch folder).
        private static func destination(
            _ work: ScratchFolder, _ name: String, _ extra: [String] = [], in namespace: NetworkNamespace? = nil
        ) throws -> (SnapshotTestVM, String) {
            let incoming = work.file("\(name).sock")
            return (try SnapshotTestVM(["receive", "--incoming", incoming] + extra, in: namespace), incoming)
        }

        /// Polls `status` until the migration object's phase is one of `phases`; the last answer.
        @discardableResult
        private static func waitForPhase(_ control: UnixSocketConnection, _ phases: Set<String>, timeout: TimeInterval = 30) -> [String: Any]? {
            let deadline = Date().addingTimeInterval(timeout)
            var last: [String: Any]?
            while Date() < deadline {
                guard let answer = control.request("status") else { return last }
                last = answer
                if let phase = (answer["migration"] as? [String: Any])?["phase"] as? String, phases.contains(phase) { return answer }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return last
        }

        private static func migration(_ status: [String: Any]?) -> [String: Any] { status?["migration"] as? [String: Any] ?? [:] }

        /// Waits for the destination's socket to listen (vmm receive creates it after its
        /// checks). The file exists from `bind`, a moment before `listen`, and a probe
        /// connection would be taken for the migration: /proc/net/unix says when it listens.
        /// That table is per network namespace: for a destination in one of the test's,
        /// `listener` names it, and its /proc/PID/net/unix is read (the host's never lists
        /// the socket: the wait would last its whole 30 s).
        private static func waitForSocket(_ path: String, of listener: SnapshotTestVM? = nil) {
            let table = listener.map { "/proc/\($0.command.process.processIdentifier)/net/unix" } ?? "/proc/net/unix"
            let deadline = Date().addingTimeInterval(30)
            while !isListening(path, table: table) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        }

        private static func isListening(_ path: String, table: String) -> Bool {
            guard let table = try? String(contentsOfFile: table, encoding: .utf8) else { return false }
            // Columns: Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON.
            return table.split(separator: "\n").contains { line in
                let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                return columns.count >= 8 && columns[3] == "00010000" && columns[7] == path
            }
        }

        /// Waits for `vm` to end while reading its console, as a console client does. vmm
        /// keeps what a client has not read beyond what its socket holds (a few hundred bytes:
        /// each console byte is a send of its own) only until a second after the VM ended:
        /// read after vmm's end, the steps of a slow round (the destination's setup under
        /// load) would be gone.
        private static func finish(_ vm: SnapshotTestVM, reading console: UnixSocketConnection, timeout: TimeInterval) -> HostCommand.Result {
            let deadline = Date().addingTimeInterval(timeout)
            while vm.isRunning && !console.isClosed && Date() < deadline { console.drain(quiet: 0.05, limit: 0.05) }
            console.drain()
            return vm.finish(timeout: max(0, deadline.timeIntervalSinceNow))
        }

        @Test func counterMigratesBackAndForthTwentyTimesWithoutLosingOrRepeatingAStep() throws {
            let work = try ScratchFolder()
            var current = try SnapshotTestVM(try Self.counter())
            var console = try current.console()
            try #require(CounterLog.waitForStep(console, 2), "\(console.text.suffix(300))\(current.log)")
            var transcript = ""
            var downtimes: [Int] = []
            for round in 1...20 {
                let (next, incoming) = try Self.destination(work, "in\(round)")
                let nextConsole = try next.console()
                let nextControl = try next.control()
                Self.waitForSocket(incoming)
                let incomingStatus = nextControl.request("status")
                #expect(incomingStatus?["state"] as? String == "incoming", "\(incomingStatus ?? [:])")
                console.drain()
                let answer = try current.control().request("migrate \(incoming)")
                #expect(answer?["state"] as? String == "migrating", "round \(round): \(answer ?? [:])")
                let result = Self.finish(current, reading: console, timeout: 30)
                #expect(result.status == 0, "round \(round): the source ended with \(result.status): \(current.log.suffix(800))")
                let report = current.exitReport
                #expect(report?["reason"] as? String == "migrated", "round \(round): \(report ?? [:])")
                if let message = report?["message"] as? String, let ms = message.split(separator: " ").last(where: { Int($0) != nil }) {
                    downtimes.append(Int(ms)!)
                }
                #expect(next.waitUntilStarted(), "round \(round): the destination did not run the VM: \(next.log)")
                let last = CounterLog.lastStep(transcript + console.text)
                #expect(CounterLog.waitForStep(nextConsole, last + 1, timeout: 30) || CounterLog.lastStep(console.text + nextConsole.text) > last,
                        "round \(round): the destination does not count on: \(nextConsole.text.suffix(300))\(next.log)")
                transcript += console.text
                current = next
                console = nextConsole
            }
            console.drain()
            transcript += console.text
            let steps = CounterLog.steps(transcript)
            let numbers = steps.map(\.step)
            #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "steps lost or repeated: \(Self.gaps(numbers))")
            #expect(CounterLog.wrongSums(steps).isEmpty, "\(CounterLog.wrongSums(steps).prefix(3))")
            #expect(!transcript.contains("memory damaged"))
            #expect(downtimes.count == 20, "\(downtimes)")
            print("migration downtimes (ms) over 20 migrations of the idle counter guest: \(downtimes)")
            #expect(current.stop(try current.control()).status == 143)
        }

        private static func gaps(_ numbers: [Int]) -> String {
            zip(numbers, numbers.dropFirst()).filter { $1 != $0 + 1 }.prefix(5).map { "\($0)→\($1)" }.joined(separator: ", ")
        }

        /// A slow migration (bandwidth=1: 125 kB/s for the counter's few hundred kB) whose
        /// destination dies mid-stream: the source notices, says why, and keeps counting.
        @Test func sourceRunsOnWhenTheDestinationIsKilledMidStream() throws {
            let work = try ScratchFolder()
            let source = try SnapshotTestVM(try Self.counter())
            let console = try source.console(), control = try source.control()
            try #require(CounterLog.waitForStep(console, 2))
            let (destination, incoming) = try Self.destination(work, "in")
            Self.waitForSocket(incoming)
            #expect(control.request("migrate \(incoming) bandwidth=1")?["ok"] as? Bool == true)
            let precopy = Self.waitForPhase(control, ["precopy"])
            #expect(Self.migration(precopy)["phase"] as? String == "precopy", "\(precopy ?? [:])")
            Thread.sleep(forTimeInterval: 0.5)
            kill(destination.command.process.processIdentifier, SIGKILL)
            let failed = Self.waitForPhase(control, ["failed", "completed", "cancelled"])
            let object = Self.migration(failed)
            #expect(object["phase"] as? String == "failed", "\(failed ?? [:])")
            #expect((object["message"] as? String ?? "").contains("runs on here"), "\(object)")
            #expect(failed?["state"] as? String == "running")
            console.drain()
            #expect(CounterLog.waitForStep(console, CounterLog.lastStep(console.text) + 3), "the source stopped counting: \(console.text.suffix(300))")
            #expect(source.isRunning)
            let steps = CounterLog.steps(console.text).map(\.step)
            #expect(steps == Array((steps.first ?? 0)...(steps.last ?? 0)))
            #expect(source.stop(control).status == 143)
        }

        /// The source dies mid-stream: the destination exits `migration-failed` (status 3)
        /// without ever running the guest (no pid file, no console output).
        @Test func destinationGivesUpWhenTheSourceIsKilledMidStream() throws {
            let work = try ScratchFolder()
            let source = try SnapshotTestVM(try Self.counter())
            let console = try source.console(), control = try source.control()
            try #require(CounterLog.waitForStep(console, 2))
            let (destination, incoming) = try Self.destination(work, "in")
            let destinationConsole = try destination.console()
            Self.waitForSocket(incoming)
            #expect(control.request("migrate \(incoming) bandwidth=1")?["ok"] as? Bool == true)
            Self.waitForPhase(control, ["precopy"])
            Thread.sleep(forTimeInterval: 0.5)
            let received = Self.migration(try destination.control().request("status"))
            #expect(received["phase"] as? String == "receiving" && (received["bytes_received"] as? Int ?? 0) > 0, "\(received)")
            kill(source.command.process.processIdentifier, SIGKILL)
            let result = destination.finish(timeout: 60)
            #expect(result.status == 3, "\(destination.log)")
            #expect(destination.exitReport?["reason"] as? String == "migration-failed", "\(destination.exitReport ?? [:])")
            #expect(!SnapshotFiles.exists(destination.pidPath))
            destinationConsole.drain()
            #expect(destinationConsole.text.isEmpty, "the guest ran on the destination: \(destinationConsole.text.prefix(200))")
        }

        /// The link is lost between `go` and `resumed` (a stand-in destination takes the
        /// stream, says `ready`, reads `go` and hangs up): the VM may now run on the
        /// destination, so the source holds it paused in `awaiting-confirmation` until its
        /// supervisor, having asked the destination, says `resume` (it does not run there:
        /// the guest goes on here) or `stop` (it does: vmm ends as migrated).
        @Test(arguments: ["resume", "stop"])
        func linkLostAfterGoHoldsTheVMUntilConfirmed(answer: String) throws {
            let work = try ScratchFolder()
            let source = try SnapshotTestVM(try Self.counter())
            let console = try source.console(), control = try source.control()
            try #require(CounterLog.waitForStep(console, 2))
            let incoming = work.file("stand-in.sock")
            let destination = SpawnedProcess()
            destination.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            destination.arguments = ["python3", "-c", Self.destinationThatHangsUpAfterGo, incoming]
            try destination.run()
            defer { if destination.isRunning { destination.terminate() } }
            Self.waitForSocket(incoming)
            #expect(control.request("migrate \(incoming)")?["ok"] as? Bool == true)
            let held = Self.waitForPhase(control, ["awaiting-confirmation", "failed", "completed", "cancelled"])
            try #require(Self.migration(held)["phase"] as? String == "awaiting-confirmation", "\(held ?? [:])")
            destination.waitUntilExit()
            #expect(destination.terminationStatus == 0, "the stand-in destination did not see go")
            console.drain()
            let heldAt = CounterLog.lastStep(console.text)
            Thread.sleep(forTimeInterval: 2)
            console.drain()
            #expect(CounterLog.lastStep(console.text) == heldAt, "the guest ran while it may be running on the destination")
            if answer == "resume" {
                #expect(control.request("resume")?["ok"] as? Bool == true)
                #expect(CounterLog.waitForStep(console, heldAt + 3), "the guest did not go on here: \(console.text.suffix(300))")
                #expect(Self.migration(control.request("status"))["phase"] as? String == "failed")
                let steps = CounterLog.steps(console.text).map(\.step)
                #expect(steps == Array((steps.first ?? 0)...(steps.last ?? 0)))
                #expect(source.stop(control).status == 143)
            } else {
                _ = control.request("stop")
                let result = source.finish(timeout: 30)
                #expect(result.status == 0, "\(source.log)")
                #expect(source.exitReport?["reason"] as? String == "migrated", "\(source.exitReport ?? [:])")
            }
        }

        /// A destination that follows the stream up to `go`, then hangs up without `resumed`
        /// (frame kinds of docs/migration.md: hello 1, accept 2, state 6, ready 7, go 8).
        private static let destinationThatHangsUpAfterGo = #"""
        import socket, struct, sys
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(sys.argv[1])
        server.listen(1)
        connection, _ = server.accept()
        def exactly(count):
            data = b""
            while len(data) < count:
                chunk = connection.recv(count - len(data))
                if not chunk:
                    sys.exit("the source hung up")
                data += chunk
            return data
        def frame():
            kind, length = struct.unpack("<II", exactly(8))
            exactly(length)
            return kind
        def send(kind):
            connection.sendall(struct.pack("<II", kind, 0))
        if frame() != 1:
            sys.exit("no hello")
        send(2)
        while frame() != 6:
            pass
        send(7)
        if frame() != 8:
            sys.exit("no go")
        connection.close()
        """#

        /// No source ever connects (its daemon died before starting the stream): the
        /// destination gives up after --connect-timeout instead of waiting forever.
        @Test func destinationThatNoSourceReachesGivesUp() throws {
            let work = try ScratchFolder()
            let (destination, incoming) = try Self.destination(work, "in", ["--connect-timeout", "1"])
            Self.waitForSocket(incoming)
            let result = destination.finish(timeout: 30)
            #expect(result.status == 3, "\(destination.log)")
            #expect(destination.exitReport?["reason"] as? String == "migration-failed", "\(destination.exitReport ?? [:])")
            #expect((destination.exitReport?["message"] as? String ?? "").contains("none connected within"))
            #expect(!SnapshotFiles.exists(incoming), "the incoming socket was left behind")
        }

        /// The destination cannot run the VM (its kernel file is not there): it refuses the
        /// hello, exits with status 2, and the source runs on with a clear message.
        @Test func refusedHelloLeavesTheSourceRunning() throws {
            let work = try ScratchFolder()
            let kernel = work.file("counter.elf")
            try FileManager.default.copyItem(atPath: try TestEnvironment.guest("counter"), toPath: kernel)
            let source = try SnapshotTestVM(try Self.counter(kernel: kernel))
            let console = try source.console(), control = try source.control()
            try #require(CounterLog.waitForStep(console, 2))
            try FileManager.default.removeItem(atPath: kernel)
            let (destination, incoming) = try Self.destination(work, "in")
            Self.waitForSocket(incoming)
            #expect(control.request("migrate \(incoming)")?["ok"] as? Bool == true)
            let failed = Self.waitForPhase(control, ["failed", "completed", "cancelled"])
            let message = Self.migration(failed)["message"] as? String ?? ""
            #expect(Self.migration(failed)["phase"] as? String == "failed", "\(failed ?? [:])")
            #expect(message.contains("refused") && message.contains(kernel), "\(message)")
            #expect(destination.finish(timeout: 30).status == 2, "\(destination.log)")
            #expect(destination.exitReport?["reason"] as? String == "migration-failed")
            #expect(CounterLog.waitForStep(console, CounterLog.lastStep(console.text) + 3))
            #expect(source.stop(control).status == 143)
        }

        /// `migrate-cancel` during a slow migration: the destination is told (it exits), the
        /// guest runs on, and a second migration then succeeds.
        @Test func cancelledMigrationLeavesTheGuestRunningAndCanBeRetried() throws {
            let work = try ScratchFolder()
            let source = try SnapshotTestVM(try Self.counter())
            let console = try source.console(), control = try source.control()
            try #require(CounterLog.waitForStep(console, 2))
            let (first, firstIncoming) = try Self.destination(work, "first")
            Self.waitForSocket(firstIncoming)
            #expect(control.request("migrate \(firstIncoming) bandwidth=1")?["ok"] as? Bool == true)
            Self.waitForPhase(control, ["precopy"])
            let busy = control.request("pause")
            #expect(errorCode(busy) == "conflict", "\(busy ?? [:])")
            #expect(control.request("migrate-cancel")?["ok"] as? Bool == true)
            let cancelled = Self.waitForPhase(control, ["cancelled", "failed", "completed"])
            #expect(Self.migration(cancelled)["phase"] as? String == "cancelled", "\(cancelled ?? [:])")
            #expect(cancelled?["state"] as? String == "running")
            #expect(errorCode(control.request("migrate-cancel")) == "conflict")
            #expect(first.finish(timeout: 30).status == 3, "\(first.log)")
            #expect(first.exitReport?["reason"] as? String == "migration-failed")
            #expect(CounterLog.waitForStep(console, CounterLog.lastStep(console.text) + 3))

            let (second, secondIncoming) = try Self.destination(work, "second")
            let secondConsole = try second.console()
            Self.waitForSocket(secondIncoming)
            #expect(control.request("migrate \(secondIncoming)")?["ok"] as? Bool == true)
            #expect(source.finish(timeout: 30).status == 0, "\(source.log)")
            #expect(second.waitUntilStarted())
            console.drain()
            #expect(CounterLog.waitForStep(secondConsole, CounterLog.lastStep(console.text) + 2), "\(secondConsole.text.suffix(300))")
            #expect(second.stop(try second.control()).status == 143)
        }

        /// A guest that keeps dirtying memory (counter's churn=64 plus its per-step pages) over
        /// a 1 Mbit/s stream: the rounds stop shrinking, so the vCPUs are throttled; within the
        /// 11 s deadline it either converges (and the destination counts on with its memory
        /// intact) or is cancelled cleanly (the source counts on). Either way one side runs.
        @Test func dirtyingGuestOnASlowLinkIsThrottledThenConvergesOrIsCancelledAtTheDeadline() throws {
            let work = try ScratchFolder()
            let source = try SnapshotTestVM(try Self.counter("steps=1000000 churn=64"))
            let console = try source.console(), control = try source.control()
            try #require(CounterLog.waitForStep(console, 2))
            let (destination, incoming) = try Self.destination(work, "in")
            let destinationConsole = try destination.console()
            Self.waitForSocket(incoming)
            #expect(control.request("migrate \(incoming) bandwidth=1 deadline=11")?["ok"] as? Bool == true)
            var maximumThrottle = 0, measured = 0
            var last: [String: Any] = [:]
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, let status = control.request("status") {
                last = Self.migration(status)
                maximumThrottle = max(maximumThrottle, last["throttle_percent"] as? Int ?? 0)
                measured = max(measured, last["bandwidth_mbps"] as? Int ?? 0)
                if ["completed", "failed", "cancelled"].contains(last["phase"] as? String ?? "") { break }
                console.drain(quiet: 0.01, limit: 0.2)
            }
            #expect(maximumThrottle >= 20, "rounds that do not shrink throttle the vCPUs: \(last)")
            #expect(measured == 1, "the measured bandwidth is the 1 Mbit/s limit: \(last)")
            let steps: [CounterLog.Step]
            switch last["phase"] as? String {
            case "cancelled":
                #expect((last["message"] as? String ?? "").contains("deadline"), "\(last)")
                #expect(destination.finish(timeout: 30).status == 3)
                #expect(CounterLog.waitForStep(console, CounterLog.lastStep(console.text) + 3), "the source stopped counting")
                steps = CounterLog.steps(console.text)
                #expect(source.stop(control).status == 143)
            case "completed":
                #expect(source.finish(timeout: 10).status == 0)
                console.drain()
                #expect(CounterLog.waitForStep(destinationConsole, CounterLog.lastStep(console.text) + 3), "the destination does not count")
                steps = CounterLog.steps(console.text + destinationConsole.text)
                #expect(destination.stop(try destination.control()).status == 143)
            default:
                Issue.record("the migration neither completed nor was cancelled at the deadline: \(last)")
                return
            }
            let numbers = steps.map(\.step)
            #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "\(Self.gaps(numbers))")
            #expect(!(console.text + destinationConsole.text).contains("memory damaged"))
            #expect(CounterLog.wrongSums(steps).isEmpty)
        }

        /// The `virtio` kernel writes numbered blocks (test=blkseq), migrates mid-sequence and
        /// finishes on the destination, then reads every block back. With shared storage the
        /// destination opens the same image once the source let go of it; with copy-storage it
        /// writes into its own image (prefilled with garbage, which must not survive).
        @Test(arguments: [false, true])
        func everyAcknowledgedDiskWriteIsOnTheDestinationsDisk(copyStorage: Bool) throws {
            let work = try ScratchFolder()
            let count = 120
            let image = work.file("disk.img"), copy = work.file("copy.img")
            FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20))  // 256 blocks
            FileManager.default.createFile(atPath: copy, contents: Data(repeating: 0xa5, count: 1 << 20))
            let source = try SnapshotTestVM([
                "run", "--kernel", try TestEnvironment.guest("virtio"), "--disk", image,
                "--cmdline", "test=blkseq count=\(count) delay=10",
            ])
            let console = try source.console(), control = try source.control()
            let acknowledged = { NumberedBlocks.acknowledged(console.text).last ?? 0 }
            try #require(waitUntil(console, timeout: 60) { _ in acknowledged() >= 30 }, "\(console.text.suffix(300))\(source.log)")
            let (destination, incoming) = try Self.destination(work, "in", copyStorage ? ["--disk", copy] : [])
            let destinationConsole = try destination.console()
            Self.waitForSocket(incoming)
            let answer = control.request("migrate \(incoming)\(copyStorage ? " copy-storage" : "")")
            #expect(answer?["ok"] as? Bool == true, "\(answer ?? [:])")
            #expect(source.finish(timeout: 30).status == 0, "\(source.log)")
            console.drain()
            #expect(waitUntil(destinationConsole, timeout: 60) { $0.contains("virtio: done") || $0.contains("FAIL") },
                    "\(destinationConsole.text.suffix(300))\(destination.log)")
            let result = destination.finish(timeout: 30)
            #expect(result.status == 1, "the guest ends with debug-exit 0: \(destinationConsole.text.suffix(300))\(destination.log)")
            let text = console.text + destinationConsole.text
            #expect(text.contains("blk: sequence verified") && !text.contains("FAIL"), "\(destinationConsole.text.suffix(300))")
            #expect(NumberedBlocks.acknowledged(text) == Array(1...count), "acknowledgements must go on one by one across the migration")
            let sourceAcks = NumberedBlocks.acknowledged(console.text).count
            #expect(sourceAcks >= 30 && sourceAcks < count, "the migration happened mid-sequence: \(sourceAcks)")
            #expect(try NumberedBlocks.layout(of: copyStorage ? copy : image) == .prefix(count))
            if copyStorage {
                let left = try NumberedBlocks.layout(of: image).count ?? -1
                #expect(left >= sourceAcks && left <= sourceAcks + 1, "the source's image keeps what the source wrote: \(left) blocks")
            }
        }

        /// After resuming, the destination announces the guest on its tap: 5 RARP frames
        /// (ethertype 0x8035) from the guest's MAC, seen by a packet socket on the tap. On one
        /// host the destination has a tap of its own (the source still holds its tap until it
        /// exits).
        @Test(.enabled(if: NetworkNamespace.available))
        func destinationAnnouncesTheGuestsMACOnItsTap() throws {
            let namespace = try NetworkNamespace()
            try namespace.addTap("mtap0")
            try namespace.addTap("mtap1")
            let mac = "52:54:00:aa:bb:cc"
            let capture = try namespace.start(["python3", "-u", "-c", Self.captureScript, "mtap1"])
            defer { _ = capture.stop() }
            try #require(capture.waitForOutput("listening", timeout: 20), "\(capture.standardError)")
            let work = try ScratchFolder()
            let source = try SnapshotTestVM(try Self.counter() + ["--net", "tap=mtap0,mac=\(mac)"], in: namespace)
            let console = try source.console(), control = try source.control()
            try #require(CounterLog.waitForStep(console, 2), "\(source.log)")
            let (destination, incoming) = try Self.destination(work, "in", ["--net", "tap=mtap1,mac=\(mac)"], in: namespace)
            Self.waitForSocket(incoming, of: destination)
            #expect(control.request("migrate \(incoming)")?["ok"] as? Bool == true)
            #expect(source.finish(timeout: 30).status == 0, "\(source.log)")
            #expect(destination.waitUntilStarted(), "\(destination.log)")
            #expect(capture.waitForOutput("frame 5 ", timeout: 10), "\(capture.standardOutput)\(capture.standardError)")
            let frames = capture.standardOutput.split(separator: "\n").filter { $0.hasPrefix("frame ") }
            #expect(frames.count == 5, "\(frames)")
            let spread = frames.last.flatMap { Double($0.split(separator: " ")[2]) } ?? 0
            #expect(spread > 0.6 && spread < 3, "gaps of 50, 150, 250, 350 ms: the fifth frame came \(spread) s after the first")
            let macHex = mac.replacingOccurrences(of: ":", with: "")
            for frame in frames {
                let hex = String(frame.split(separator: " ").last ?? "")
                #expect(hex.hasPrefix("ffffffffffff" + macHex + "8035"), "broadcast RARP from the guest's MAC: \(hex)")
                #expect(hex.dropFirst(28).hasPrefix("000108000604" + "0003" + macHex), "a RARP request-reverse for the MAC: \(hex)")
            }
            #expect(destination.stop(try destination.control()).status == 143)
        }

        /// Prints "frame N SECONDS HEX" for each RARP frame arriving on the interface.
        private static let captureScript = #"""
        import socket, sys, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        s.bind((sys.argv[1], 0))
        print("listening", flush=True)
        n, start = 0, None
        while True:
            frame = s.recv(2048)
            if frame[12:14] != b"\x80\x35":
                continue
            n += 1
            start = start or time.monotonic()
            print("frame %d %.3f %s" % (n, time.monotonic() - start, frame.hex()), flush=True)
        """#
    }
}
