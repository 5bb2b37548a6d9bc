import Foundation
import VMMAPI

/// The `snapshot DIR` control request.
extension ControlChannel {
    /// The reply to `snapshot DIR`.
    struct SnapshotReply: Decodable, Sendable {
        var bytes: UInt64
        var memoryBytes: UInt64
        var diskBytes: UInt64
        var pausedMilliseconds: Double

        private enum CodingKeys: String, CodingKey {
            case bytes
            case memoryBytes = "memory_bytes"
            case diskBytes = "disk_bytes"
            case pausedMilliseconds = "paused_ms"
        }
    }

    private struct Reply: Decodable {
        var error: APIError.Detail?
    }

    /// A snapshot writes the guest's memory and copies disks: for a big guest on a slow
    /// disk that takes minutes, not the 5 s a live `vmm` needs for anything else.
    static let snapshotTimeout = 600.0

    /// Has the `vmm` write a snapshot into `folder` (absolute, not existing, its parent
    /// existing). A refusal becomes an `APIError`: `insufficient_storage` when the disk
    /// filled up, `conflict` when the VM is between states, else `internal_error`.
    func snapshot(to folder: String, memoryOnly: Bool) async throws -> SnapshotReply {
        let channel = ControlChannel(socketPath: socketPath, timeout: Self.snapshotTimeout)
        let text = try await channel.request("snapshot \(folder)\(memoryOnly ? " memory-only" : "")")
        let data = Data(text.utf8)
        if let error = try JSONDecoder().decode(Reply.self, from: data).error {
            let code: APIError.Code
            switch error.code {
            case "conflict": code = .conflict
            case "failed" where Self.isOutOfSpace(error.message): code = .insufficientStorage
            default: code = .internalError
            }
            throw APIError(code: code, message: error.message)
        }
        return try JSONDecoder().decode(SnapshotReply.self, from: data)
    }

    /// Whether vmm's message is the text of ENOSPC or EDQUOT (it reports errno's text).
    static func isOutOfSpace(_ message: String) -> Bool {
        let lowered = message.lowercased()
        return ["no space left on device", "disk quota exceeded", "enospc", "edquot"].contains { lowered.contains($0) }
    }
}
