import Glibc
import Hummingbird
import VMMAPI

/// Admits root and members of the configured group on the Unix socket, and on the TCP
/// port every host whose certificate the CA signed; everyone else gets 403. The socket's
/// mode already keeps others out; this holds even if the mode is loosened by hand.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = DaemonRequestContext
    /// nil: root only (the group does not exist).
    let gid: gid_t?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try admit(try? await context.peer.get())
        return try await next(request, context)
    }

    /// Throws 403 unless `peer` may use the API; also the check of a console attachment,
    /// whose connection leaves HTTP before it reaches the router.
    func admit(_ peer: DaemonRequestContext.Peer?) throws {
        switch peer {
        case .local(let peer):
            guard peer.uid == 0 || gid.map(peer.isMember) == true else {
                throw APIError(code: .forbidden, message: "uid \(peer.uid) is neither root nor in the vmm group")
            }
        case .certified:
            // The TLS handshake already refused every other host.
            break
        case nil:
            throw APIError(code: .forbidden, message: "cannot tell who the peer is")
        }
    }
}
