import VMMAPI

/// Why vmctl cannot attach to a VM's console.
enum ConsoleError: Error, Equatable, CustomStringConvertible {
    case notRunning(name: String, state: VMState)
    case permissionDenied(path: String)
    case unreachable(name: String, path: String, reason: String)
    case io(String)

    var status: ExitStatus {
        switch self {
        case .notRunning: return .conflict
        case .permissionDenied: return .permissionDenied
        case .unreachable, .io: return .failure
        }
    }

    var description: String {
        switch self {
        case .notRunning(let name, let state):
            return "\(name) is \(state.rawValue), so it has no console (vmctl start \(name) --console; vmctl console \(name) --log prints the last run's output)"
        case .permissionDenied(let path):
            return "cannot attach to the console at \(path): permission denied (run as root, or join the kvm group)"
        case .unreachable(let name, let path, let reason):
            return "cannot attach to \(name)'s console at \(path): \(reason) (vmctl info \(name) shows its state; another runtime folder: --runtime-dir or VMM_RUNTIME_DIR)"
        case .io(let what):
            return "console: \(what)"
        }
    }
}
