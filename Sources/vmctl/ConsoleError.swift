import VMMAPI

/// Why vmctl cannot attach to a VM's console.
enum ConsoleError: Error, Equatable, CustomStringConvertible {
    case notRunning(name: String, state: VMState)
    case permissionDenied(path: String)
    case unreachable(name: String, path: String, reason: String)
    case io(String)
    /// vmctl --connect: the console socket is on the other host.
    case remote

    var status: ExitStatus {
        switch self {
        case .notRunning: return .conflict
        case .permissionDenied: return .permissionDenied
        case .unreachable, .io: return .failure
        case .remote: return .usage
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
        case .remote:
            return "cannot attach to the console of a VM on a remote vmmd (--connect): vmctl attaches to the console socket on vmmd's host (run vmctl there; vmctl console NAME --log prints the console log from here)"
        case .io(let what):
            return "console: \(what)"
        }
    }
}
