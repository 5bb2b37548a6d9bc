import Synchronization

/// Why a virtual machine stopped running.
public enum MachineExit: Equatable, Sendable {
    /// The guest powered off (ACPI S5).
    case powerOff
    /// The guest asked for a reset (i8042, ACPI reset register, or triple fault policy).
    case reset
    /// The guest wrote `value` to the debug-exit port.
    case debugExit(UInt32)
    /// The guest cannot go on (triple fault, KVM internal or emulation error).
    case guestFault(String)
    /// The host stopped the VM without the guest's cooperation.
    case forcedStop
    /// vmm itself failed while running the VM.
    case hostFailure(String)
}

/// Records the first reason the machine must stop and wakes whoever waits for it.
///
/// Devices and vCPU threads report here; the first report wins, later ones are dropped
/// (a power-off racing a fault on another vCPU must not change the outcome).
public final class MachineExitLatch: Sendable {
    private let state = Mutex<MachineExit?>(nil)
    private let onFirstExit: @Sendable () -> Void

    /// - Parameter onFirstExit: called once, on the reporting thread, when the first exit
    ///   arrives; used to bring every vCPU out of the guest.
    public init(onFirstExit: @escaping @Sendable () -> Void) {
        self.onFirstExit = onFirstExit
    }

    public var exit: MachineExit? { state.withLock { $0 } }

    /// Reports an exit; returns whether it was the first.
    @discardableResult
    public func report(_ exit: MachineExit) -> Bool {
        let isFirst = state.withLock { current -> Bool in
            guard current == nil else { return false }
            current = exit
            return true
        }
        if isFirst { onFirstExit() }
        return isFirst
    }
}
