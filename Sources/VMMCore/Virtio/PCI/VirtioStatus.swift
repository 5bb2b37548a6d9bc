/// Bits of the device status register (virtio 1.x §2.1).
struct VirtioStatus: OptionSet, Sendable {
    let rawValue: UInt8

    static let acknowledge = VirtioStatus(rawValue: 1)
    static let driver = VirtioStatus(rawValue: 2)
    static let driverOK = VirtioStatus(rawValue: 4)
    static let featuresOK = VirtioStatus(rawValue: 8)
    static let deviceNeedsReset = VirtioStatus(rawValue: 64)
    static let failed = VirtioStatus(rawValue: 128)
}
