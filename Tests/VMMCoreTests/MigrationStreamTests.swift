#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VMMCore

/// The migration stream's pieces without a VM: the hello, and frames from a hostile peer.
struct MigrationStreamTests {
    private func hello() -> MigrationHello {
        var configuration = MachineConfiguration(kernelPath: "/boot/k", initrdPath: nil)
        configuration.memorySize = 256 << 20
        configuration.disks = [DiskConfiguration(path: "/d.img", readOnly: false)]
        let description = SnapshotDescription(configuration: configuration, memoryOnly: false, diskCopies: [nil], created: 7)
        return MigrationHello(description: description, cpuid: [], diskSizes: [1 << 20], copyStorage: true)
    }

    @Test func helloRoundTrips() throws {
        let decoded = try MigrationHello(decoding: hello().encoded())
        #expect(decoded.description.configuration.kernelPath == "/boot/k")
        #expect(decoded.description.configuration.memorySize == 256 << 20)
        #expect(decoded.diskSizes == [1 << 20] && decoded.copyStorage)
    }

    @Test func damagedHellosAreRefusedWithTheReason() {
        var bytes = hello().encoded()
        bytes[0] = UInt8(ascii: "X")
        #expect(throws: VMMError.self) { try MigrationHello(decoding: bytes) }
        var version = hello().encoded()
        version[8] = 99  // stream version
        do {
            _ = try MigrationHello(decoding: version)
            Issue.record("another stream version was accepted")
        } catch {
            #expect(error.description.contains("same vmm versions"), "\(error)")
        }
        #expect(throws: VMMError.self) { try MigrationHello(decoding: Array(hello().encoded().dropLast(3))) }
        #expect(throws: VMMError.self) { try MigrationHello(decoding: hello().encoded() + [0]) }
    }

    /// A frame announcing more than 4 MiB, or of an unknown kind, is refused from its
    /// header alone; a peer that hangs up mid-frame is an error, not a hang.
    @Test func oversizedUnknownAndTruncatedFramesAreRefused() throws {
        for header: (UInt32, UInt32) in [(4, UInt32(MigrationFrame.maximumPayload + 1)), (77, 0)] {
            let (near, far) = try socketPair()
            var encoder = StateEncoder()
            encoder.append(header.0)
            encoder.append(header.1)
            try write(encoder.bytes, to: far)
            #expect(throws: VMMError.self) { try near.receiveHeader(timeout: 5) }
            close(far)
        }
        let (near, far) = try socketPair()
        try write(MigrationFrame.header(.state, length: 100) + [1, 2, 3], to: far)
        close(far)
        #expect(throws: VMMError.self) { try near.receive(timeout: 5) }
    }

    private func socketPair() throws -> (MigrationChannel, Int32) {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        return (MigrationChannel(fileDescriptor: fds[0], peer: "the test peer"), fds[1])
    }

    private func write(_ bytes: [UInt8], to fd: Int32) throws {
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        try #require(written == bytes.count)
    }
}
