import Foundation
import Testing

/// A `vmm run` or `vmm restore` started as a supervisor starts it (control and console
/// sockets, pid file, exit file in a folder of its own), optionally inside a network
/// namespace. The process is killed and the folder removed when the value goes away.
final class SnapshotTestVM {
    let folder: String
    let command: HostCommand
    var controlPath: String { folder + "/control.sock" }
    var consolePath: String { folder + "/console.sock" }
    var pidPath: String { folder + "/vmm.pid" }
    var exitPath: String { folder + "/exit.json" }
    private var result: HostCommand.Result?

    /// `arguments` after the binary, e.g. `["run", "--kernel", ...]` or `["restore", DIR, ...]`.
    init(_ arguments: [String], in namespace: NetworkNamespace? = nil) throws {
        // Short: a socket path must fit in sun_path's 108 bytes.
        folder = "/tmp/vmm-snv-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let full = [TestEnvironment.vmmBinary] + arguments + Self.supervisorArguments(folder)
        command = try HostCommand(namespace?.command(full) ?? full)
        try command.start()
    }

    static func supervisorArguments(_ folder: String) -> [String] {
        ["--control-socket", folder + "/control.sock", "--console-socket", folder + "/console.sock",
         "--pid-file", folder + "/vmm.pid", "--exit-file", folder + "/exit.json"]
    }

    deinit {
        if command.process.isRunning { kill(command.process.processIdentifier, SIGKILL) }
        _ = command.finish(timeout: 10)
        try? FileManager.default.removeItem(atPath: folder)
    }

    var isRunning: Bool { command.process.isRunning }

