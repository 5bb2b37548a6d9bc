import Hummingbird
import VMMAPI

extension Router where Context == DaemonRequestContext {
    /// The methods a generic client may try on any path. CONNECT is left out: it asks for a
    /// tunnel, and the HTTP parser treats what follows it as opaque bytes.
    static var commonMethods: [HTTPRequest.Method] { [.get, .head, .post, .put, .patch, .delete, .options, .trace] }

    /// Answers every common method a served path does not take with 405 and an `Allow`
    /// header naming those it does (RFC 9110 §15.5.6), so a client can tell a wrong method
    /// from a wrong path (still 404). Call after every route is registered: the router's
    /// own table is the list, so the answer cannot drift from the routes.
    func answerOtherMethodsWith405() {
        for (_, routes) in Dictionary(grouping: routes, by: { $0.path.description }) {
            let taken = Set(routes.map(\.method))
            let allow = taken.map(\.rawValue).sorted().joined(separator: ", ")
            for method in Self.commonMethods where !taken.contains(method) {
                on(routes[0].path, method: method) { request, _ in
                    var response = JSONResponse.error(APIError(
                        code: .methodNotAllowed, message: "\(request.uri.path) takes \(allow), not \(request.method)"))
                    response.headers[.allow] = allow
                    // A HEAD answer has no body; its length would announce one.
                    return request.method == .head ? response.createHeadResponse() : response
                }
            }
        }
    }
}
