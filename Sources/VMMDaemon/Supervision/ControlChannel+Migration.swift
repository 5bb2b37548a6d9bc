import Foundation
import VMMAPI

/// The migration control requests: `migrate`, `migrate-cancel`, and `status`'s
/// `migration` object (docs/migration.md, section 1).
extension ControlChannel {
    /// `status` reduced to what a migration needs; it decodes both a running `vmm`'s
    /// answer and `vmm receive`'s (`{"state":"incoming","migration":{...}}`).
    struct MigrationStatus: Decodable, Sendable {
        struct Migration: Decodable, Sendable {
            var phase: String
            var rounds: Int?
            var bytesSent: UInt64?
            var bytesReceived: UInt64?
            var remainingBytes: UInt64?
            var bandwidthMbps: Double?
            var expectedDowntimeMs: Double?
            var throttlePercent: Int?
            var downtimeMs: Double?
            var message: String?

            private enum CodingKeys: String, CodingKey {
                case phase, rounds, message
                case bytesSent = "bytes_sent"
                case bytesReceived = "bytes_received"
                case remainingBytes = "remaining_bytes"
                case bandwidthMbps = "bandwidth_mbps"
                case expectedDowntimeMs = "expected_downtime_ms"
                case throttlePercent = "throttle_percent"
                case downtimeMs = "downtime_ms"
            }

            /// As the API shows it, for a migration to `peer`.
            func progress(to peer: String) -> VMMigrationProgress {
                VMMigrationProgress(
                    to: peer, phase: phase, rounds: rounds ?? 0, bytesSent: bytesSent ?? 0,
                    remainingBytes: remainingBytes ?? 0, bandwidthMbps: bandwidthMbps ?? 0,
                    expectedDowntimeMs: expectedDowntimeMs ?? 0, throttlePercent: throttlePercent ?? 0)
            }
        }

        var state: String
        var migration: Migration?
    }

    func migrationStatus() async throws -> MigrationStatus {
        try JSONDecoder().decode(MigrationStatus.self, from: Data(try await request("status").utf8))
    }

    /// Starts sending the VM to the Unix socket `path` (the daemon's tunnel); answers at once.
    func migrate(to path: String, maxDowntimeMs: Int?, bandwidthMbps: Int?, copyStorage: Bool) async throws {
        var line = "migrate \(path)"
        if let maxDowntimeMs { line += " max-downtime=\(maxDowntimeMs)" }
        if let bandwidthMbps, bandwidthMbps > 0 { line += " bandwidth=\(bandwidthMbps)" }
        if copyStorage { line += " copy-storage" }
        try await send(line)
    }
}
