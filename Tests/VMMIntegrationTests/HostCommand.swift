import Foundation
import TestSupport

/// A host program the device tests need (ip, mkfs.ext4, debugfs, python3), run to
/// completion or in the background with its output collected.
final class HostCommand: @unchecked Sendable {
    struct Result {
        let status: Int32
        let standardOutput: String
        let standardError: String
        var succeeded: Bool { status == 0 }
    }

    let arguments: [String]
    let process = SpawnedProcess()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let lock = NSLock()
    private var stdoutData = Data()
    private var stderrData = Data()

    /// `arguments[0]` is looked up on PATH (and in /sbin and /usr/sbin, where e2fsprogs and
    /// iproute2 live but a non-login PATH may not reach).
    init(_ arguments: [String]) throws {
        precondition(!arguments.isEmpty)
        self.arguments = arguments
        process.executableURL = URL(fileURLWithPath: try Self.locate(arguments[0]))
        process.arguments = Array(arguments.dropFirst())
        // Standard input stays open (a pipe nobody writes), as a terminal would: vmm reads
        // its console input there.
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        stdoutPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.append(handle.availableData, error: false) }
        stderrPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.append(handle.availableData, error: true) }
    }

    static func locate(_ program: String) throws -> String {
        if program.hasPrefix("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(program)") {
            return "\(folder)/\(program)"
        }
        throw TestSetupError("\(program) is not installed (scripts/install-dependencies.sh installs it)")
    }

    private func append(_ data: Data, error: Bool) {
        lock.withLock { if error { stderrData.append(data) } else { stdoutData.append(data) } }
    }

    var standardOutput: String { lock.withLock { String(decoding: stdoutData, as: UTF8.self) } }
    var standardError: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }

    func start() throws { try process.run() }

    /// Waits until the program printed `text` on standard output, ended, or `timeout` passed.
    @discardableResult
    func waitForOutput(_ text: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if standardOutput.contains(text) { return true }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return standardOutput.contains(text)
    }

    /// Ends a background program (SIGTERM, then SIGKILL) and collects its output.
    @discardableResult
    func stop() -> Result {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(2)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        return finish(timeout: 5)
    }

    /// Waits for the program to end (killing it after `timeout` seconds) and collects its output.
    func finish(timeout: TimeInterval) -> Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? stdinPipe.fileHandleForWriting.close()
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        append(stdoutPipe.fileHandleForReading.readDataToEndOfFile(), error: false)
        append(stderrPipe.fileHandleForReading.readDataToEndOfFile(), error: true)
        return Result(status: process.terminationStatus, standardOutput: standardOutput, standardError: standardError)
    }

    /// Runs `arguments` to completion.
    static func run(_ arguments: [String], timeout: TimeInterval = 60) throws -> Result {
        let command = try HostCommand(arguments)
        try command.start()
        return command.finish(timeout: timeout)
    }

    /// Runs `arguments` and throws, with its output, unless it succeeds.
    @discardableResult
    static func check(_ arguments: [String], timeout: TimeInterval = 60) throws -> Result {
        let result = try run(arguments, timeout: timeout)
        guard result.succeeded else {
            throw TestSetupError("`\(arguments.joined(separator: " "))` failed with status \(result.status): \(result.standardError)\(result.standardOutput)")
        }
        return result
    }
}
