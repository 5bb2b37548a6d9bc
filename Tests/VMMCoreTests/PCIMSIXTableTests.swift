#if canImport(Glibc)
import Glibc
#endif
import CKVM
import KVM
import Testing

@testable import VMMCore

/// A KVM VM with an irqchip and one vCPU whose local APIC accepts interrupts, so a test
/// can see an MSI arrive in the APIC's interrupt request register.
struct InterruptTestVM {
    let vm: KVMVirtualMachine
    let vcpu: KVMVirtualCPU
    let router: InterruptRouter

    init() throws {
        let kvm = try KVMSystem()
        vm = try kvm.createVirtualMachine()
        try vm.createInterruptController()
        router = try InterruptRouter(vm: vm, pinRoutes: PlatformDevices.interruptRouting)
        vcpu = try vm.createVirtualCPU(id: 0)
        // A reset APIC is software-disabled (SVR bit 8 clear) and drops fixed interrupts.
        var apic = try vcpu.localAPIC()
        withUnsafeMutableBytes(of: &apic.regs) { $0.storeBytes(of: UInt32(0x1ff), toByteOffset: 0xf0, as: UInt32.self) }
        try vcpu.setLocalAPIC(apic)
    }

    /// The MSI message that sends `vector` to APIC 0, fixed delivery, edge.
    static func message(vector: UInt8) -> (address: UInt64, data: UInt32) { (0xfee0_0000, UInt32(vector)) }

    func isRequested(_ vector: UInt8) throws -> Bool {
        var apic = try vcpu.localAPIC()
        let word = withUnsafeBytes(of: &apic.regs) {
            $0.load(fromByteOffset: 0x200 + 0x10 * Int(vector / 32), as: UInt32.self)
        }
        return word & 1 << UInt32(vector % 32) != 0
    }

    /// irqfd may inject from a kernel worker: give it a moment.
    func waitForRequest(_ vector: UInt8) throws -> Bool {
        for _ in 0..<200 {
            if try isRequested(vector) { return true }
            usleep(1000)
        }
        return false
    }
}

@Suite(.serialized) struct PCIMSIXTableTests {
    static let log = Logger(minimumLevel: .error)

    /// Programs entry `index` as Linux does: message while masked, then the unmask.
    static func program(_ table: MSIXTable, entry index: Int, vector: UInt8, unmask: Bool = true) {
        let base = UInt64(index * MSIXTable.entrySize)
        let message = InterruptTestVM.message(vector: vector)
        table.writeTable(offset: base, size: 4, value: message.address & 0xffff_ffff)
        table.writeTable(offset: base + 4, size: 4, value: message.address >> 32)
        table.writeTable(offset: base + 8, size: 4, value: UInt64(message.data))
        if unmask { table.writeTable(offset: base + 12, size: 4, value: 0) }
    }

    /// Sets Message Control through the capability's write hook, as a configuration write does.
    static func setControl(_ capability: PCICapability, enable: Bool, functionMask: Bool) {
        capability.write?(2, 2, (enable ? 1 << 15 : 0) | (functionMask ? 1 << 14 : 0))
    }

    @Test func sizes() {
        #expect(MSIXTable.tableSize(vectorCount: 3) == 48)
        #expect(MSIXTable.pendingBitArraySize(vectorCount: 1) == 8)
        #expect(MSIXTable.pendingBitArraySize(vectorCount: 64) == 8)
        #expect(MSIXTable.pendingBitArraySize(vectorCount: 65) == 16)
    }

    @Test func tableEntriesStartMaskedAndReadBack() throws {
        let machine = try InterruptTestVM()
        let table = try MSIXTable(vectorCount: 3, vm: machine.vm, router: machine.router, log: Self.log)
        for index in 0..<3 {
            #expect(table.readTable(offset: UInt64(16 * index + 12), size: 4) == 1, "entry \(index) masked at reset")
        }
        table.writeTable(offset: 16, size: 8, value: 0x0000_0001_fee0_1003)
        table.writeTable(offset: 24, size: 4, value: 0x4041)
        #expect(table.readTable(offset: 16, size: 4) == 0xfee0_1000, "address bits 1:0 read as zero")
        #expect(table.readTable(offset: 16, size: 8) == 0x0000_0001_fee0_1000)
        #expect(table.readTable(offset: 24, size: 8) == 0x0000_0001_0000_4041)
        table.writeTable(offset: 28, size: 4, value: 0xffff_fffe)
        #expect(table.readTable(offset: 28, size: 4) == 0, "only the mask bit of vector control is kept")

        // Accesses the spec does not allow, or beyond the table, do nothing and read 0.
        table.writeTable(offset: 18, size: 4, value: 0)
        table.writeTable(offset: 20, size: 8, value: 0)
        table.writeTable(offset: 16, size: 2, value: 0)
        table.writeTable(offset: 48, size: 4, value: 0)
        #expect(table.readTable(offset: 16, size: 8) == 0x0000_0001_fee0_1000)
        #expect(table.readTable(offset: 18, size: 4) == 0 && table.readTable(offset: 16, size: 1) == 0)
        #expect(table.readTable(offset: 48, size: 4) == 0 && table.readTable(offset: .max - 7, size: 8) == 0)
        #expect(table.readPendingBits(offset: 8, size: 8) == 0 && table.readPendingBits(offset: 2, size: 4) == 0)
    }

