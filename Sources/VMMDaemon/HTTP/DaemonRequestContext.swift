import Glibc
import Hummingbird
import Logging
import NIOCore
import NIOSSL

/// A request context that carries who is on the other end of the connection.
struct DaemonRequestContext: RequestContext {
    /// Who sent a request, and so what vouches for it.
    enum Peer: Sendable {
        /// A local process on the Unix socket; the kernel's record of its identity.
        case local(PeerCredentials)
        /// A host on the TCP port; the TLS handshake checked that the CA signed its
        /// certificate. `subject` (e.g. `CN=host-b`) and `address` are for logs.
        case certified(subject: String, address: String)
    }

    var coreContext: CoreRequestContextStorage
    /// The peer, read from the accepted connection when the request arrived; nil when
    /// it cannot be told.
    let peer: EventLoopFuture<Peer?>

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        peer = Self.peer(of: source.channel)
    }

    /// Who is on the other end of `channel`: the kernel's credentials on the Unix socket,
    /// the certificate's subject on TCP (nil when it cannot be told).
    static func peer(of channel: any Channel) -> EventLoopFuture<Peer?> {
        if case .unixDomainSocket? = channel.localAddress {
            return (channel as? any SocketOptionProvider).map {
                PeerCredentials.read(from: $0).map { $0.map(Peer.local) }
            } ?? channel.eventLoop.makeSucceededFuture(nil)
        }
        let address = channel.remoteAddress.map(HandshakeLogger.describe) ?? "an unknown address"
        return channel.nioSSL_peerCertificate().map { certificate in
            certificate.map { .certified(subject: PeerCertificate.subject($0), address: address) }
        }
    }
}
