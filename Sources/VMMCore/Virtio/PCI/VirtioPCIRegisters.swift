/// The driver-visible state of the common configuration structure (virtio 1.x §4.1.4.3).
struct VirtioPCIRegisters: Sendable {
    /// VIRTIO_MSI_NO_VECTOR is MSI-X's "no vector" too.
    static let noVector = MSIXTable.noVector

    struct Queue: Sendable {
        var size: UInt16
        var vector = VirtioPCIRegisters.noVector
        var enabled = false
        var descriptorTable: UInt64 = 0
        var availableRing: UInt64 = 0
        var usedRing: UInt64 = 0

        var layout: Virtqueue.Layout {
            .init(size: size, descriptorTable: descriptorTable, availableRing: availableRing, usedRing: usedRing)
        }
    }

    /// Byte offsets in the common configuration structure.
    enum Offset {
        static let deviceFeatureSelect: UInt64 = 0x00
        static let deviceFeature: UInt64 = 0x04
        static let driverFeatureSelect: UInt64 = 0x08
        static let driverFeature: UInt64 = 0x0c
        static let configVector: UInt64 = 0x10
        static let queueCount: UInt64 = 0x12
        static let status: UInt64 = 0x14
        static let configGeneration: UInt64 = 0x15
        static let queueSelect: UInt64 = 0x16
        static let queueSize: UInt64 = 0x18
        static let queueVector: UInt64 = 0x1a
        static let queueEnable: UInt64 = 0x1c
        static let queueNotifyOffset: UInt64 = 0x1e
        static let queueDescriptorTable: UInt64 = 0x20
        static let queueAvailableRing: UInt64 = 0x28
        static let queueUsedRing: UInt64 = 0x30
    }

    let maximumSizes: [UInt16]
    var deviceFeatureSelect: UInt32 = 0
    var driverFeatureSelect: UInt32 = 0
    var driverFeatures: UInt64 = 0
    var configVector = noVector
    var status: VirtioStatus = []
    var queueSelect: UInt16 = 0
    var queues: [Queue]
    /// Interrupt status: bit 0 used buffers, bit 1 configuration change; cleared by reading.
    var interruptStatus: UInt8 = 0

    init(maximumSizes: [UInt16]) {
        self.maximumSizes = maximumSizes
        queues = maximumSizes.map { Queue(size: $0) }
    }

    /// Back to the state after power-on, as a write of 0 to the status register asks.
    mutating func reset() {
        self = VirtioPCIRegisters(maximumSizes: maximumSizes)
    }

    var selectedQueue: Int? {
        Int(queueSelect) < queues.count ? Int(queueSelect) : nil
    }

    /// Reads a register other than status (which the transport handles); unknown offsets read 0.
    func read(_ offset: UInt64, features: UInt64) -> UInt64 {
        let queue = selectedQueue.map { queues[$0] }
        switch offset {
        case Offset.deviceFeatureSelect: return UInt64(deviceFeatureSelect)
        case Offset.deviceFeature: return deviceFeatureSelect < 2 ? (features >> (32 * UInt64(deviceFeatureSelect))) & 0xffff_ffff : 0
        case Offset.driverFeatureSelect: return UInt64(driverFeatureSelect)
        case Offset.driverFeature: return driverFeatureSelect < 2 ? (driverFeatures >> (32 * UInt64(driverFeatureSelect))) & 0xffff_ffff : 0
        case Offset.configVector: return UInt64(configVector)
        case Offset.queueCount: return UInt64(queues.count)
        case Offset.status: return UInt64(status.rawValue)
        case Offset.configGeneration: return 0
        case Offset.queueSelect: return UInt64(queueSelect)
        case Offset.queueSize: return UInt64(queue?.size ?? 0)
        case Offset.queueVector: return UInt64(queue?.vector ?? Self.noVector)
        case Offset.queueEnable: return queue?.enabled == true ? 1 : 0
        case Offset.queueNotifyOffset: return UInt64(selectedQueue ?? 0)
        case Offset.queueDescriptorTable: return queue?.descriptorTable ?? 0
        case Offset.queueDescriptorTable + 4: return (queue?.descriptorTable ?? 0) >> 32
        case Offset.queueAvailableRing: return queue?.availableRing ?? 0
        case Offset.queueAvailableRing + 4: return (queue?.availableRing ?? 0) >> 32
        case Offset.queueUsedRing: return queue?.usedRing ?? 0
        case Offset.queueUsedRing + 4: return (queue?.usedRing ?? 0) >> 32
        default: return 0
        }
    }

    /// Writes a register other than status. Queue and feature registers are frozen once
    /// the driver set FEATURES_OK / DRIVER_OK, as the spec requires of drivers.
    mutating func write(_ offset: UInt64, size: Int, value: UInt64, vectorCount: Int) {
        let value32 = UInt32(truncatingIfNeeded: value)
        let value16 = UInt16(truncatingIfNeeded: value)
        switch offset {
        case Offset.deviceFeatureSelect: deviceFeatureSelect = value32
        case Offset.driverFeatureSelect: driverFeatureSelect = value32
        case Offset.driverFeature where !status.contains(.featuresOK) && driverFeatureSelect < 2:
            let shift = 32 * UInt64(driverFeatureSelect)
            driverFeatures = driverFeatures & ~(0xffff_ffff << shift) | UInt64(value32) << shift
        case Offset.configVector: configVector = Int(value16) < vectorCount ? value16 : Self.noVector
        case Offset.queueSelect: queueSelect = value16
        default: writeQueue(offset, size: size, value: value, vectorCount: vectorCount)
        }
    }

    private mutating func writeQueue(_ offset: UInt64, size: Int, value: UInt64, vectorCount: Int) {
        guard let index = selectedQueue, !status.contains(.driverOK) else { return }
        let value16 = UInt16(truncatingIfNeeded: value)
        func setHalf(_ field: inout UInt64, high: Bool) {
            if size == 8 { field = value; return }
            let half = value & 0xffff_ffff
            field = high ? field & 0xffff_ffff | half << 32 : field & ~0xffff_ffff | half
        }
        switch offset {
        case Offset.queueSize: queues[index].size = value16
        case Offset.queueVector: queues[index].vector = Int(value16) < vectorCount ? value16 : Self.noVector
        case Offset.queueEnable: queues[index].enabled = value16 == 1
        case Offset.queueDescriptorTable, Offset.queueDescriptorTable + 4:
            setHalf(&queues[index].descriptorTable, high: offset != Offset.queueDescriptorTable)
        case Offset.queueAvailableRing, Offset.queueAvailableRing + 4:
            setHalf(&queues[index].availableRing, high: offset != Offset.queueAvailableRing)
        case Offset.queueUsedRing, Offset.queueUsedRing + 4:
            setHalf(&queues[index].usedRing, high: offset != Offset.queueUsedRing)
        default: break
        }
    }
}
