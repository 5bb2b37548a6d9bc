import Foundation
import VMMAPI

/// The daemon's record of one VM.
struct ManagedVM: Sendable {
    /// The `vmm` process behind a VM while it has one.
    struct Run: Sendable {
        let process: ProcessHandle
        let startedAt: Date
        let exited = ExitSignal()
        /// A client asked for the process to end, so its exit is a stop, not a crash.
        var endRequested = false
        /// The user and group id of a jailed `vmm`; nil for one not jailed.
        var jailID: UInt32?
    }

    var definition: VMDefinition
    var state: VMState = .stopped
    var run: Run?
    /// The console of the current or last run.
    var console = ConsoleLog()
    var lastExit: String?

    var info: VMInfo {
        VMInfo(
            definition: definition, state: state, pid: run?.process.pid,
            uptime: run.map { Date().timeIntervalSince($0.startedAt) }, lastExit: lastExit)
    }
}
