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
        switch try? await context.peer.get() {
        case .local(let peer):
            guard peer.uid == 0 || gid.map({ peer.gid == $0 || GroupDirectory.process(peer.pid, isIn: $0) }) == true else {
                throw APIError(code: .forbidden, message: "uid \(peer.uid) is neither root nor in the vmm group")
            }
        case .certified(let subject, let address):
            // The TLS handshake already refused every other host. Changes from afar are
            // worth a line in the log; reads (peers poll) are not.
            if request.method != .get {
                context.logger.info("\(request.method) \(request.uri.path) from \(subject) at \(address)")
            }
        case nil:
            throw APIError(code: .forbidden, message: "cannot tell who the peer is")
        }
        return try await next(request, context)
    }
}
