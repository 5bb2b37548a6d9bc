import Glibc
import Hummingbird
import VMMAPI

/// Admits root and members of the configured group; everyone else gets 403. The socket's
/// mode already keeps others out; this holds even if the mode is loosened by hand.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = DaemonRequestContext
    /// nil: root only (the group does not exist).
    let gid: gid_t?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let peer = try? await context.peer?.get() else {
            throw APIError(code: .forbidden, message: "cannot read the peer's credentials")
        }
        guard peer.uid == 0 || gid.map({ peer.gid == $0 || GroupDirectory.process(peer.pid, isIn: $0) }) == true else {
            throw APIError(code: .forbidden, message: "uid \(peer.uid) is neither root nor in the vmm group")
        }
        return try await next(request, context)
    }
}
