import Foundation
import TestSupport

/// A real `vmm` process: arguments in, status and both output streams out.
final class VMMProcess: @unchecked Sendable {
    struct Result {
        let status: Int32
        let standardOutput: String
        let standardError: String
        var lines: [String] { standardOutput.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init) }
    }

    let process = SpawnedProcess()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let output = OutputCollector()

    /// `environment` adds to (or overrides) the test's own.
    init(_ arguments: [String], environment: [String: String] = [:]) {
        process.executableURL = URL(fileURLWithPath: TestEnvironment.vmmBinary)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let output = self.output
        stdoutPipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData, error: false) }
        stderrPipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData, error: true) }
    }

    func start() throws { try process.run() }

    func send(_ text: String) { stdinPipe.fileHandleForWriting.write(Data(text.utf8)) }
    func closeInput() { try? stdinPipe.fileHandleForWriting.close() }
    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Guest output so far.
    var standardOutput: String { output.text(error: false) }

    /// Waits until the guest printed `text`, or `timeout` seconds passed.
    @discardableResult
    func waitForOutput(_ text: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if standardOutput.contains(text) { return true }
            if !process.isRunning { return standardOutput.contains(text) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Waits for the process to end; kills it after `timeout` seconds.
    func finish(timeout: TimeInterval) -> Result {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning {
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        // Drain what the pipes still hold.
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        output.append(stdoutPipe.fileHandleForReading.readDataToEndOfFile(), error: false)
        output.append(stderrPipe.fileHandleForReading.readDataToEndOfFile(), error: true)
        return Result(status: process.terminationStatus, standardOutput: output.text(error: false),
                      standardError: output.text(error: true))
    }

    /// Runs vmm to completion with `input` on its standard input.
    static func run(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> Result {
        let vmm = VMMProcess(arguments)
        try vmm.start()
        if let input { vmm.send(input) }
        vmm.closeInput()
        return vmm.finish(timeout: timeout)
    }
}

private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var standardOutput = Data()
    private var standardError = Data()

    func append(_ data: Data, error: Bool) {
        lock.withLock { if error { standardError.append(data) } else { standardOutput.append(data) } }
    }

    func text(error: Bool) -> String {
        lock.withLock { String(decoding: error ? standardError : standardOutput, as: UTF8.self) }
    }
}
