import Hummingbird
import Logging

/// Logs every request in one line: who sent it (the peer's uid and pid on the Unix
/// socket, its certificate's subject and address over TLS), method, path, status and
/// duration. Reads that succeed are frequent (vmctl, peers and monitoring poll) and go
/// to debug; changes and refusals go to info.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = DaemonRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        // APIErrorMiddleware, inside this one, turns every error into a response.
        let response = try await next(request, context)
        let milliseconds = ((ContinuousClock.now - start) / .milliseconds(1) * 10).rounded() / 10
        let peer = Self.describe(try? await context.peer.get())
        let routine = (request.method == .get || request.method == .head) && response.status.code < 400
        context.logger.log(
            level: routine ? .debug : .info,
            "\(peer): \(request.method) \(request.uri.path) \(response.status.code) \(milliseconds) ms")
        return response
    }

    private static func describe(_ peer: DaemonRequestContext.Peer??) -> String {
        switch peer {
        case .local(let credentials)??: return "uid \(credentials.uid) (pid \(credentials.pid))"
        case .certified(let subject, let address)??: return "\(subject) at \(address)"
        default: return "an unidentified peer"
        }
    }
}
