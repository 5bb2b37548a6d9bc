import Foundation
import Glibc

/// A connection to the daemon's Unix socket that sends exactly the bytes a test gives it,
/// as slowly as it likes: a hostile client. Non-blocking; closed on deinit.
final class RawAPIConnection {
    private(set) var fd: Int32
    /// Everything read so far.
    private(set) var received: [UInt8] = []
    /// Whether the daemon closed its end.
    private(set) var closedByPeer = false

    /// A connected stream socket made elsewhere (e.g. `HTTPClient.upgrade`'s), made non-blocking.
    init(descriptor: Int32) {
        fd = descriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    init(_ path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let error = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("connect \(path): \(error)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(fd)
    }

    /// Sends `text` (false: the daemon had closed the connection).
    @discardableResult
    func send(_ text: String) -> Bool {
        send(Array(text.utf8))
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Reads what has arrived, without waiting.
    func poll() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !closedByPeer {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                closedByPeer = true
            } else {
                return
            }
        }
    }

    var text: String { String(decoding: received, as: UTF8.self) }

    /// The status code of the first response received, if one began.
    var status: Int? {
        guard text.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }
}
