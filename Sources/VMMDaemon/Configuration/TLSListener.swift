import VMMAPI

/// The REST API on a TCP port with mutual TLS, served besides the Unix socket: for vmctl
/// on other hosts and for peer daemons.
public struct TLSListener: Sendable {
    /// Where the API listens, e.g. `0.0.0.0:7443`.
    public var address: HostAndPort
    /// This host's certificate and key, and the CA every peer's certificate must be signed by.
    public var files: TLSFiles
    /// The TCP port on `address.host` that takes migration streams from peers (TLS too).
    public var migrationPort: Int

    /// `migrationPort` nil: the API port + 1.
    public init(address: HostAndPort, files: TLSFiles, migrationPort: Int? = nil) {
        self.address = address
        self.files = files
        self.migrationPort = migrationPort ?? address.port + 1
    }
}
