/// The body of `POST /v1/vms/{name}/migrate`: move the running VM to another daemon.
public struct VMMigrateRequest: Codable, Equatable, Sendable {
    /// The destination daemon's TCP API address, `HOST:PORT` (an IPv6 host in brackets).
    public var to: String
    /// The longest the guest may be paused for the last pass (default 300 ms).
    public var maxDowntimeMs: Int?
    /// A cap on the stream's rate in 10^6 bits/s (default 0: none).
    public var bandwidthMbps: Int?
    /// Copy the writable disks too (the destination does not share their storage).
    public var copyStorage: Bool?

    public init(to: String, maxDowntimeMs: Int? = nil, bandwidthMbps: Int? = nil, copyStorage: Bool? = nil) {
        self.to = to
        self.maxDowntimeMs = maxDowntimeMs
        self.bandwidthMbps = bandwidthMbps
        self.copyStorage = copyStorage
    }
}