    @Test func capabilityDescribesTheTableAndItsControlBits() throws {
        let machine = try InterruptTestVM()
        let table = try MSIXTable(vectorCount: 5, vm: machine.vm, router: machine.router, log: Self.log)
        let capability = table.capability(bar: 2, tableOffset: 0x2000, pendingBitArrayOffset: 0x3000)
        #expect(capability.id == 0x11)
        #expect(capability.body == [4, 0, 0x02, 0x20, 0, 0, 0x02, 0x30, 0, 0])

        let space = PCIConfigurationSpace(
            identity: PCIConfigurationSpaceTests.identity, bars: [PCIBar(index: 2, size: 0x4000)],
            capabilities: [capability])
        #expect(space.read(offset: 0x40, size: 1) == 0x11 && space.read(offset: 0x41, size: 1) == 0)
        #expect(space.read(offset: 0x42, size: 2) == 0x0004, "table size N-1, disabled, not masked")
        #expect(space.read(offset: 0x44, size: 4) == 0x2002 && space.read(offset: 0x48, size: 4) == 0x3002)

        space.write(offset: 0x42, size: 2, value: 0xc000)
        #expect(table.isEnabled)
        #expect(space.read(offset: 0x42, size: 2) == 0xc004, "enable and function mask read back, size kept")
        #expect(space.read(offset: 0x40, size: 4) == 0xc004_0011)
        space.write(offset: 0x43, size: 1, value: 0x80)
        #expect(space.read(offset: 0x43, size: 1) == 0x80)
        space.write(offset: 0x40, size: 4, value: 0)
        #expect(!table.isEnabled && space.read(offset: 0x42, size: 2) == 0x0004)
    }

    @Test func signalIsRefusedWhileDisabledOrWithoutAVector() throws {
        let machine = try InterruptTestVM()
        let table = try MSIXTable(vectorCount: 2, vm: machine.vm, router: machine.router, log: Self.log)
        let capability = table.capability(bar: 0, tableOffset: 0, pendingBitArrayOffset: 0x800)
        Self.program(table, entry: 0, vector: 0x41)
        #expect(!table.signal(vector: 0), "MSI-X disabled")
        Self.setControl(capability, enable: true, functionMask: false)
        #expect(!table.signal(vector: MSIXTable.noVector))
        #expect(!table.signal(vector: 2))
        #expect(table.readPendingBits(offset: 0, size: 8) == 0)
        #expect(try !machine.isRequested(0x41))
    }

    @Test func unmaskedVectorIsDeliveredThroughItsIrqfd() throws {
        let machine = try InterruptTestVM()
        let table = try MSIXTable(vectorCount: 2, vm: machine.vm, router: machine.router, log: Self.log)
        let capability = table.capability(bar: 0, tableOffset: 0, pendingBitArrayOffset: 0x800)
        Self.setControl(capability, enable: true, functionMask: false)
        Self.program(table, entry: 1, vector: 0x52)
        #expect(table.signal(vector: 1))
        #expect(try machine.waitForRequest(0x52))
        #expect(try !machine.isRequested(0x41))
        #expect(table.readPendingBits(offset: 0, size: 8) == 0)
    }

    @Test func maskedVectorIsPendingUntilUnmasked() throws {
        let machine = try InterruptTestVM()
        let table = try MSIXTable(vectorCount: 70, vm: machine.vm, router: machine.router, log: Self.log)
        let capability = table.capability(bar: 0, tableOffset: 0, pendingBitArrayOffset: 0x800)
        Self.setControl(capability, enable: true, functionMask: false)
        Self.program(table, entry: 66, vector: 0x61, unmask: false)
        #expect(table.signal(vector: 66))
        #expect(table.readPendingBits(offset: 8, size: 8) == 1 << 2)
        #expect(table.readPendingBits(offset: 8, size: 4) == 1 << 2)
        usleep(20_000)
        #expect(try !machine.isRequested(0x61))

        table.writeTable(offset: 66 * 16 + 12, size: 4, value: 0)
        #expect(try machine.waitForRequest(0x61), "unmasking fires the pending interrupt")
        #expect(table.readPendingBits(offset: 8, size: 8) == 0)
    }

