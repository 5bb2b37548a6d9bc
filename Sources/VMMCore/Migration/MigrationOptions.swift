/// The settings of one outgoing migration (`migrate PATH [max-downtime=MS]
/// [bandwidth=MBPS] [deadline=S] [copy-storage]`).
public struct MigrationOptions: Equatable, Sendable {
    /// The destination's incoming Unix socket (absolute path).
    public var path: String
    /// The pause the guest may see for the last pass, in seconds.
    public var maximumDowntime = 0.3
    /// Stream limit in bits per second; nil for none.
    public var bandwidth: Double?
    /// Seconds after which a migration that has not converged gives up (the guest runs on).
    public var deadline = 300.0
    /// Copy the writable disks' contents too (the destination has disks of its own).
    public var copyStorage = false

    public init(path: String) { self.path = path }
}
