import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging

extension HTTPServerBuilder {
    /// HTTP/1.1 inside TLS whose configuration requires a client certificate; handshakes
    /// that fail are logged to `logger` (the HTTP server itself would drop them silently).
    static func mutualTLS(_ configuration: TLSConfiguration, logger: Logger) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            try TLSChannel(HandshakeLogging(base: HTTP1Channel(responder: responder), logger: logger), tlsConfiguration: configuration)
        }
    }
}