    @Test func functionMaskHoldsEveryVector() throws {
        let machine = try InterruptTestVM()
        let table = try MSIXTable(vectorCount: 2, vm: machine.vm, router: machine.router, log: Self.log)
        let capability = table.capability(bar: 0, tableOffset: 0, pendingBitArrayOffset: 0x800)
        Self.setControl(capability, enable: true, functionMask: true)
        Self.program(table, entry: 0, vector: 0x71)
        #expect(table.signal(vector: 0))
        #expect(table.readPendingBits(offset: 0, size: 8) == 1)
        usleep(20_000)
        #expect(try !machine.isRequested(0x71))
        Self.setControl(capability, enable: true, functionMask: false)
        #expect(try machine.waitForRequest(0x71))
        #expect(table.readPendingBits(offset: 0, size: 8) == 0)
    }

    @Test func routesFollowDeliverableEntriesOnly() throws {
        let machine = try InterruptTestVM()
        let table = try MSIXTable(vectorCount: 2, vm: machine.vm, router: machine.router, log: Self.log)
        let capability = table.capability(bar: 0, tableOffset: 0, pendingBitArrayOffset: 0x800)
        let pins = PlatformDevices.interruptRouting
        #expect(table.interruptGSIs == [24, 25])
        Self.setControl(capability, enable: true, functionMask: false)
        Self.program(table, entry: 1, vector: 0x45, unmask: false)
        #expect(machine.router.routes == pins, "no route while the entry is masked")

        table.writeTable(offset: 28, size: 4, value: 0)
        #expect(machine.router.routes == pins + [.init(gsi: 25, target: .msi(address: 0xfee0_0000, data: 0x45))])
        // Rewriting a deliverable entry moves its route along; the irqchip pins stay.
        table.writeTable(offset: 24, size: 4, value: 0x46)
        #expect(machine.router.routes == pins + [.init(gsi: 25, target: .msi(address: 0xfee0_0000, data: 0x46))])
        #expect(table.signal(vector: 1))
        #expect(try machine.waitForRequest(0x46))
    }

    @Test func releasingATableFreesItsGSIs() throws {
        let machine = try InterruptTestVM()
        do {
            let table = try MSIXTable(vectorCount: 3, vm: machine.vm, router: machine.router, log: Self.log)
            Self.setControl(table.capability(bar: 0, tableOffset: 0, pendingBitArrayOffset: 0x800), enable: true, functionMask: false)
            Self.program(table, entry: 0, vector: 0x50)
            #expect(machine.router.routes.count == PlatformDevices.interruptRouting.count + 1)
        }
        #expect(machine.router.routes == PlatformDevices.interruptRouting)
        let again = try MSIXTable(vectorCount: 3, vm: machine.vm, router: machine.router, log: Self.log)
        #expect(Set(again.interruptGSIs) == [24, 25, 26])
    }
}

@Suite struct InterruptRouterTests {
    @Test func allocatesFrom24UpToTheKVMLimit() throws {
        let machine = try InterruptTestVM()
        var allocated: [UInt32] = []
        for _ in InterruptRouter.firstMSIGSI..<InterruptRouter.gsiLimit { allocated.append(try machine.router.allocateMSI()) }
        #expect(allocated == Array(24..<4096))
        #expect(throws: VMMError.self) { try machine.router.allocateMSI() }
        machine.router.releaseMSI(100)
        #expect(try machine.router.allocateMSI() == 100)
    }

    @Test func msiRoutesJoinThePinRoutes() throws {
        let machine = try InterruptTestVM()
        let first = try machine.router.allocateMSI(), second = try machine.router.allocateMSI()
        try machine.router.setMSIRoute(gsi: second, message: .init(address: 0xfee0_0000, data: 0x30))
        try machine.router.setMSIRoute(gsi: first, message: .init(address: 0xfee0_1000, data: 0x31))
        #expect(machine.router.routes == PlatformDevices.interruptRouting + [
            .init(gsi: 24, target: .msi(address: 0xfee0_1000, data: 0x31)),
            .init(gsi: 25, target: .msi(address: 0xfee0_0000, data: 0x30)),
        ])
        // The table KVM holds has the MSI route: an MSI through irqfd arrives.
        let notifier = try EventNotifier()
        try machine.vm.assignIRQFD(notifier.fileDescriptor, gsi: second)
        notifier.signal()
        #expect(try machine.waitForRequest(0x30))
        try machine.vm.deassignIRQFD(notifier.fileDescriptor, gsi: second)
    }
}
