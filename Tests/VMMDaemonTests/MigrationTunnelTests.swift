import Foundation
import Glibc
import NIOCore
import Testing
@testable import VMMDaemon

/// The daemons' migration tunnel without TLS or `vmm`: a stand-in source writes a stream
/// into the source's tunnel socket, the destination's listener carries it to a stand-in
/// `vmm receive` socket named by the header line, and the reply comes back.
@Suite(.timeLimit(.minutes(1)))
struct MigrationTunnelTests {
    private static let plain = TunnelSecurity(addServer: { _ in }, addClient: { _, _ in })

    @Test func aStreamCrossesBothWaysIntactAndEndsOnBothSides() async throws {
        let folder = try TemporaryFolder()
        let tunnels = IncomingTunnels()
        let accepted = AcceptedIDs()
        let listener = try await MigrationListener.start(
            host: "127.0.0.1", port: 0, security: Self.plain, tunnels: tunnels, logger: .init(label: "test")
        ) { accepted.add($0) }
        defer { listener.close(promise: nil) }
        let port = try #require(listener.localAddress?.port)

        let receiverPath = "\(folder.path)/incoming.sock"
        let receiver = try UnixListener(path: receiverPath)
        tunnels.expect("m-1", socketPath: receiverPath)
        let tunnel = try await OutgoingTunnel.open(
            socketPath: "\(folder.path)/migration.sock", host: "127.0.0.1", port: port, id: "m-1", security: Self.plain
        ) { Issue.record("tunnel failed: \($0)") }
        defer { tunnel.close() }

        // 24 MiB: far more than any socket buffer, so backpressure is exercised.
        let stream = (0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        let received = Task { try await onOwnThread { () throws -> [UInt8] in
            let connection = try receiver.accept()
            var bytes: [UInt8] = []
            while bytes.count < stream.count {
                let chunk = try connection.receive(max: 1 << 20)
                if chunk.isEmpty { break }
                bytes += chunk
            }
            try connection.send(Array("resumed".utf8))
            return bytes
        } }
        let reply = try await onOwnThread { () throws -> [UInt8] in
            let source = try UnixSocket(connectingTo: "\(folder.path)/migration.sock", timeout: 30)
            try source.send(stream)
            var reply: [UInt8] = []
            while true {
                let chunk = try source.receive()
                if chunk.isEmpty { break }
                reply += chunk
            }
            return reply
        }
        #expect(try await received.value == stream)
        #expect(String(decoding: reply, as: UTF8.self) == "resumed")
        #expect(accepted.ids == ["m-1"])
        // An id is good for one stream.
        #expect(tunnels.claim("m-1") == nil)
    }

    @Test func anUnknownIdOrNoHeaderLineIsClosed() async throws {
        let tunnels = IncomingTunnels()
        let listener = try await MigrationListener.start(
            host: "127.0.0.1", port: 0, security: Self.plain, tunnels: tunnels, logger: .init(label: "test")
        ) { _ in Issue.record("nothing may be accepted") }
        defer { listener.close(promise: nil) }
        let port = try #require(listener.localAddress?.port)
        for first in ["VMM-MIGRATION nobody\n", String(repeating: "x", count: 4096), "GET / HTTP/1.1\r\n\r\n"] {
            let closed = try await onOwnThread { try TCPProbe.sendAndSeeClosed(first, port: port) }
            #expect(closed, "\(first.prefix(20))")
        }
    }
}

/// Runs blocking `work` on a thread of its own. On Swift concurrency's pool (two threads
/// on a 2-core host, shared with every other running test) two blocking tasks could wait
/// for each other's data with no thread left to run the one that sends it.
private func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// The ids a listener reported.
private final class AcceptedIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String] = []
    func add(_ id: String) { lock.withLock { values.append(id) } }
    var ids: [String] { lock.withLock { values } }
}

private struct TemporaryFolder {
    let path: String
    init() throws {
        path = "/tmp/vmm-tunnel-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}

/// A blocking listening Unix socket standing in for `vmm receive`.
private final class UnixListener: @unchecked Sendable {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = try UnixSocket.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { throw HarnessError("cannot listen on \(path): errno \(errno)") }
    }

    deinit { close(fd) }

    func accept() throws -> AcceptedSocket {
        let connection = Glibc.accept(fd, nil, nil)
        guard connection >= 0 else { throw HarnessError("accept failed: errno \(errno)") }
        return AcceptedSocket(fd: connection)
    }
}

private final class AcceptedSocket {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    func receive(max: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        let count = read(fd, &buffer, max)
        guard count >= 0 else { throw HarnessError("read failed: errno \(errno)") }
        return Array(buffer.prefix(count))
    }

    func send(_ bytes: [UInt8]) throws {
        guard write(fd, bytes, bytes.count) == bytes.count else { throw HarnessError("write failed: errno \(errno)") }
    }
}

/// A TCP client that sends a first line and checks the server closes the connection.
private enum TCPProbe {
    static func sendAndSeeClosed(_ text: String, port: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("connect failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = text.withCString { write(fd, $0, strlen($0)) }
        var byte: UInt8 = 0
        // 0: closed by the server; -1 with ECONNRESET also counts; a timeout does not.
        let count = read(fd, &byte, 1)
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }
}
