import Synchronization

/// The virtio 1.x modern PCI transport for one `VirtioDevice`.
///
/// vCPU threads reach it through configuration and BAR accesses; the device's own
/// threads reach it through `VirtioInterrupt`. Queue notifications arrive on per-queue
/// eventfds that KVM signals directly (ioeventfd), so a notification never runs here
/// unless KVM could not register one.
public final class VirtioPCIDevice: PCIDevice {
    public static let vendorID: UInt16 = 0x1af4
    /// Modern-only devices use 0x1040 + the virtio device type.
    static let modernDeviceIDBase: UInt16 = 0x1040

    public let configuration: PCIConfigurationSpace
    let device: any VirtioDevice
    let memory: GuestMemory
    let msix: MSIXTable
    let intx: any InterruptLine
    let notifiers: [EventNotifier]
    let log: Logger
    let registers: Mutex<VirtioPCIRegisters>
    /// Serializes activation and reset, which call into the device and may wait for its
    /// threads; never held by those threads, so they can still raise interrupts meanwhile.
    let lifecycle = Mutex(())
    /// The queues handed to the device at DRIVER_OK; nil while it is not activated.
    let activeQueues = Mutex<[Virtqueue?]?>(nil)

    /// The device's features plus the transport's own.
    var offeredFeatures: UInt64 { device.features | VirtioFeature.version1 }

    public init(device: any VirtioDevice, context: PCIDeviceContext) throws(VMMError) {
        let queueCount = device.queueMaximumSizes.count
        // One vector per queue plus one for configuration changes.
        let vectorCount = min(queueCount + 1, VirtioPCILayout.maximumVectors)
        msix = try MSIXTable(vectorCount: vectorCount, vm: context.vm, router: context.interruptRouter, log: context.log)
        let identity = PCIIdentity(
            vendorID: Self.vendorID, deviceID: Self.modernDeviceIDBase + device.deviceType.rawValue, revisionID: 1,
            classCode: device.deviceType.pciClassCode, subsystemVendorID: Self.vendorID, subsystemID: 0x40)
        configuration = PCIConfigurationSpace(
            identity: identity,
            bars: [
                PCIBar(index: VirtioPCILayout.structuresBar, size: VirtioPCILayout.structuresBarSize),
                PCIBar(index: VirtioPCILayout.msixBar, size: VirtioPCILayout.msixBarSize),
            ],
            capabilities: VirtioPCILayout.capabilities(queueCount: queueCount) + [
                msix.capability(
                    bar: VirtioPCILayout.msixBar, tableOffset: VirtioPCILayout.msixTableOffset,
                    pendingBitArrayOffset: VirtioPCILayout.msixPendingBitsOffset),
            ])
        var notifiers: [EventNotifier] = []
        for _ in 0..<queueCount { notifiers.append(try EventNotifier()) }
        self.notifiers = notifiers
        self.device = device
        self.memory = context.memory
        self.intx = context.interruptLine
        self.log = context.log
        self.registers = Mutex(VirtioPCIRegisters(maximumSizes: device.queueMaximumSizes))
    }

    /// What the PCI bus calls to put `device` in a slot.
    static func factory(for device: any VirtioDevice) -> PCIDeviceFactory {
        let make: PCIDeviceFactory = { context throws(VMMError) in try VirtioPCIDevice(device: device, context: context) }
        return make
    }

    public func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 {
        switch index {
        case VirtioPCILayout.structuresBar: return readStructures(offset: offset, size: size)
        case VirtioPCILayout.msixBar:
            if offset >= UInt64(VirtioPCILayout.msixPendingBitsOffset) {
                return msix.readPendingBits(offset: offset - UInt64(VirtioPCILayout.msixPendingBitsOffset), size: size)
            }
            return msix.readTable(offset: offset, size: size)
        default: return 0
        }
    }

    public func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {
        switch index {
        case VirtioPCILayout.structuresBar: writeStructures(offset: offset, size: size, value: value)
        case VirtioPCILayout.msixBar where offset < UInt64(VirtioPCILayout.msixPendingBitsOffset):
            msix.writeTable(offset: offset, size: size, value: value)
        default: break
        }
    }

    private func readStructures(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case VirtioPCILayout.commonOffset..<VirtioPCILayout.commonLength:
            let features = offeredFeatures
            return registers.withLock { $0.read(offset, features: features) } & mask(size)
        case VirtioPCILayout.isrOffset..<(VirtioPCILayout.isrOffset + VirtioPCILayout.isrLength):
            return UInt64(takeInterruptStatus())
        case VirtioPCILayout.deviceOffset..<(VirtioPCILayout.deviceOffset + VirtioPCILayout.deviceLength):
            guard size <= 4 else {
                let low = UInt64(device.readConfiguration(offset: Int(offset - VirtioPCILayout.deviceOffset), size: 4))
                let high = UInt64(device.readConfiguration(offset: Int(offset - VirtioPCILayout.deviceOffset) + 4, size: 4))
                return low | high << 32
            }
            return UInt64(device.readConfiguration(offset: Int(offset - VirtioPCILayout.deviceOffset), size: size))
        default:
            return 0
        }
    }

    private func writeStructures(offset: UInt64, size: Int, value: UInt64) {
        switch offset {
        case VirtioPCIRegisters.Offset.status:
            writeStatus(VirtioStatus(rawValue: UInt8(truncatingIfNeeded: value)))
        case VirtioPCILayout.commonOffset..<VirtioPCILayout.commonLength:
            let vectorCount = msix.vectorCount
            registers.withLock { $0.write(offset, size: size, value: value, vectorCount: vectorCount) }
        case VirtioPCILayout.deviceOffset..<(VirtioPCILayout.deviceOffset + VirtioPCILayout.deviceLength):
            device.writeConfiguration(
                offset: Int(offset - VirtioPCILayout.deviceOffset), size: min(size, 4), value: UInt32(truncatingIfNeeded: value))
        case VirtioPCILayout.notifyOffset...:
            let queue = Int((offset - VirtioPCILayout.notifyOffset) / UInt64(VirtioPCILayout.notifyMultiplier))
            if queue < notifiers.count { notifiers[queue].signal() }
        default:
            break
        }
    }

    private func mask(_ size: Int) -> UInt64 {
        size >= 8 ? .max : (1 << (8 * UInt64(size))) - 1
    }
}
