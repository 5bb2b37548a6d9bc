import Foundation
import Glibc
import VMMAPI

/// Jailing each `vmm` (docs/jail.md): its user and group id, its root folder and the paths
/// it is told, which are the ones it sees inside its jail.
extension VMManager {
    /// Where a jailed `vmm` finds its VM's snapshot folder.
    static let jailedSnapshotsFolder = "/snapshots"

    /// The options that jail VM `name`'s next `vmm`, with its id and its folders made ready
    /// for that id: its root (`root:ID`, 0770: it creates its pid and exit files there and
    /// removes its sockets, which stay root's so the daemon reaches them without
    /// CAP_DAC_OVERRIDE) and its snapshot folder (`root:ID`, 1770: it creates a snapshot's
    /// folder there, and cannot rename or remove the finished ones, which are root's).
    /// The id is the lowest of the range that no running VM of this daemon has and that no
    /// other daemon of the host has claimed (`JailIDClaim`); the claim goes to the `vmm`.
    /// Nothing when jailing is off.
    func jailArguments(_ name: String) throws -> (arguments: [String], claim: JailIDClaim?) {
        guard let policy = configuration.jail else { return ([], nil) }
        let used = Set(vms.values.compactMap { $0.run?.jailID })
        var taken: JailIDClaim?
        do throws(JailIDClaimError) {
            try JailIDClaim.prepare(policy.claimsDirectory)
            for id in policy.ids where !used.contains(id) {
                taken = try JailIDClaim.take(id, in: policy.claimsDirectory)
                if taken != nil { break }
            }
        } catch {
            throw APIError.internalError(error.description)
        }
        guard let claim = taken else {
            throw APIError(
                code: .unavailable,
                message: "every id of --vm-uid-range \(policy.ids.lowerBound)-\(policy.ids.upperBound) is taken by a running VM "
                    + "(of this daemon or another on this host): stop a VM or give vmmd a wider range")
        }
        let id = claim.id
        let root = runtimeDirectory(name).root
        let snapshots = "\(configuration.snapshotsDirectory)/\(name)"
        do {
            try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true)
            try Self.own(root, user: 0, group: id, mode: 0o770)
            try Self.own(snapshots, user: 0, group: id, mode: 0o1770)
        } catch {
            throw APIError.internalError("cannot prepare the jail of VM \(name): \(error)")
        }
        let arguments = [
            "--jail", root, "--uid", String(id), "--gid", String(id),
            "--jail-bind", "\(snapshots)=\(Self.jailedSnapshotsFolder)",
        ]
        return (arguments, claim)
    }

    /// `path` as VM `name`'s `vmm` sees it: inside its jail when it has one.
    func pathForVMM(_ name: String, _ path: String) -> String {
        guard vms[name]?.run?.jailID != nil else { return path }
        let root = runtimeDirectory(name).root
        if path.hasPrefix(root + "/") { return String(path.dropFirst(root.count)) }
        let snapshots = "\(configuration.snapshotsDirectory)/\(name)"
        if path.hasPrefix(snapshots + "/") { return Self.jailedSnapshotsFolder + path.dropFirst(snapshots.count) }
        return path
    }

    /// Lets VM `name`'s jailed `vmm` connect to the socket the daemon made at `path`.
    func admitVMM(_ name: String, toSocket path: String) throws {
        guard let id = vms[name]?.run?.jailID else { return }
        guard lchown(path, id, id) == 0 else {
            throw APIError.internalError("cannot hand \(path) to VM \(name)'s jailed vmm: \(Linux.errorMessage)")
        }
    }

    /// The jail id of the `vmm` with command line `arguments` (`--uid ID`), for one a
    /// previous daemon started.
    static func jailID(fromCommandLine arguments: [String]) -> UInt32? {
        guard let flag = arguments.firstIndex(of: "--uid"), flag + 1 < arguments.count else { return nil }
        return UInt32(arguments[flag + 1])
    }

    /// Sets owner and mode of a folder only the daemon creates and names (its parent is the
    /// daemon's), so a path is safe here.
    private static func own(_ path: String, user: uid_t, group: gid_t, mode: mode_t) throws {
        guard lchown(path, user, group) == 0, chmod(path, mode) == 0 else {
            throw FileError("cannot set the owner of \(path): \(Linux.errorMessage)", code: errno)
        }
    }
}
