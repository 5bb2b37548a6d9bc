import Foundation

/// How vmmd jails each `vmm` it starts (docs/jail.md): under a user and group of its own,
/// the lowest id of `ids` that no other running VM holds (dynamic users, as libvirt's).
public struct JailPolicy: Sendable, Equatable {
    /// The default: 65536 ids above the first range /etc/subuid usually hands out.
    public static let defaultIDs: ClosedRange<UInt32> = 100_000...165_535

    /// Where the daemons of a host claim ids (`JailIDClaim`): one folder for all of them.
    public static let defaultClaimsDirectory = "/run/vmm/jail-ids"

    public let ids: ClosedRange<UInt32>
    public var claimsDirectory: String

    public init(ids: ClosedRange<UInt32> = Self.defaultIDs, claimsDirectory: String = Self.defaultClaimsDirectory) {
        self.ids = ids
        self.claimsDirectory = claimsDirectory
    }

    /// `FIRST-LAST`, both above 0 and below 4294967295; nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let first = UInt32(parts[0]), let last = UInt32(parts[1]), first > 0, first <= last,
              last < UInt32.max
        else { return nil }
        ids = first...last
        claimsDirectory = Self.defaultClaimsDirectory
    }
}

extension JailPolicy {
    /// What jailing takes, in the daemon and in the `vmm` it spawns (which inherits its
    /// bounding set), by capability number: CAP_CHOWN 0 (the daemon hands each jail its
    /// folders and migration socket and takes snapshots back), CAP_KILL 5 (signals to the
    /// VMs' users), CAP_SETGID 6, CAP_SETUID 7, CAP_SETPCAP 8 (emptying the bounding set),
    /// CAP_SYS_ADMIN 21 (namespaces, mounts, pivot_root). Not CAP_DAC_OVERRIDE: what the
    /// daemon reaches in a jail is root's (sockets, folders) or readable by all (pid and
    /// exit files), and a snapshot is taken back before it is read (`FolderOwnership`).
    static let neededCapabilities: [(number: Int, name: String)] = [
        (0, "CAP_CHOWN"), (5, "CAP_KILL"), (6, "CAP_SETGID"), (7, "CAP_SETUID"), (8, "CAP_SETPCAP"), (21, "CAP_SYS_ADMIN"),
    ]

    /// The capabilities jailing needs that this process lacks (its `CapEff`), e.g. under a
    /// unit whose bounding set holds CAP_NET_ADMIN alone.
    public static func missingCapabilities(statusText: String? = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) -> [String] {
        let line = statusText?.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        guard let effective = line.flatMap({ UInt64($0.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) })
        else { return neededCapabilities.map(\.name) }
        return neededCapabilities.filter { effective & (1 << UInt64($0.number)) == 0 }.map(\.name)
    }
}
