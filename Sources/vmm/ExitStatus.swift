import VMMCore

/// vmm's process exit statuses (documented in `vmm --help`).
enum ExitStatus {
    static let success: Int32 = 0
    static let badInput: Int32 = 2
    /// `vmm receive`: the migration stream ended, failed or was aborted before `go`.
    static let migrationFailed: Int32 = 3
    static let guestCrashed: Int32 = 4
    static let hostFailure: Int32 = 6
    /// The fence deadline passed (`fence` control request).
    static let fenced: Int32 = 8
    static let forcedStop: Int32 = 143

    static func forExit(_ exit: MachineExit) -> Int32 {
        switch exit {
        case .powerOff, .reset: return success
        case .debugExit(let value): return Int32(((value << 1) | 1) & 0xff)
        case .guestFault: return guestCrashed
        case .forcedStop: return forcedStop
        case .hostFailure: return hostFailure
        }
    }
}
