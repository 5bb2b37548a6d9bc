/// One event, as `GET /v1/events` streams it (one JSON object per line): a state change,
/// or (with `event`) a snapshot taken, a restore, a clone or a migration.
public struct VMEvent: Codable, Equatable, Sendable {
    /// What happened besides a state change.
    public enum Kind: String, Codable, Sendable {
        case snapshotCreated = "snapshot-created"
        case restored
        case cloned
        /// A migration away from this host made progress (a round ended).
        case migrationProgress = "migration-progress"
        /// The VM now runs on `peer`; it is gone from this host.
        case migrated
        /// A migration to `peer` failed; the VM keeps running here (`reason` says why).
        case migrationFailed = "migration-failed"
        /// The VM was restarted on this host because its host (`peer`) failed (cluster mode).
        case failedOver = "failed-over"
    }

    /// Seconds since the Unix epoch.
    public var time: Double
    public var vm: String
    /// The VM's state (after the change, for a state change).
    public var state: VMState
    public var previous: VMState?
    /// Why, when it is not obvious (e.g. "vmm exited with status 4").
    public var reason: String?
    /// Absent for a state change.
    public var event: Kind?
    /// The snapshot taken (`snapshot-created`), restored (`restored`) or cloned from
    /// (`cloned`, when the clone starts from one).
    public var snapshot: String?
    /// `cloned`: the VM the clone (`vm`) was made from.
    public var source: String?
    /// Migration events: the other daemon (`HOST:PORT`).
    public var peer: String?
    /// Cluster mode: the host the VM is on (a cluster host streams every host's state
    /// changes, as other hosts publish them in etcd).
    public var host: String?

    public init(
        time: Double, vm: String, state: VMState, previous: VMState? = nil, reason: String? = nil, event: Kind? = nil,
        snapshot: String? = nil, source: String? = nil, peer: String? = nil, host: String? = nil
    ) {
        self.host = host
        self.time = time
        self.vm = vm
        self.state = state
        self.previous = previous
        self.reason = reason
        self.event = event
        self.snapshot = snapshot
        self.source = source
        self.peer = peer
    }
}
