import Foundation
import NIOCore
import Synchronization
import VMMAPI

/// A client of an etcd 3.4 cluster through its JSON gateway (`/v3/...`), over
/// ``HTTPClient``: plain HTTP, or HTTPS with a client certificate.
///
/// It knows several members and sends each call to the one that answered last; when that
/// one fails, the call goes on to the next. Reads and lease calls are repeated on any
/// failure; writes only when they cannot have reached etcd (the connection was refused),
/// because a write that timed out may have been applied. Every call has a timeout.
public final class EtcdClient: Sendable {
    /// The members, in the order they are tried.
    public let endpoints: [HTTPClient.Endpoint]
    /// The longest one member may take to answer a call.
    public let timeout: Duration
    let members: [HTTPClient]
    private let preferred = Mutex(0)

    /// A client of the members at `endpoints`; connects only when asked to.
    public init(endpoints: [HTTPClient.Endpoint], timeout: Duration = .seconds(2)) throws {
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        self.endpoints = endpoints
        self.timeout = timeout
        members = try endpoints.map { try HTTPClient(endpoint: $0) }
    }

    /// A client of the members at `urls` (`http://HOST:PORT`, or `https://HOST:PORT` with
    /// `tls`: this host's certificate and key, and the CA that signed etcd's; plain HTTP
    /// URLs ignore it).
    public convenience init(urls: [String], tls: TLSFiles? = nil, timeout: Duration = .seconds(2)) throws {
        try self.init(endpoints: urls.map { try HTTPClient.Endpoint.url($0, tls: tls) }, timeout: timeout)
    }

    /// Which failures a call may be repeated on the next member after.
    enum Repeat {
        /// Any: the call changes nothing, or doing it twice is harmless.
        case afterAnyFailure
        /// Only when the request cannot have reached etcd.
        case ifUnsent
    }

    /// The member calls start with: the one that answered last.
    var preferredMember: Int { preferred.withLock { $0 } }

    /// POSTs `request` to `path` and decodes the answer, trying the members in turn.
    func call<Response: Decodable>(
        _ path: String, _ request: some Encodable, repeating: Repeat, timeout: Duration? = nil,
        as type: Response.Type = Response.self
    ) async throws -> Response {
        let body = Array(try JSONEncoder().encode(request))
        let first = preferredMember
        var reasons: [String] = []
        for attempt in 0..<members.count {
            let index = (first + attempt) % members.count
            let response: HTTPClient.Response
            do {
                response = try await members[index].send(.POST, path, body: body, timeout: (timeout ?? self.timeout).timeAmount)
            } catch let error as HTTPClientError {
                reasons.append("\(endpoints[index]): \(Self.reason(error))")
                if repeating == .afterAnyFailure || Self.isUnsent(error) { continue }
                throw EtcdError.unavailable(reasons: reasons)
            }
            if response.isSuccess {
                preferred.withLock { $0 = index }
                return try Self.decode(type, from: response.body)
            }
            let failure = try? JSONDecoder().decode(EtcdWire.CallError.self, from: Data(response.body))
            let code = failure?.code ?? 0
            let message = failure?.message ?? failure?.error ?? response.text
            // 14 (Unavailable) is a member without a leader or that cannot reach a quorum
            // in time: another member may do better.
            guard code == 14 || failure == nil else { throw EtcdError.refused(code: code, message: message) }
            reasons.append("\(endpoints[index]): HTTP \(response.status) \(message)")
            if repeating == .ifUnsent { break }
        }
        throw EtcdError.unavailable(reasons: reasons)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from body: [UInt8]) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw EtcdError.malformedResponse("not a \(Value.self): \(error)")
        }
    }

    /// A refused or failed connect: nothing was sent.
    static func isUnsent(_ error: HTTPClientError) -> Bool {
        switch error {
        case .daemonNotRunning, .permissionDenied, .connectionFailed, .tlsFailed: return true
        case .malformedResponse, .unexpectedStatus, .timedOut: return false
        }
    }

    /// The failure in words that do not assume the server is vmmd.
    static func reason(_ error: HTTPClientError) -> String {
        switch error {
        case .daemonNotRunning(_, let reason), .connectionFailed(_, let reason): return reason
        case .permissionDenied: return "permission denied"
        case .tlsFailed(_, let reason): return "TLS: \(reason)"
        case .malformedResponse(let what): return what
        case .unexpectedStatus(let status, let body): return "HTTP \(status) \(body)"
        case .timedOut: return "no answer in time"
        }
    }

    /// The end of the range of keys starting with `prefix` (etcd's `range_end`): the
    /// prefix with its last byte below 0xff incremented and what follows dropped.
    static func rangeEnd(ofPrefix prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]  // every key
    }
}

extension Duration {
    /// The same span for NIO.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
