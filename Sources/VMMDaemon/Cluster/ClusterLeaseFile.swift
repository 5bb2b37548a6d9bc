import Foundation

/// The lease this host's record is bound to, kept in the state folder (`cluster-lease`) so
/// that a restarted vmmd renews the same lease instead of waiting for it to expire: its HA
/// VMs then keep running, their owner keys intact (docs/cluster.md, section 4).
struct ClusterLeaseFile {
    struct Saved: Codable, Equatable {
        /// The host name the lease was granted for: a daemon started under another
        /// `--host-name` on the same state folder does not take it.
        var host: String
        var lease: Int64
    }

    let path: String

    init(stateDirectory: String) {
        path = "\(stateDirectory)/cluster-lease"
    }

    /// The saved lease, or nil when there is none or it cannot be read (then a new one is
    /// granted: the safe way).
    func read() -> Saved? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(Saved.self, from: data)
    }

    func save(_ saved: Saved) throws {
        try AtomicFile.write(try JSONEncoder().encode(saved), to: path)
    }

    func remove() {
        unlink(path)
    }
}
