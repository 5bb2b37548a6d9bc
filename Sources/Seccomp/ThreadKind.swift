/// The kinds of threads vmm runs; each gets its own seccomp filter (see docs/seccomp.md).
public enum ThreadKind: UInt16, CaseIterable, Sendable {
    /// Builds the machine (again on each guest reboot) and waits for it to end.
    case main
    /// One per vCPU: KVM_RUN and the exits' device emulation.
    case vcpu
    /// A virtio device's queue worker (`DeviceWorker`).
    case deviceWorker
    /// A virtio-blk disk's I/O threads.
    case blockIO
    /// Serves the control socket (snapshots are written and migrations start here) and the
    /// console socket.
    case control
    /// Reads the console from standard input.
    case consoleInput
    /// Waits for SIGTERM, SIGINT and SIGHUP.
    case signals
    /// Sends a live migration's stream.
    case migrationSender
    /// Holds the vCPUs out of the guest during a converging migration.
    case throttle
    /// Announces a migrated VM's MAC addresses on its taps.
    case announcer

    /// The kind's name in reports and docs; static, so the SIGSYS handler can use it.
    public var label: StaticString {
        switch self {
        case .main: "main"
        case .vcpu: "vcpu"
        case .deviceWorker: "device-worker"
        case .blockIO: "block-io"
        case .control: "control"
        case .consoleInput: "console-input"
        case .signals: "signals"
        case .migrationSender: "migration-sender"
        case .throttle: "throttle"
        case .announcer: "announcer"
        }
    }

    /// The kinds this kind starts threads of: they inherit its filter, so it must allow
    /// everything they need.
    var children: [ThreadKind] {
        switch self {
        case .main: [.vcpu, .control, .consoleInput, .signals, .announcer]
        case .vcpu: [.deviceWorker, .blockIO]
        // A snapshot or migration quiesces the virtio devices and restarts their workers.
        case .control: [.migrationSender, .deviceWorker, .blockIO]
        case .migrationSender: [.throttle, .deviceWorker, .blockIO]
        case .deviceWorker, .blockIO, .consoleInput, .signals, .throttle, .announcer: []
        }
    }
}
