import Foundation
import Testing
import TestSupport

/// `vmm run` in a real terminal (a pty from script(1)): raw mode while the guest runs,
/// Ctrl-A x to quit, and the terminal settings restored afterwards.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct TerminalTests {
    @Test func ctrlAXQuitsAndTheTerminalIsRestored() throws {
        let kernel = try TestEnvironment.guest("echo")
        // Inside the pty: record the settings, run vmm, record them again.
        let inner = "stty -g > before.txt; '\(TestEnvironment.vmmBinary)' run --kernel '\(kernel)'; "
            + "echo \"vmm-status=$?\"; stty -g > after.txt"
        let folder = NSTemporaryDirectory() + "vmm-tty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qfec", inner, "/dev/null"]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        let collected = LockedData()
        output.fileHandleForReading.readabilityHandler = { collected.append($0.availableData) }
        try process.run()

        func waitFor(_ text: String) -> Bool {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if collected.text.contains(text) { return true }
                Thread.sleep(forTimeInterval: 0.02)
            }
            return false
        }
        #expect(waitFor("echo: ready"))
        // Raw mode passes every byte through untouched, so the guest sees this line as sent.
        input.fileHandleForWriting.write(Data("typed\n".utf8))
        #expect(waitFor("echo: typed"))
        input.fileHandleForWriting.write(Data([0x01, UInt8(ascii: "x")]))
        #expect(waitFor("vmm-status="))
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil

        #expect(collected.text.contains("vmm-status=0"), "\(collected.text)")
        let before = try String(contentsOfFile: folder + "/before.txt", encoding: .utf8)
        let after = try String(contentsOfFile: folder + "/after.txt", encoding: .utf8)
        #expect(before == after, "terminal settings were not restored")
    }
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
