/// virtio-balloon feature bits (virtio 1.x §5.5.3).
enum VirtioBalloonFeature {
    /// The driver asks for memory statistics on a queue of their own.
    static let statisticsQueue: UInt64 = 1 << 1
    /// The driver gives pages back from the balloon when the guest runs out of memory.
    static let deflateOnOOM: UInt64 = 1 << 2
    /// The driver reports ranges of free memory on the reporting queue.
    static let freePageReporting: UInt64 = 1 << 5
}

/// The queues in the order the driver numbers them: absent ones (statistics, reporting,
/// and the free page hint queue vmm never offers) take no index, as in Linux and QEMU.
enum BalloonQueueRole: Sendable {
    case inflate, deflate, statistics, reporting

    /// The roles of queues 0, 1, ... for the negotiated `features`.
    static func roles(for features: UInt64) -> [BalloonQueueRole] {
        var roles: [BalloonQueueRole] = [.inflate, .deflate]
        if features & VirtioBalloonFeature.statisticsQueue != 0 { roles.append(.statistics) }
        if features & VirtioBalloonFeature.freePageReporting != 0 { roles.append(.reporting) }
        return roles
    }
}
