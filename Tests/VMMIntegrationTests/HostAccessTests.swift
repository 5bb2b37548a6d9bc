import Foundation
import Testing
import TestSupport

/// What a user without access to /dev/kvm sees: one sentence saying what to do.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct HostAccessTests {
    @Test(.enabled(if: getuid() == 0, "needs root to run vmm as another user"))
    func userWithoutKVMAccessGetsOneClearSentence() throws {
        // A folder the unprivileged user can reach, whatever the checkout's permissions are.
        let folder = NSTemporaryDirectory() + "vmm-access-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let binary = folder + "/vmm", kernel = folder + "/hello.elf"
        try FileManager.default.copyItem(atPath: TestEnvironment.vmmBinary, toPath: binary)
        try FileManager.default.copyItem(atPath: try TestEnvironment.guest("hello"), toPath: kernel)
        for path in [binary, kernel] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }

        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary, "run", "--kernel", kernel]
        let standardError = Pipe()
        process.standardError = standardError
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: standardError.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 6)
        #expect(message.split(separator: "\n").count == 1, "\(message)")
        #expect(message.contains("permission denied opening /dev/kvm"), "\(message)")
        #expect(message.contains("kvm"))
    }
}
