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

    @Test(arguments: [
        ("a.raw,ro", "unknown setting 'ro'"),
        ("/images/a,b.raw", "a path containing ',' cannot be given"),
        (",readonly", "no image path"),
    ])
    func malformedDisk(value: String, mentioning text: String) throws {
        try expectRejected(["--kernel", try TestEnvironment.guest("hello"), "--disk", value], mentioning: text)
    }

    @Test func sameDiskTwice() throws {
        let image = try TemporaryFile(size: 1 << 20)
        try expectRejected(
            ["--kernel", try TestEnvironment.guest("hello"), "--disk", image.path, "--disk", "\(image.path),readonly"],
            mentioning: "given twice")
    }

    @Test(arguments: [
        ("bridge=br0", "unknown setting 'bridge=br0'"),
        ("tap=a-name-of-16-bytes", "at most 15 bytes"),
        ("tap=a/b", "cannot contain '/'"),
        ("tap,mac=01:00:5e:00:00:01", "multicast"),
        ("tap,mac=00:00:00:00:00:00", "all-zero"),
        ("tap,mac=02:00:00:00:01", "not a MAC address"),
    ])
    func malformedNetwork(value: String, mentioning text: String) throws {
        try expectRejected(["--kernel", try TestEnvironment.guest("hello"), "--net", value], mentioning: text)
    }

    @Test func sameTapTwice() throws {
        try expectRejected(
            ["--kernel", try TestEnvironment.guest("hello"), "--net", "tap=vmmtest0", "--net", "tap=vmmtest0"],
            mentioning: "given twice")
    }

    @Test func unknownOption() throws {
        try expectRejected(["--kernel", try TestEnvironment.guest("hello"), "--frobnicate"], mentioning: "frobnicate")
    }
}
