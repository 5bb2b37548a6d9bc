#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// Why a request to the daemon failed before the API could answer it.
///
/// Errors the API reports itself (a non-2xx status with an error body) are thrown as
/// ``APIError`` instead, so a caller can tell "vmmd said no" from "vmmd was not there".
/// `endpoint` is the socket path or `https://HOST:PORT`.
public enum HTTPClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing serves the endpoint: no socket, or nothing listens on it.
    case daemonNotRunning(endpoint: String, reason: String)
    /// The socket exists but this user may not connect to it.
    case permissionDenied(endpoint: String)
    /// Connecting failed for another reason (`reason` is the system's word for it).
    case connectionFailed(endpoint: String, reason: String)
    /// The TLS handshake failed: one side did not accept the other's certificate.
    case tlsFailed(endpoint: String, reason: String)
    /// The daemon answered something that is not the HTTP or JSON the contract promises.
    case malformedResponse(String)
    /// A non-2xx status whose body is not an API error (e.g. from a proxy or an older daemon).
    case unexpectedStatus(Int, body: String)
    /// The server did not answer within the request's timeout.
    case timedOut(endpoint: String)

    /// The error for a failed `connect(2)` to `endpoint` with `errno`.
    public static func connecting(to endpoint: String, errno code: Int32) -> HTTPClientError {
        switch code {
        case ENOENT, ENOTDIR:
            return .daemonNotRunning(endpoint: endpoint, reason: "no such socket")
        case ECONNREFUSED:
            return .daemonNotRunning(endpoint: endpoint, reason: "connection refused")
        case EACCES, EPERM:
            return .permissionDenied(endpoint: endpoint)
        default:
            return .connectionFailed(endpoint: endpoint, reason: String(cString: strerror(code)))
        }
    }

    /// The error for a failed TCP connection: the name did not resolve, or every address refused.
    static func connecting(to endpoint: String, _ error: NIOConnectionError) -> HTTPClientError {
        if let failure = error.connectionErrors.first, let ioError = failure.error as? IOError {
            return connecting(to: endpoint, errno: ioError.errnoCode)
        }
        if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
            return .connectionFailed(endpoint: endpoint, reason: "cannot resolve \(error.host)")
        }
        return .connectionFailed(endpoint: endpoint, reason: "\(error)")
    }

    /// The error for a failed TLS handshake, in words: BoringSSL's reason codes name the
    /// cause but not which side's certificate is at fault.
    static func tls(_ error: any Error, endpoint: String) -> HTTPClientError {
        let text = String(describing: error)
        let reasons: [(String, String)] = [
            ("CERTIFICATE_VERIFY_FAILED", "vmmd's certificate is not signed by the CA (--tls-ca) or has expired"),
            ("failedToValidateHostname", "vmmd's certificate does not name the host in the address"),
            ("CERTIFICATE_REQUIRED", "vmmd wants a client certificate (--tls-cert, --tls-key)"),
            ("UNKNOWN_CA", "vmmd refused this client's certificate: its CA did not sign it"),
            ("BAD_CERTIFICATE", "vmmd refused this client's certificate"),
            ("CERTIFICATE_EXPIRED", "vmmd refused this client's certificate: it has expired"),
            ("WRONG_VERSION_NUMBER", "the server does not speak TLS"),
        ]
        let reason = reasons.first { text.contains($0.0) }?.1 ?? "TLS handshake failed: \(text)"
        return .tlsFailed(endpoint: endpoint, reason: reason)
    }

    public var description: String {
        switch self {
        case .daemonNotRunning(let endpoint, let reason):
            return "cannot reach vmmd at \(endpoint): \(reason)"
        case .permissionDenied(let endpoint):
            return "cannot connect to vmmd at \(endpoint): permission denied"
        case .connectionFailed(let endpoint, let reason):
            return "cannot connect to vmmd at \(endpoint): \(reason)"
        case .tlsFailed(let endpoint, let reason):
            return "no TLS connection to vmmd at \(endpoint): \(reason)"
        case .malformedResponse(let what):
            return "malformed response from vmmd: \(what)"
        case .unexpectedStatus(let status, let body):
            return body.isEmpty ? "vmmd answered HTTP \(status)" : "vmmd answered HTTP \(status): \(body)"
        case .timedOut(let endpoint):
            return "no answer from \(endpoint) in time"
        }
    }
}
