import ClusterTestSupport
import Foundation
import Glibc
import VMMAPI

/// Attachments to a VM's console through the daemon's API: after the 101 the connection
/// carries the console's bytes, read without blocking (the tests share two threads with
/// the daemon's tests).
extension RawAPIConnection {
    /// Attaches through VMMAPI's client, as vmctl does.
    static func attach(_ client: HTTPClient, _ vm: String) async throws -> RawAPIConnection {
        RawAPIConnection(descriptor: try await client.upgrade("/v1/vms/\(vm)/console/attach", to: "vmm-console"))
    }

    /// Attaches by writing the request by hand on the daemon's Unix socket, as a script
    /// would; returns the connection (the response head at the start of what it received).
    static func attachByHand(socket path: String, _ vm: String) async throws -> RawAPIConnection {
        let connection = try RawAPIConnection(path)
        connection.send("GET /v1/vms/\(vm)/console/attach HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: vmm-console\r\n\r\n")
        guard try await connection.waitFor("\r\n\r\n", seconds: 10) else { throw HarnessError("no response head: \(connection.text)") }
        return connection
    }

    /// The response head of an attachment made by hand.
    var responseHead: String { text.components(separatedBy: "\r\n\r\n").first ?? "" }

    /// Waits until `text` has arrived; false if it did not within `seconds`.
    func waitFor(_ expected: String, seconds: Double) async throws -> Bool {
        try await eventually(seconds: seconds) {
            poll()
            return text.contains(expected)
        }
    }

    /// Waits until the daemon closed the connection; false if it did not within `seconds`.
    func waitForEnd(seconds: Double) async throws -> Bool {
        try await eventually(seconds: seconds) {
            poll()
            return closedByPeer
        }
    }

    /// Closes with a reset (SO_LINGER 0), as a client that dies does.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }
}
