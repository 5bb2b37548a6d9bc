/// vmctl's exit statuses, as `vmctl --help` documents them.
enum ExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    case failure = 1
    case usage = 2
    case daemonNotRunning = 3
    case permissionDenied = 4
    case noSuchVM = 5
    case conflict = 6
    case invalidDefinition = 7
}
