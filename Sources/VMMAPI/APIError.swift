/// An error as the API reports it: `{"error": {"code": "...", "message": "..."}}` with an
/// HTTP status that fits.
public struct APIError: Error, Codable, Equatable, Sendable, CustomStringConvertible {
    public struct Detail: Codable, Equatable, Sendable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: Code, message: String) {
        error = Detail(code: code.rawValue, message: message)
    }

    public var code: String { error.code }
    public var message: String { error.message }
    public var description: String { error.message }

    /// The error codes and the HTTP status each goes with.
    public enum Code: String, CaseIterable, Sendable {
        case badRequest = "bad_request"
        case forbidden
        case notFound = "not_found"
        /// The path exists, but not with this method; the response's `Allow` header lists
        /// the methods it takes.
        case methodNotAllowed = "method_not_allowed"
        /// The request did not arrive whole in time (a client too slow or stalled).
        case requestTimeout = "request_timeout"
        case conflict
        case payloadTooLarge = "payload_too_large"
        /// The request line and headers together are over the daemon's limit.
        case headersTooLarge = "headers_too_large"
        case invalidDefinition = "invalid_definition"
        case internalError = "internal_error"
        case unavailable
        /// The host's file system is full (a snapshot or disk copy did not fit).
        case insufficientStorage = "insufficient_storage"

        public var httpStatus: Int {
            switch self {
            case .badRequest: return 400
            case .forbidden: return 403
            case .notFound: return 404
            case .methodNotAllowed: return 405
            case .requestTimeout: return 408
            case .conflict: return 409
            case .payloadTooLarge: return 413
            case .headersTooLarge: return 431
            case .invalidDefinition: return 422
            case .internalError: return 500
            case .unavailable: return 503
            case .insufficientStorage: return 507
            }
        }
    }
}
