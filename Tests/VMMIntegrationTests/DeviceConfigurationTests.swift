import Foundation
import Testing

/// Disks and taps that cannot be used: vmm says so in one line on stderr and exits with
/// status 2 before the guest runs. (Malformed --disk/--net syntax is in BadInputTests and
/// the DeviceOptions unit tests.) Fast: the `hello` and `echo` test kernels, no Linux.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct DeviceConfigurationTests {
    /// `hello` and `echo` end through the debug exit port with 0, which vmm reports as (0 << 1) | 1.
    static let helloStatus: Int32 = 1

    private func expectRejected(_ result: VMMProcess.Result, mentioning texts: [String],
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 2, "status \(result.status): \(result.standardError)", sourceLocation: sourceLocation)
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(result.standardError)", sourceLocation: sourceLocation)
        for text in texts {
            #expect(result.standardError.localizedCaseInsensitiveContains(text), "no '\(text)' in: \(result.standardError)", sourceLocation: sourceLocation)
        }
        #expect(!result.standardOutput.contains("hello:"), "the guest ran: \(result.standardOutput)", sourceLocation: sourceLocation)
    }

    private func expectRejected(_ result: HostCommand.Result, mentioning texts: [String],
                                sourceLocation: SourceLocation = #_sourceLocation) {
        expectRejected(VMMProcess.Result(status: result.status, standardOutput: result.standardOutput,
                                         standardError: result.standardError),
                       mentioning: texts, sourceLocation: sourceLocation)
    }

    // MARK: Disks

    @Test func missingDiskImage() throws {
        let path = "/nonexistent/vmm-disk.img"
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--disk", path], timeout: 20)
        expectRejected(result, mentioning: [path, "no such file"])
    }

    @Test func diskImageThatIsADirectory() throws {
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--disk", "/tmp"], timeout: 20)
        expectRejected(result, mentioning: ["/tmp", "is a directory"])
    }

    @Test func emptyDiskImage() throws {
        let image = try TemporaryFile(size: 0)
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--disk", image.path], timeout: 20)
        expectRejected(result, mentioning: [image.path, "empty"])
    }

    @Test func diskImageOfPartialSectors() throws {
        let image = try TemporaryFile(size: 1000)
        let result = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--disk", image.path], timeout: 20)
        expectRejected(result, mentioning: [image.path, "512"])
    }

    /// A writable image is locked by the VM using it: a second VM cannot attach it, not
    /// even read-only; the first VM is unaffected.
    @Test(arguments: [false, true])
    func diskImageInUseByAnotherVM(secondReadOnly: Bool) throws {
        let image = try TemporaryFile(size: 1 << 20)
        let first = VMMProcess(["run", "--kernel", try TestEnvironment.guest("echo"), "--disk", image.path])
        try first.start()
        defer { if first.process.isRunning { first.signal(SIGKILL); _ = first.finish(timeout: 5) } }
        try #require(first.waitForOutput("echo: ready", timeout: 30), "the first VM did not start: \(first.standardOutput)")

        let disk = secondReadOnly ? "\(image.path),readonly" : image.path
        let second = try VMMProcess.run(["run", "--kernel", try TestEnvironment.guest("hello"), "--disk", disk], timeout: 20)
        expectRejected(second, mentioning: [image.path, "in use"])

        first.send("still here\n")
        #expect(first.waitForOutput("echo: still here", timeout: 10), "the first VM stopped working")
        first.send("quit\n")
        let result = first.finish(timeout: 20)
        #expect(result.status == Self.helloStatus, "\(result.standardError)")
    }

    /// Read-only attachments share: two VMs may read one image at the same time.
    @Test func readOnlyDiskImageSharedByTwoVMs() throws {
        let image = try TemporaryFile(size: 1 << 20)
        let first = VMMProcess(["run", "--kernel", try TestEnvironment.guest("echo"), "--disk", "\(image.path),readonly"])
        try first.start()
        defer { if first.process.isRunning { first.signal(SIGKILL); _ = first.finish(timeout: 5) } }
        try #require(first.waitForOutput("echo: ready", timeout: 30), "the first VM did not start: \(first.standardOutput)")
        let second = try VMMProcess.run(
            ["run", "--kernel", try TestEnvironment.guest("hello"), "--disk", "\(image.path),readonly"], timeout: 20)
        #expect(second.status == Self.helloStatus, "\(second.standardError)")
        #expect(second.standardOutput.contains("hello: multiboot ok"))
        first.send("quit\n")
        _ = first.finish(timeout: 20)
    }

    // MARK: Taps (inside a network namespace of the test's own)

    private func namespace() throws -> NetworkNamespace {
        guard NetworkNamespace.available else {
            throw TestSetupError("network namespaces need root and iproute2 (scripts/install-dependencies.sh)")
        }
        return try NetworkNamespace()
    }

    /// An interface of that name exists and is not a tap: a tun (layer 3) device, and the loopback.
    @Test(arguments: ["vmtun0", "lo"])
    func tapNameTakenByAnotherKindOfInterface(name: String) throws {
        let namespace = try namespace()
        defer { namespace.delete() }
        if name != "lo" { try namespace.addTunnel(name) }
        let result = try namespace.run([
            TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("hello"), "--net", "tap=\(name)",
        ], timeout: 20)
        expectRejected(result, mentioning: [name, "not a tap"])
    }

    /// Creating a tap needs CAP_NET_ADMIN: vmm as root without it (dropped from the bounding
    /// set before exec) cannot.
    @Test func tapWithoutNetAdminCapability() throws {
        let namespace = try namespace()
        defer { namespace.delete() }
        let setpriv = try HostCommand.locate("setpriv")
        let result = try namespace.run([
            setpriv, "--bounding-set=-net_admin", "--inh-caps=-net_admin",
            TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("hello"), "--net", "tap=vmtap9",
        ], timeout: 20)
        expectRejected(result, mentioning: ["CAP_NET_ADMIN"])
        let links = try namespace.run(["ip", "link", "show"]).standardOutput
        #expect(!links.contains("vmtap9"), "a tap was left behind: \(links)")
    }

    /// A single-queue tap takes one reader: a second VM on the same tap is refused.
    @Test func tapInUseByAnotherVM() throws {
        let namespace = try namespace()
        defer { namespace.delete() }
        try namespace.addTap("vmtap0")
        let first = try namespace.start([
            TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("echo"), "--net", "tap=vmtap0",
        ])
        defer { first.stop() }
        try #require(first.waitForOutput("echo: ready", timeout: 30), "the first VM did not start: \(first.standardOutput)\(first.standardError)")
        let second = try namespace.run([
            TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("hello"), "--net", "tap=vmtap0",
        ], timeout: 20)
        expectRejected(second, mentioning: ["vmtap0", "busy"])
    }

    /// A tap vmm creates for its run is gone when vmm ends; a persistent one stays.
    @Test func tapCreatedForTheRunIsRemovedAfterwards() throws {
        let namespace = try namespace()
        defer { namespace.delete() }
        try namespace.addTap("vmkeep0")
        let result = try namespace.run([
            TestEnvironment.vmmBinary, "run", "--kernel", try TestEnvironment.guest("hello"),
            "--net", "tap=vmtemp0", "--net", "tap=vmkeep0",
        ], timeout: 20)
        #expect(result.status == Self.helloStatus, "\(result.standardError)")
        #expect(result.standardError.contains("created tap vmtemp0"), "\(result.standardError)")
        #expect(result.standardError.contains("attached to tap vmkeep0"), "\(result.standardError)")
        let links = try namespace.run(["ip", "link", "show"]).standardOutput
        #expect(!links.contains("vmtemp0"), "the tap vmm created is still there: \(links)")
        #expect(links.contains("vmkeep0"), "the persistent tap was removed: \(links)")
    }
}
