import KVM
import Synchronization

/// The machine's whole GSI routing table: the fixed irqchip pins plus one MSI route per
/// GSI a device allocated.
///
/// `KVM_SET_GSI_ROUTING` replaces the table, so every change re-sends all of it; keeping
/// the table in one place is what keeps the UART, PIT and SCI pins alive when devices add
/// MSI routes. vCPU threads update routes while the guest programs MSI-X tables, so the
/// table lives behind a lock that is held across the ioctl: tables reach KVM in order.
public final class InterruptRouter: Sendable {
    /// GSIs 0–23 are the IOAPIC's pins; MSI routes are numbered from here.
    public static let firstMSIGSI: UInt32 = 24
    /// KVM refuses GSIs from `KVM_MAX_IRQ_ROUTES` (4096 on x86) up.
    public static let gsiLimit: UInt32 = 4096

    /// The address and data a device writes to signal one MSI.
    public struct MSIMessage: Equatable, Sendable {
        public var address: UInt64
        public var data: UInt32

        public init(address: UInt64, data: UInt32) {
            self.address = address
            self.data = data
        }
    }

    private struct State {
        /// Allocated MSI GSIs; nil until the first message is set (no route yet).
        var messages: [UInt32: MSIMessage?] = [:]
        var nextGSI = InterruptRouter.firstMSIGSI
        var released: [UInt32] = []
    }

    private let vm: KVMVirtualMachine
    private let pinRoutes: [KVMInterruptRoute]
    private let state = Mutex(State())

    /// Installs `pinRoutes` (the irqchip wiring) as the table KVM starts with.
    public init(vm: KVMVirtualMachine, pinRoutes: [KVMInterruptRoute]) throws(VMMError) {
        precondition(pinRoutes.allSatisfy { $0.gsi < Self.firstMSIGSI }, "pin routes use GSIs below 24")
        self.vm = vm
        self.pinRoutes = pinRoutes
        try VMMError.kvm { () throws(KVMError) in try vm.setInterruptRouting(pinRoutes) }
    }

    /// Reserves a GSI for MSIs. It has no route until `setMSIRoute` gives it a message.
    public func allocateMSI() throws(VMMError) -> UInt32 {
        try state.withLock { state throws(VMMError) -> UInt32 in
            let gsi: UInt32
            if let reused = state.released.popLast() {
                gsi = reused
            } else {
                guard state.nextGSI < Self.gsiLimit else {
                    throw .invalidConfiguration(
                        "the devices need more than \(Self.gsiLimit - Self.firstMSIGSI) MSI vectors: use fewer devices")
                }
                gsi = state.nextGSI
                state.nextGSI += 1
            }
            state.messages[gsi] = .some(nil)
            return gsi
        }
    }

    /// Gives up `gsi`. A failure to re-send the table is ignored: a leftover route on a GSI
    /// no irqfd refers to any more injects nothing.
    public func releaseMSI(_ gsi: UInt32) {
        state.withLock { state in
            guard let message = state.messages.removeValue(forKey: gsi) else { return }
            state.released.append(gsi)
            if message != nil { _ = try? install(state) }
        }
    }

    /// Routes `gsi` (from `allocateMSI`) to `message` and re-sends the table. If KVM refuses
    /// the table, the previous route stays in place, here as in KVM.
    public func setMSIRoute(gsi: UInt32, message: MSIMessage) throws(VMMError) {
        try state.withLock { state throws(VMMError) in
            guard let current = state.messages[gsi] else { preconditionFailure("GSI \(gsi) was not allocated") }
            guard current != message else { return }
            state.messages[gsi] = message
            do throws(VMMError) {
                try install(state)
            } catch {
                state.messages[gsi] = current
                throw error
            }
        }
    }

    /// The table as KVM has it: pin routes, then MSI routes by GSI.
    public var routes: [KVMInterruptRoute] { state.withLock { table($0) } }

    private func table(_ state: State) -> [KVMInterruptRoute] {
        let msi = state.messages.compactMap { gsi, message in
            message.map { KVMInterruptRoute(gsi: gsi, target: .msi(address: $0.address, data: $0.data)) }
        }
        return pinRoutes + msi.sorted { $0.gsi < $1.gsi }
    }

    private func install(_ state: State) throws(VMMError) {
        let routes = table(state)
        try VMMError.kvm { () throws(KVMError) in try vm.setInterruptRouting(routes) }
    }
}
