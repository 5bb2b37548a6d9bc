import Foundation
import VMMAPI

/// A `vmm`'s control socket: one request line, one JSON reply line per connection.
struct ControlChannel: Sendable {
    /// The reply to `status`.
    struct Status: Decodable, Sendable {
        struct Exits: Decodable, Sendable {
            var io: UInt64
            var mmio: UInt64
            var other: UInt64
        }

        /// The balloon object of `status` (sizes in bytes; `stats` the guest's last report).
        struct Balloon: Decodable, Sendable {
            var target: UInt64
            var actual: UInt64
            var inflated: UInt64
            var reported: UInt64
            var stats: [String: UInt64]?
        }

        /// A rate limiter's counters in `disks` and `networks` (limits themselves are in the definition).
        struct Limiter: Decodable, Sendable {
            var waits: UInt64
            var throttledMilliseconds: UInt64

            private enum CodingKeys: String, CodingKey {
                case waits
                case throttledMilliseconds = "throttled_ms"
            }
        }

        struct Network: Decodable, Sendable {
            var rx: Limiter
            var tx: Limiter
        }

        var state: String
        var pid: Int32
        var vcpus: Int
        var memory: UInt64
        var uptimeMilliseconds: UInt64
        var exits: Exits
        var boots: Int
        var balloon: Balloon?
        /// Per disk and per NIC, in order (absent from a `vmm` older than rate limits).
        var disks: [Limiter]?
        var networks: [Network]?

        private enum CodingKeys: String, CodingKey {
            case state, pid, vcpus, memory, exits, boots, balloon, disks, networks
            case uptimeMilliseconds = "uptime_ms"
        }
    }

    private struct Reply: Decodable {
        var ok: Bool?
        var error: APIError.Detail?
    }

    let socketPath: String
    /// A live `vmm` answers at once; a stuck one must not hang a request forever.
    var timeout = 5.0

    func status() async throws -> Status {
        try JSONDecoder().decode(Status.self, from: Data(try await request("status").utf8))
    }

    /// The VM's KVM counters (`stats`); a refusal from the `vmm` comes back as an `APIError`.
    func statistics() async throws -> VMStatistics {
        let answer = try await accepted("stats")
        return try JSONDecoder().decode(VMStatistics.self, from: answer)
    }

    /// Sends `command` ("pause", "resume", "shutdown", "stop", "reboot"); a refusal from
    /// the `vmm` comes back as an `APIError` with its code.
    func send(_ command: String) async throws {
        _ = try await accepted(command)
    }

    /// The answer to `line`, unless the `vmm` refused it: then an `APIError` with its code.
    private func accepted(_ line: String) async throws -> Data {
        let answer = Data(try await request(line).utf8)
        if let error = try JSONDecoder().decode(Reply.self, from: answer).error {
            throw APIError(code: APIError.Code(rawValue: error.code) ?? .internalError, message: error.message)
        }
        return answer
    }

    func request(_ line: String) async throws -> String {
        let path = socketPath
        let timeout = timeout
        return try await BlockingThread.run("vmm-control") {
            try UnixSocket(connectingTo: path, timeout: timeout).request(line)
        }
    }
}
