import Hummingbird
import VMMAPI

/// Turns every error, the router's own included (unknown route, body too large), into the
/// API's error shape with a fitting status.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = DaemonRequestContext
    /// A path the router has no route for with this method may have one with another: 405.
    let methods: MethodTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return JSONResponse.error(error)
        } catch let error as HTTPResponseError {
            if error.status == .notFound, let allow = methods.allowed(for: request.uri.path) {
                return Self.methodNotAllowed(request, allow: allow)
            }
            return JSONResponse.error(Self.apiError(for: error.status, request))
        } catch {
            context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            return JSONResponse.error(APIError.internalError("\(error)"))
        }
    }

    private static func methodNotAllowed(_ request: Request, allow: String) -> Response {
        var response = JSONResponse.error(APIError(
            code: .methodNotAllowed, message: "\(request.uri.path) takes \(allow), not \(request.method)"))
        response.headers[.allow] = allow
        // A HEAD answer has no body (its Content-Length still tells the GET one's).
        return request.method == .head ? response.createHeadResponse() : response
    }

    private static func apiError(for status: HTTPResponse.Status, _ request: Request) -> APIError {
        switch status.code {
        case 404: return APIError(code: .notFound, message: "no route for \(request.method) \(request.uri.path)")
        case 413: return APIError(code: .payloadTooLarge, message: "the request body is too large")
        case 400..<500: return APIError(code: .badRequest, message: status.reasonPhrase)
        default: return APIError.internalError(status.reasonPhrase)
        }
    }
}
