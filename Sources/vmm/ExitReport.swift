import VMMCore

/// How vmm ended: its exit status and, for a supervisor that was not watching, the exit
/// file's one line of JSON.
struct ExitReport: Sendable {
    enum Reason: String, Sendable {
        case poweroff
        case debugExit = "debug-exit"
        case reset
        case crashed
        case stopped
        case hostFailure = "host-failure"
        case badInput = "bad-input"
        /// The source's VM now runs on the migration's destination.
        case migrated
        /// `vmm receive` got no runnable VM; the guest never ran here.
        case migrationFailed = "migration-failed"
        /// The fence deadline passed: the host lost its cluster lease, so the VM may be
        /// restarted elsewhere and must not run here.
        case fenced
    }

    /// A report as an error, for code that returns a machine or why there is none.
    struct Failure: Error {
        let report: ExitReport
        init(_ report: ExitReport) { self.report = report }
    }

    let reason: Reason
    let status: Int32
    let message: String
    /// For `migrated`: the migration's final figures (status's `migration` object), so a
    /// supervisor that polled only now and then still reports all rounds and bytes.
    let migration: JSONValue?

    init(reason: Reason, status: Int32, message: String, migration: JSONValue? = nil) {
        self.reason = reason
        self.status = status
        self.message = message
        self.migration = migration
    }

    /// The report for a failure before or while building the machine: bad input (status 2)
    /// when the user can fix it, a host failure (status 6) otherwise.
    init(failure error: VMMError) {
        self = error.isUserError
            ? ExitReport(reason: .badInput, status: ExitStatus.badInput, message: error.description)
            : ExitReport(reason: .hostFailure, status: ExitStatus.hostFailure, message: error.description)
    }

    /// The report for a machine exit; a forced stop's status and message come from whoever forced it.
    init(_ exit: MachineExit, forcedStatus: Int32 = ExitStatus.forcedStop, forcedMessage: String = "stopped") {
        let status = ExitStatus.forExit(exit)
        switch exit {
        case .powerOff: self.init(reason: .poweroff, status: status, message: "the guest powered off")
        case .reset: self.init(reason: .reset, status: status, message: "the guest rebooted (--no-reboot)")
        case .debugExit(let value):
            self.init(reason: .debugExit, status: status, message: "the guest wrote \(value) to the debug-exit port")
        case .guestFault(let report): self.init(reason: .crashed, status: status, message: "guest crashed: \(report)")
        case .hostFailure(let report): self.init(reason: .hostFailure, status: status, message: report)
        case .forcedStop: self.init(reason: .stopped, status: forcedStatus, message: forcedMessage)
        }
    }

    /// `{"reason":...,"status":N,"message":...[,"migration":{...}]}`
    var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("reason", .string(reason.rawValue)), ("status", .integer(Int(status))), ("message", .string(message)),
        ]
        if let migration { members.append(("migration", migration)) }
        return .object(members)
    }
}