    /// Waits for the pid file, which vmm writes once the VM is in place (and before which
    /// `status` cannot know whether the VM will run or stay paused).
    @discardableResult
    func waitUntilStarted(timeout: TimeInterval = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: pidPath) { return true }
            if !command.process.isRunning { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    func control() throws -> UnixSocketConnection { try UnixSocketConnection(path: controlPath) }
    func console() throws -> UnixSocketConnection { try UnixSocketConnection(path: consolePath) }

    /// Waits for vmm to end (killed after `timeout` seconds).
    func finish(timeout: TimeInterval) -> HostCommand.Result {
        if let result { return result }
        let finished = command.finish(timeout: timeout)
        result = finished
        return finished
    }

    /// `stop` on the control socket, then the end of the process.
    func stop(_ control: UnixSocketConnection) -> HostCommand.Result {
        _ = control.request("stop")
        return finish(timeout: 20)
    }

    var exitReport: [String: Any]? {
        guard let data = FileManager.default.contents(atPath: exitPath) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// vmm's standard error so far (its log).
    var log: String { command.standardError }
}

/// A folder under /tmp removed (with everything in it) when the value goes away.
final class ScratchFolder {
    let path: String

    init() throws {
        path = "/tmp/vmm-snapshot-test-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }
}

/// The `counter` test kernel's output: "counter: step N pit P sum S" lines, and the sums it
/// must print (the checksum depends on the step alone, see Tests/Guests/counter.c).
enum CounterLog {
    struct Step: Equatable {
        let step: Int
        let pit: Int
        let sum: UInt32
    }

    /// The complete step lines of `text`, in order (a partial first or last line is skipped).
    static func steps(_ text: String) -> [Step] {
        lines(text).compactMap(parse)
    }

    /// Lines that ended in a newline, without it (and without a CR before it: Linux's
    /// serial console ends lines in CRLF, which a Swift String holds as one Character).
    static func lines(_ text: String) -> [String] {
        var parts = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        parts.removeLast()  // after the last newline: incomplete (or empty)
        return parts
    }

    static func parse(_ line: String) -> Step? {
        let fields = line.split(separator: " ")
        guard fields.count == 7, fields[0] == "counter:", fields[1] == "step", fields[3] == "pit", fields[5] == "sum",
              let step = Int(fields[2]), let pit = Int(fields[4]), let sum = UInt32(fields[6], radix: 16)
        else { return nil }
        return Step(step: step, pit: pit, sum: sum)
    }

    static func lastStep(_ text: String) -> Int { steps(text).last?.step ?? 0 }

    /// Text after the last newline: a line the guest was printing.
    static func partialLine(_ text: String) -> String {
        guard let newline = text.lastIndex(of: "\n") else { return text }
        return String(text[text.index(after: newline)...])
    }

    /// The sum the guest prints after `step` (counter.c's checksum, replayed).
    static func expectedSums(through last: Int) -> [UInt32] {
        var area = (0..<4096).map { UInt32($0) &* 2_654_435_761 }
        var pages = (0..<64).map { UInt32($0) }
        func checksum() -> UInt32 {
            var sum: UInt32 = 0
            for word in area { sum = (sum << 1 | sum >> 31) ^ word }
            for word in pages { sum &+= word }
            return sum
        }
        var sums = [checksum()]
        if last > 0 {
            for step in 1...last {
                area[step % 4096] ^= UInt32(step)
                pages[step % 64] &+= UInt32(step)
                sums.append(checksum())
            }
        }
        return sums
    }

    /// Steps whose printed sum is not the one counter.c computes for them.
    static func wrongSums(_ steps: [Step]) -> [Step] {
        let sums = expectedSums(through: steps.map(\.step).max() ?? 0)
        return steps.filter { $0.sum != sums[$0.step] }
    }

    /// Reads the console until the guest printed step `step` (or it said its memory is
    /// damaged, the console closed, or `timeout` passed).
    @discardableResult
    static func waitForStep(_ console: UnixSocketConnection, _ step: Int, timeout: TimeInterval = 60) -> Bool {
        waitUntil(console, timeout: timeout) { lastStep($0) >= step || $0.contains("memory damaged") }
            && lastStep(console.text) >= step
    }
}

/// Reads `console` until `condition` holds for everything received, it closes, or `timeout` passes.
func waitUntil(_ console: UnixSocketConnection, timeout: TimeInterval, _ condition: (String) -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if condition(console.text) { return true }
        guard !console.isClosed, Date() < deadline else { return false }
        console.drain(quiet: 0.2, limit: max(0.01, min(1, deadline.timeIntervalSinceNow)))
    }
}

/// Snapshot folders and disk images as a user checks them.
enum SnapshotFiles {
    /// snapshot.json as a dictionary.
    static func description(_ directory: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/snapshot.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every file of a folder with its size and SHA-256 (sha256sum): what "untouched" means.
    static func fingerprint(_ directory: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let path = "\(directory)/\(name)"
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
            let sum = try HostCommand.check(["sha256sum", path]).standardOutput.prefix(64)
            result[name] = "\(size) \(sum)"
        }
        return result
    }

    /// A copy of a snapshot folder (sparse, so the 256 MiB memory file costs what it holds).
    static func copy(_ source: String, to destination: String) throws {
        try HostCommand.check(["cp", "-r", "--sparse=always", source, destination])
    }

    /// Bytes the file really occupies on disk.
    static func allocatedBytes(_ path: String) -> Int {
        var status = stat()
        guard stat(path, &status) == 0 else { return -1 }
        return Int(status.st_blocks) * 512
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}

/// Disk images of the `virtio` kernel's `test=blkseq`: block i (4 KiB) holds the word i.
enum NumberedBlocks {
    static let blockSize = 4096

    enum Layout: Equatable, CustomStringConvertible {
        /// Blocks 1...count numbered, block 0 and everything after zero.
        case prefix(Int)
        /// Anything else: the first block that breaks the pattern and what it holds.
        case broken(block: Int, firstWord: UInt32)

        var description: String {
            switch self {
            case .prefix(let count): "numbered blocks 1...\(count), zeros after"
            case .broken(let block, let word): "block \(block) breaks the pattern (first word \(word))"
            }
        }

        var count: Int? { if case .prefix(let count) = self { count } else { nil } }
    }

    static func layout(of path: String) throws -> Layout {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let blocks = data.count / blockSize
        func words(_ block: Int) -> [UInt32] {
            data.withUnsafeBytes { raw in
                (0..<blockSize / 4).map { raw.loadUnaligned(fromByteOffset: block * blockSize + $0 * 4, as: UInt32.self) }
            }
        }
        if let first = words(0).first(where: { $0 != 0 }) { return .broken(block: 0, firstWord: first) }
        var count = 0
        while count + 1 < blocks, words(count + 1).allSatisfy({ $0 == UInt32(count + 1) }) { count += 1 }
        for block in (count + 1)..<max(count + 1, blocks) {
            let content = words(block)
            if content.contains(where: { $0 != 0 }) { return .broken(block: block, firstWord: content[0]) }
        }
        return .prefix(count)
    }

    /// "blk: acked N" lines, in order.
    static func acknowledged(_ text: String) -> [Int] {
        CounterLog.lines(text).compactMap { line in
            line.hasPrefix("blk: acked ") ? Int(line.dropFirst("blk: acked ".count)) : nil
        }
    }
}

/// `{"error":{"code":...}}` → the code.
func errorCode(_ answer: [String: Any]?) -> String? {
    (answer?["error"] as? [String: Any])?["code"] as? String
}

func errorMessage(_ answer: [String: Any]?) -> String {
    (answer?["error"] as? [String: Any])?["message"] as? String ?? "\(answer.map { "\($0)" } ?? "no answer")"
}
