#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a request to the daemon failed before the API could answer it.
///
/// Errors the API reports itself (a non-2xx status with an error body) are thrown as
/// ``APIError`` instead, so a caller can tell "vmmd said no" from "vmmd was not there".
public enum UnixHTTPClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing serves the socket: it does not exist, or nothing listens on it any more.
    case daemonNotRunning(socketPath: String, reason: String)
    /// The socket exists but this user may not connect to it.
    case permissionDenied(socketPath: String)
    /// Connecting failed for another reason (`reason` is the system's word for it).
    case connectionFailed(socketPath: String, reason: String)
    /// The daemon answered something that is not the HTTP or JSON the contract promises.
    case malformedResponse(String)
    /// A non-2xx status whose body is not an API error (e.g. from a proxy or an older daemon).
    case unexpectedStatus(Int, body: String)

    /// The error for a failed `connect(2)` to `socketPath` with `errno`.
    public static func connecting(to socketPath: String, errno code: Int32) -> UnixHTTPClientError {
        switch code {
        case ENOENT, ENOTDIR:
            return .daemonNotRunning(socketPath: socketPath, reason: "no such socket")
        case ECONNREFUSED:
            return .daemonNotRunning(socketPath: socketPath, reason: "connection refused")
        case EACCES, EPERM:
            return .permissionDenied(socketPath: socketPath)
        default:
            return .connectionFailed(socketPath: socketPath, reason: String(cString: strerror(code)))
        }
    }

    public var description: String {
        switch self {
        case .daemonNotRunning(let path, let reason):
            return "cannot reach vmmd at \(path): \(reason)"
        case .permissionDenied(let path):
            return "cannot connect to vmmd at \(path): permission denied"
        case .connectionFailed(let path, let reason):
            return "cannot connect to vmmd at \(path): \(reason)"
        case .malformedResponse(let what):
            return "malformed response from vmmd: \(what)"
        case .unexpectedStatus(let status, let body):
            return body.isEmpty ? "vmmd answered HTTP \(status)" : "vmmd answered HTTP \(status): \(body)"
        }
    }
}
