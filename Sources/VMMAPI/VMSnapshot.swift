/// A snapshot of a VM as the API reports it (`POST`/`GET /v1/vms/{name}/snapshots...`):
/// the daemon's record of a folder `vmm` wrote under `<state-dir>/snapshots/VM/NAME/`.
public struct VMSnapshot: Codable, Equatable, Sendable {
    /// Same rules as VM names; unique per VM.
    public var name: String
    /// The VM it was taken of.
    public var vm: String
    /// When it was taken, ISO 8601 in UTC (e.g. `2025-01-31T12:00:00Z`).
    public var created: String
    /// Guest memory and device state only: no copies of the writable disks; restoring it
    /// uses the disks as they are then.
    public var memoryOnly: Bool
    /// Bytes on disk (allocated: a sparse memory file counts what it holds).
    public var bytes: UInt64
    /// Bytes of guest memory written (populated pages only).
    public var memoryBytes: UInt64
    /// Bytes of the disk copies (0 with `memoryOnly`).
    public var diskBytes: UInt64
    /// How long the guest's vCPUs were paused to take it, in milliseconds.
    public var pausedMs: Double
    /// The VM's state when it was taken (`running` or `paused`); a restore resumes it running.
    public var state: VMState
    /// The snapshot's folder on the daemon's host (what `vmm restore` takes).
    public var path: String

    public init(
        name: String, vm: String, created: String, memoryOnly: Bool, bytes: UInt64, memoryBytes: UInt64,
        diskBytes: UInt64, pausedMs: Double, state: VMState, path: String
    ) {
        self.name = name
        self.vm = vm
        self.created = created
        self.memoryOnly = memoryOnly
        self.bytes = bytes
        self.memoryBytes = memoryBytes
        self.diskBytes = diskBytes
        self.pausedMs = pausedMs
        self.state = state
        self.path = path
    }
}

/// The body of `GET /v1/vms/{name}/snapshots`, oldest first.
public struct VMSnapshotList: Codable, Equatable, Sendable {
    public var snapshots: [VMSnapshot]
    public init(snapshots: [VMSnapshot]) { self.snapshots = snapshots }
}
