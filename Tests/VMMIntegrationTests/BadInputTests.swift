import Foundation
import Testing

/// Every kind of bad input: one clear line on stderr, status 2, no VM started.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct BadInputTests {
    private func expectRejected(_ arguments: [String], mentioning text: String) throws {
        let result = try VMMProcess.run(["run"] + arguments, timeout: 20)
        #expect(result.status == 2, "\(arguments): \(result.standardError)")
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(result.standardError)")
        #expect(result.standardError.contains(text), "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
    }

    @Test func missingKernel() throws {
        try expectRejected(["--kernel", "/nonexistent/kernel"], mentioning: "no such file")
    }

    @Test func kernelThatIsADirectory() throws {
        try expectRejected(["--kernel", "/tmp"], mentioning: "not a regular file")
    }

    @Test func fileThatIsNoKernel() throws {
        let file = try TemporaryFile(contents: "#!/bin/sh\necho this is no kernel\n")
        try expectRejected(["--kernel", file.path], mentioning: "not a kernel vmm can boot")
    }

    @Test func emptyKernel() throws {
        let file = try TemporaryFile(contents: "")
        try expectRejected(["--kernel", file.path], mentioning: "empty")
    }

    @Test func missingInitrd() throws {
        try expectRejected(
            ["--kernel", try TestEnvironment.guest("hello"), "--initrd", "/nonexistent/initrd"], mentioning: "initrd")
    }

    @Test(arguments: ["0", "abc", "12Q", "-5M", ""])
    func unparsableOrZeroMemory(size: String) throws {
        try expectRejected(["--kernel", try TestEnvironment.guest("hello"), "--memory", size], mentioning: "--memory")
    }

    @Test func memoryTooSmallForTheMachine() throws {
        try expectRejected(["--kernel", try TestEnvironment.guest("hello"), "--memory", "1M"], mentioning: "too small")
    }

    @Test func memoryTooSmallForKernelAndInitrd() throws {
        let initrd = try TemporaryFile(size: 6 << 20)
        try expectRejected(
            ["--kernel", try TestEnvironment.guest("hello"), "--initrd", initrd.path, "--memory", "4M"],
            mentioning: "too small")
    }

    @Test(arguments: ["0", "-1", "100000", "many"])
    func vcpuCountOutOfRange(cpus: String) throws {
        try expectRejected(["--kernel", try TestEnvironment.guest("hello"), "--cpus", cpus], mentioning: "cpus")
    }

    @Test func unknownCPUFeature() throws {
        try expectRejected(
            ["--kernel", try TestEnvironment.guest("hello"), "--cpu-features=-warpdrive"], mentioning: "warpdrive")
    }

    @Test func unknownOption() throws {
        try expectRejected(["--kernel", try TestEnvironment.guest("hello"), "--frobnicate"], mentioning: "frobnicate")
    }
}
