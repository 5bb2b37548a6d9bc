extension TapOffloads {
    /// What the tap may hand the guest, given the receive features the driver accepted.
    ///
    /// The kernel refuses segmentation offloads without checksum offload (EINVAL), and a
    /// driver that takes segments without checksums breaks the spec anyway: without
    /// GUEST_CSUM the guest gets fully checksummed, segmented frames only.
    public init(guestFeatures features: UInt64) {
        self = []
        guard features & VirtioNetworkFeature.guestChecksum != 0 else { return }
        insert(.checksum)
        if features & VirtioNetworkFeature.guestTSO4 != 0 { insert(.tcpSegmentation4) }
        if features & VirtioNetworkFeature.guestTSO6 != 0 { insert(.tcpSegmentation6) }
        if features & VirtioNetworkFeature.guestECN != 0 { insert(.tcpSegmentationECN) }
    }

    /// Whether the tap may deliver frames larger than the MTU.
    var allowsLargeFrames: Bool {
        !isDisjoint(with: [.tcpSegmentation4, .tcpSegmentation6])
    }
}
