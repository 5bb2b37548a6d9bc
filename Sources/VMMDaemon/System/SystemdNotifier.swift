import Foundation
import Glibc

/// Tells systemd (a `Type=notify` unit) that the daemon is ready: one datagram to
/// `$NOTIFY_SOCKET`, no libsystemd.
enum SystemdNotifier {
    /// Sends `state` (e.g. "READY=1") if the service manager asked for notifications.
    /// Returns whether a datagram went out.
    @discardableResult
    static func notify(_ state: String) -> Bool {
        guard let path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty,
              var address = try? UnixSocket.address(path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        // An abstract address is measured by its length, not by a terminating zero.
        let length = MemoryLayout<sa_family_t>.size + path.utf8.count + (path.hasPrefix("@") ? 0 : 1)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
            }
        }
        return sent == bytes.count
    }
}
