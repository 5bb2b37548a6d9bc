import VMMAPI

/// Why vmctl cannot attach to a VM's console, or why an attachment ended badly.
enum ConsoleError: Error, Equatable, CustomStringConvertible {
    case notRunning(name: String, state: VMState)
    case io(String)
    /// The console closed and the VM did not simply stop (it crashed, left, or the
    /// connection was lost); the message says which.
    case ended(String)

    var status: ExitStatus {
        switch self {
        case .notRunning: return .conflict
        case .io, .ended: return .failure
        }
    }

    var description: String {
        switch self {
        case .notRunning(let name, let state):
            return "\(name) is \(state.rawValue), so it has no console (vmctl start \(name) --console; vmctl console \(name) --log prints the last run's output)"
        case .io(let what):
            return "console: \(what)"
        case .ended(let message):
            return message
        }
    }
}
