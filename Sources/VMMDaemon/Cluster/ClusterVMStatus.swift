import VMMAPI

/// The value of `vmm/status/NAME`: the VM's state as the host that has it last published
/// it (no lease: it outlives that host, so readers check `vmm/owners/NAME` too).
struct ClusterVMStatus: Codable, Equatable, Sendable {
    /// The host that published it.
    var host: String
    var state: VMState
    /// Why it is in this state (the transition's reason, or a manager's).
    var reason: String?
    /// When (RFC 3339, UTC).
    var at: String
}
