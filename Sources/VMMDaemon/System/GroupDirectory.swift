import Foundation
import Glibc

/// Group facts for access control.
enum GroupDirectory {
    /// The gid of group `name`, nil if there is no such group.
    static func gid(of name: String) -> gid_t? {
        guard let entry = getgrnam(name) else { return nil }
        return entry.pointee.gr_gid
    }

    /// Whether process `pid` has `gid` among its groups (primary or supplementary), as its
    /// `/proc/PID/status` says right now.
    static func process(_ pid: pid_t, isIn gid: gid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        for line in status.split(separator: "\n") where line.hasPrefix("Groups:") || line.hasPrefix("Gid:") {
            let ids = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().compactMap { gid_t($0) }
            if ids.contains(gid) { return true }
        }
        return false
    }
}
