import Foundation
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Logs how a TLS connection's handshake ended: who was refused and why (warning), who
/// got in and with which certificate (debug). Closes a connection whose handshake has not
/// completed in time, so strangers cannot hold connections open. Passes everything on
/// unchanged.
final class HandshakeLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private enum State { case handshaking, established, refused }

    /// Peers are daemons and vmctl: a handshake takes milliseconds.
    static let handshakeTimeout = TimeAmount.seconds(10)

    private let logger: Logger
    private var state = State.handshaking
    private var peer = "an unknown address"
    private var deadline: Scheduled<Void>?

    init(logger: Logger) {
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let address = context.channel.remoteAddress { peer = Self.describe(address) }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: Self.handshakeTimeout) {
            guard self.state == .handshaking else { return }
            self.state = .refused
            self.logger.warning("refused TLS connection from \(self.peer): no TLS handshake within \(Self.handshakeTimeout.nanoseconds / 1_000_000_000) s")
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent, state == .handshaking {
            state = .established
            deadline?.cancel()
            let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
            logger.debug("TLS connection from \(peer): \(certificate.map(PeerCertificate.subject) ?? "no certificate")")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if state == .handshaking {
            state = .refused
            logger.warning("refused TLS connection from \(peer): \(Self.reason(error))")
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state == .handshaking {
            logger.notice("connection from \(peer) closed before the TLS handshake completed")
        }
        context.fireChannelInactive()
    }

    /// `ADDRESS:PORT` (`[ADDRESS]:PORT` for IPv6).
    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// BoringSSL's reason codes, in words that say which side is at fault.
    static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        let reasons: [(String, String)] = [
            ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "it presented no client certificate"),
            ("CERTIFICATE_VERIFY_FAILED", "its certificate is not signed by the CA (--tls-ca) or has expired"),
            ("HTTP_REQUEST", "it spoke plain HTTP, not TLS"),
            ("WRONG_VERSION_NUMBER", "it does not speak TLS"),
            ("UNSUPPORTED_PROTOCOL", "it does not speak TLS 1.3"),
            ("UNKNOWN_CA", "it does not trust this daemon's certificate (signed by another CA)"),
            ("BAD_CERTIFICATE", "it does not accept this daemon's certificate (wrong host name?)"),
        ]
        // BoringSSL's code (e.g. CERTIFICATE_VERIFY_FAILED) without its source location.
        let code = text.range(of: "OPENSSL_internal:").map {
            String(text[$0.upperBound...].prefix { $0.isUppercase || $0.isNumber || $0 == "_" })
        }
        guard let reason = reasons.first(where: { text.contains($0.0) })?.1 else { return code ?? text }
        return code.map { "\(reason) (\($0))" } ?? reason
    }
}
