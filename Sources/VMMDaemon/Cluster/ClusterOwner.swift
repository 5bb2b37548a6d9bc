import Foundation

/// The value of `vmm/owners/NAME`, bound to the owner host's lease: the VM runs there,
/// and nowhere else, while the key exists (docs/cluster.md, section 1).
struct ClusterOwner: Codable, Equatable, Sendable {
    var host: String
    /// When the ownership was taken (RFC 3339, UTC).
    var since: String
    /// Why: `started`, `rejoined` (a host that registered again while the VM ran on), or
    /// what a manager writes (`failover from H`).
    var reason: String

    init(host: String, reason: String, since: Date = Date()) {
        self.host = host
        self.since = ClusterTime.format(since)
        self.reason = reason
    }
}

/// Times in etcd values: RFC 3339 in UTC with milliseconds.
enum ClusterTime {
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
