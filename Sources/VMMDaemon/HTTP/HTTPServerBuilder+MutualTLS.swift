import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging

extension HTTPServerBuilder {
    /// HTTP/1.1 inside TLS whose configuration requires a client certificate, its
    /// connections within the bounds of `connections`; handshakes that fail are logged to
    /// `logger` (the HTTP server itself would drop them silently).
    static func mutualTLS(
        _ configuration: TLSConfiguration, connections: ConnectionRegistry, consoles: ConsoleUpgrader.Needs, logger: Logger
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            try TLSChannel(
                HandshakeLogging(
                    base: GuardedHTTP1Channel(responder: responder, registry: connections, answersRefusals: false, consoles: consoles), logger: logger),
                tlsConfiguration: configuration)
        }
    }
}
