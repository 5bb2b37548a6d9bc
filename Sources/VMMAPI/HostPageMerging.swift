/// The host kernel's same-page merging (KSM) as `/sys/kernel/mm/ksm` reports it: what VMs
/// started with `mergePages` save by sharing identical pages.
public struct HostPageMerging: Codable, Equatable, Sendable {
    /// Whether ksmd scans (`run` is 1); merged pages stay merged while it is off.
    public var running: Bool
    /// Distinct pages kept once for several users (`pages_shared`).
    public var pagesShared: UInt64
    /// Further users of those pages: the pages saved (`pages_sharing`).
    public var pagesSharing: UInt64
    /// `pagesSharing` in bytes.
    public var savedBytes: UInt64

    public init(running: Bool, pagesShared: UInt64, pagesSharing: UInt64, savedBytes: UInt64) {
        self.running = running
        self.pagesShared = pagesShared
        self.pagesSharing = pagesSharing
        self.savedBytes = savedBytes
    }
}
