import NIOCore

/// How migration connections between daemons are secured: the daemon's TLS identity as
/// channel handlers (mutual TLS; a peer must present a certificate the CA signed).
struct TunnelSecurity: Sendable {
    /// Adds the server side of TLS to an accepted connection's pipeline (on its loop).
    let addServer: @Sendable (any Channel) throws -> Void
    /// Adds the client side of TLS to a connection to `host`'s pipeline (on its loop).
    let addClient: @Sendable (any Channel, _ host: String) throws -> Void
}
