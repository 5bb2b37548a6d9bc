/// Where a VM is in its lifecycle.
///
/// `stopped → starting → running ⇄ paused → stopping → stopped`; a `vmm` process that
/// dies unasked leaves its VM `crashed` (from which it can be started again). A VM
/// migrating here is `incoming` until it runs (`running`) or vanishes (the migration failed).
/// In a cluster, an HA VM whose host failed is `pending` while no other host has room for it.
public enum VMState: String, Codable, CaseIterable, Sendable {
    case stopped, starting, running, paused, stopping, crashed, incoming, pending

    /// Whether a `vmm` process exists for the VM in this state.
    public var hasProcess: Bool {
        switch self {
        case .starting, .running, .paused, .stopping, .incoming: return true
        case .stopped, .crashed, .pending: return false
        }
    }
}
