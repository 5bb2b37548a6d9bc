import Glibc

/// A Unix stream socket connection (for a `vmm`'s control and console sockets): blocking,
/// used only on dedicated threads, or made non-blocking for the `DescriptorMonitor`.
final class UnixSocket: Sendable {
    let fd: Int32

    /// Connects to `path`; `timeout` bounds every later send and receive.
    init(connectingTo path: String, timeout: Double? = nil) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw FileError("socket: \(Linux.errorMessage)") }
        do {
            if let timeout { try Self.setTimeout(timeout, on: descriptor) }
            var address = try UnixSocket.address(path)
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard result == 0 else { throw FileError("cannot connect to \(path): \(Linux.errorMessage)") }
        } catch {
            close(descriptor)
            throw error
        }
        // Only now: an initializer that throws once every stored property is set still runs
        // `deinit`, which would close the descriptor a second time, and by then its number
        // may belong to another thread's socket (vmmd crashed in NIO with EBADF so).
        fd = descriptor
    }

    deinit { close(fd) }

    /// The `sockaddr_un` for `path` (a leading "@" names the abstract namespace).
    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw FileError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }

    private static func setTimeout(_ seconds: Double, on fd: Int32) throws {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            guard setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw FileError("setsockopt: \(Linux.errorMessage)")
            }
        }
    }

    /// Sends all of `bytes`.
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                throw FileError("send: \(Linux.errorMessage)")
            }
            offset += sent
        }
    }

    /// Reads what is available (blocking until something is); empty at end of stream.
    func receive(max: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, max, 0) }
            if count >= 0 { return Array(buffer[0..<count]) }
            if errno == EINTR { continue }
            throw FileError("receive: \(Linux.errorMessage)")
        }
    }

    /// Makes receiving non-blocking (see `receiveIfAvailable`).
    func setNonBlocking() throws {
        guard fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0 else {
            throw FileError("fcntl(O_NONBLOCK): \(Linux.errorMessage)")
        }
    }

    /// For a non-blocking socket: what is there now, nil when nothing is, empty at end of stream.
    func receiveIfAvailable(max: Int = 65536) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, max, 0) }
            if count >= 0 { return Array(buffer[0..<count]) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw FileError("receive: \(Linux.errorMessage)")
        }
    }

    /// Sends one line and returns the one-line reply (without its newline).
    func request(_ line: String) throws -> String {
        try send(Array((line + "\n").utf8))
        var reply: [UInt8] = []
        while !reply.contains(UInt8(ascii: "\n")) {
            let chunk = try receive(max: 4096)
            if chunk.isEmpty { break }
            reply += chunk
        }
        guard let end = reply.firstIndex(of: UInt8(ascii: "\n")) else {
            throw FileError("connection closed before a reply to \(line)")
        }
        return String(decoding: reply[..<end], as: UTF8.self)
    }
}
