import Foundation
import Glibc
import TestSupport

/// A child process (vmctl, curl, python3) with its input given up front, its output and
/// errors captured, and a deadline after which it is killed.
final class Subprocess: @unchecked Sendable {
    struct Result: Sendable, CustomStringConvertible {
        var status: Int32
        var output: String
        var error: String
        var description: String { "exit \(status)\nstdout: \(output)\nstderr: \(error)" }
    }

    let process: SpawnedProcess
    private let outputFile: String
    private let errorFile: String
    private let ended: AsyncStream<Int32>
    private let deadline: Task<Void, Never>

    /// Starts `arguments` (`arguments[0]` an absolute path); `input` is written to its
    /// standard input, which is closed after (nil: /dev/null).
    init(
        _ arguments: [String], input: Data? = nil, environment: [String: String] = [:], directory: String? = nil,
        timeout: Duration = .seconds(60)
    ) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vmmd-subprocess-\(UUID().uuidString)").path
        outputFile = base + ".out"
        errorFile = base + ".err"
        for file in [outputFile, errorFile] { _ = FileManager.default.createFile(atPath: file, contents: nil) }
        let process = SpawnedProcess()
        self.process = process
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
        let stdin = input.map { _ in Pipe() }
        process.standardInput = stdin ?? FileHandle.nullDevice
        let (ended, continuation) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.ended = ended
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        try process.run()
        let pid = process.processIdentifier
        deadline = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            kill(pid, SIGKILL)
        }
        if let stdin, let input {
            let writer = stdin.fileHandleForWriting
            try writer.write(contentsOf: input)
            try writer.close()
        }
    }

    /// Runs `arguments` to its end.
    static func run(
        _ arguments: [String], input: Data? = nil, environment: [String: String] = [:], directory: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> Result {
        try await Subprocess(arguments, input: input, environment: environment, directory: directory, timeout: timeout).wait()
    }

    /// Sends `signal` to the process (it is ours: we started it). The process inherits the
    /// signal mask of the test thread that started it, which may block SIGTERM: SIGKILL is sure.
    func signal(_ signal: Int32 = SIGKILL) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the end and returns the status and everything it wrote.
    func wait() async throws -> Result {
        var status: Int32 = -1
        for await value in ended { status = value }
        deadline.cancel()
        defer {
            unlink(outputFile)
            unlink(errorFile)
        }
        return Result(status: status, output: Self.read(outputFile), error: Self.read(errorFile))
    }

    /// What the process wrote to its standard output so far.
    var outputSoFar: String { Self.read(outputFile) }

    private static func read(_ path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
}
