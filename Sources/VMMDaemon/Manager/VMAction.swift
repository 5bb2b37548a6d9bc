import VMMAPI

/// What a client can ask of a VM, and in which states it may.
enum VMAction: String, Sendable {
    case start, stop, pause, resume, reboot, kill, edit, delete, snapshot, restore, migrate

    /// The states from which this action is legal; anything else is a 409.
    var legalStates: Set<VMState> {
        switch self {
        // A pending VM (cluster mode) waits for the manager to restart it; starting it
        // by hand is the same restart.
        case .start, .delete: return [.stopped, .crashed, .pending]
        case .edit: return [.stopped, .crashed]
        case .stop: return [.running, .paused]
        case .pause, .reboot: return [.running]
        case .resume: return [.paused]
        case .kill: return [.starting, .running, .paused, .stopping]
        case .snapshot: return [.running, .paused]
        // vmm migrates a running guest only (its pre-copy needs the guest to run on).
        case .migrate: return [.running]
        // A VM with a process is stopped first.
        case .restore: return [.stopped, .crashed, .running, .paused]
        }
    }

    /// Throws a 409 naming the current state unless the action is legal in it.
    func check(_ state: VMState, vm name: String) throws {
        guard legalStates.contains(state) else { throw APIError.illegal(rawValue, name, in: state) }
    }
}
