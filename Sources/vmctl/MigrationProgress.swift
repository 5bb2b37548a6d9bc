import Foundation
import Sizes
import VMMAPI

/// While a VM migrates, shows on a terminal how far it is: the daemon reports the source
/// `vmm`'s progress in the VM's `operation`, polled twice a second.
struct MigrationProgress {
    let global: GlobalOptions
    let vm: String

    func show() async {
        guard let client = try? global.client() else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            guard !Task.isCancelled, let info = try? await client.get(Routes.vm(vm), as: VMInfo.self),
                  let migration = info.operation?.migration
            else { continue }
            StandardError.overwrite("migrating \(vm): \(Self.line(migration))")
        }
    }

    /// `to 10.0.0.2:7443: precopy, round 3, 120M sent, 2.0M left, ~12 ms downtime expected`.
    static func line(_ migration: VMMigrationProgress) -> String {
        var parts = ["to \(migration.to): \(migration.phase)"]
        if migration.rounds > 0 { parts.append("round \(migration.rounds)") }
        parts.append("\(bytes(migration.bytesSent)) sent")
        parts.append("\(bytes(migration.remainingBytes)) left")
        if migration.expectedDowntimeMs > 0 {
            parts.append("~\(SnapshotListCommand.milliseconds(migration.expectedDowntimeMs)) downtime expected")
        }
        if migration.throttlePercent > 0 { parts.append("vCPUs throttled \(migration.throttlePercent) %") }
        return parts.joined(separator: ", ")
    }

    static func bytes(_ count: UInt64) -> String { ByteSize.format(count) }
}
