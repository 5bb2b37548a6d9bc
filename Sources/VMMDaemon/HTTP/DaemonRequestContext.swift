import Glibc
import Hummingbird
import Logging
import NIOCore
import NIOSSL

/// The credentials the kernel recorded for the peer of a Unix socket (SO_PEERCRED).
struct PeerCredentials: Sendable {
    var pid: pid_t
    var uid: uid_t
    var gid: gid_t
}

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
        let channel = source.channel
        if case .unixDomainSocket? = channel.localAddress {
            // Glibc hides `struct ucred` behind _GNU_SOURCE; it is three 32-bit fields.
            peer = (channel as? any SocketOptionProvider)?
                .unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
                .map { (credentials: (Int32, UInt32, UInt32)) in
                    .local(PeerCredentials(pid: credentials.0, uid: credentials.1, gid: credentials.2))
                } ?? channel.eventLoop.makeSucceededFuture(nil)
        } else {
            let address = channel.remoteAddress.map(HandshakeLogger.describe) ?? "an unknown address"
            peer = channel.nioSSL_peerCertificate().map { certificate in
                certificate.map { .certified(subject: PeerCertificate.subject($0), address: address) }
            }
        }
    }

    /// Bodies are small JSON documents.
    var maxUploadSize: Int { 1 << 20 }
}
