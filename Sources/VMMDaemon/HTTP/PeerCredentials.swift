import Glibc
import NIOCore

/// The credentials the kernel recorded for the peer of a Unix socket when it connected.
struct PeerCredentials: Sendable {
    /// SO_PEERCRED.
    var pid: pid_t
    var uid: uid_t
    var gid: gid_t
    /// SO_PEERGROUPS: the supplementary groups; nil when they could not be read (more
    /// than `groupCapacity`).
    var groups: [gid_t]?

    /// Whether the peer has `group` as its primary or a supplementary group. Read from the
    /// socket, not from /proc/PID (which ProtectProc=invisible hides and a reused pid
    /// could fool); /proc only when the socket could not say.
    func isMember(of group: gid_t) -> Bool {
        if gid == group { return true }
        // Unused slots of the group list read as 0, so gid 0 is only told by /proc.
        if let groups, group != 0 { return groups.contains(group) }
        return GroupDirectory.process(pid, isIn: group)
    }

    static let groupCapacity = 256

    /// Reads both options from an accepted Unix socket channel.
    static func read(from provider: any SocketOptionProvider) -> EventLoopFuture<PeerCredentials?> {
        // Glibc hides `struct ucred` behind _GNU_SOURCE; it is three 32-bit fields.
        let credentials: EventLoopFuture<(Int32, UInt32, UInt32)> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        // The kernel fills as many slots as the peer has groups (ERANGE past the
        // capacity); NIO zeroes the rest.
        let groups: EventLoopFuture<[gid_t]?> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(Self.peerGroupsOption)
        ).map { (list: InlineArray<256, gid_t>) in
            Optional((0..<list.count).map { list[$0] }.filter { $0 != 0 })
        }.recover { _ in nil }
        return credentials.and(groups).map { credentials, groups in
            PeerCredentials(pid: credentials.0, uid: credentials.1, gid: credentials.2, groups: groups)
        }.recover { _ in nil }
    }

    /// SO_PEERGROUPS (Linux 4.13), which Glibc's module does not export.
    private static let peerGroupsOption: Int32 = 59
}
