import Glibc
import Hummingbird
import Logging
import NIOCore

/// The credentials the kernel recorded for the peer of a Unix socket (SO_PEERCRED).
struct PeerCredentials: Sendable {
    var pid: pid_t
    var uid: uid_t
    var gid: gid_t
}

/// A request context that carries who is on the other end of the connection.
struct DaemonRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The peer's credentials, read from the accepted socket when the request arrived.
    let peer: EventLoopFuture<PeerCredentials>?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        // Glibc hides `struct ucred` behind _GNU_SOURCE; it is three 32-bit fields.
        peer = (source.channel as? any SocketOptionProvider)?
            .unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .map { (credentials: (Int32, UInt32, UInt32)) in
                PeerCredentials(pid: credentials.0, uid: credentials.1, gid: credentials.2)
            }
    }

    /// Bodies are small JSON documents.
    var maxUploadSize: Int { 1 << 20 }
}
