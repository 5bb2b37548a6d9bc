import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import VMMAPI

/// What the daemon needs to migrate VMs to and from other daemons: its TLS identity for
/// the migration streams, a way to call a peer's API, and its own migration port.
struct PeerNetwork: Sendable {
    /// One HTTP exchange with a peer's API over mutual TLS.
    typealias Exchange = @Sendable (
        _ peer: HostAndPort, _ method: HTTPMethod, _ path: String, _ body: [UInt8]?
    ) async throws -> HTTPClient.Response

    /// Switches a connection to a peer's API to another protocol (`GET path` with
    /// `Upgrade`); returns the descriptor that carries its bytes (``HTTPClient/upgrade(_:to:)``).
    typealias Upgrade = @Sendable (_ peer: HostAndPort, _ path: String, _ protocol: String) async throws -> Int32

    let security: TunnelSecurity
    let exchange: Exchange
    let upgrade: Upgrade?
    /// Where this daemon accepts migration streams.
    let migrationPort: Int
    let tunnels = IncomingTunnels()

    init(security: TunnelSecurity, exchange: @escaping Exchange, upgrade: Upgrade? = nil, migrationPort: Int) {
        self.security = security
        self.exchange = exchange
        self.upgrade = upgrade
        self.migrationPort = migrationPort
    }

    /// The daemon's own TLS identity (`--tls-*`) in both directions: peers' API calls and
    /// streams go out with it, and the migration port takes only peers the CA signed.
    init(_ listener: TLSListener) throws {
        let files = listener.files
        let server = try files.serverContext()
        let client = try files.clientContext()
        let security = TunnelSecurity(
            addServer: { channel in try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: server)) },
            addClient: { channel, host in
                // An address is checked against the certificate's IP names; SNI takes names only.
                let name = HostAndPort(host: host, port: 0).hostIsAddress ? nil : host
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: client, serverHostname: name))
            })
        self.init(
            security: security,
            exchange: { peer, method, path, body in
                try await HTTPClient(endpoint: .https(peer, tls: files)).send(method, path, body: body)
            },
            upgrade: { peer, path, name in try await HTTPClient(endpoint: .https(peer, tls: files)).upgrade(path, to: name) },
            migrationPort: listener.migrationPort)
    }

    /// Calls `path` on `peer` with `body` as JSON and decodes the answer, or throws what the
    /// peer said went wrong (its `APIError`), or that it cannot be reached (a 502-like 503).
    func call<Answer: Decodable>(
        _ peer: HostAndPort, _ method: HTTPMethod, _ path: String, body: (any Encodable)? = nil,
        as type: Answer.Type = Answer.self
    ) async throws -> Answer {
        let response = try await send(peer, method, path, body: body)
        return try response.decode(type)
    }

    /// As `call`, for answers whose body does not matter.
    @discardableResult
    func send(
        _ peer: HostAndPort, _ method: HTTPMethod, _ path: String, body: (any Encodable)? = nil
    ) async throws -> HTTPClient.Response {
        let bytes = try body.map { Array(try JSONEncoder().encode($0)) }
        let response: HTTPClient.Response
        do {
            response = try await exchange(peer, method, path, bytes)
        } catch {
            throw PeerError.unreachable(peer, "\(error)")
        }
        guard response.isSuccess else { throw PeerError.refused(peer, response.status, response.error) }
        return response
    }
}

/// A peer could not be reached, or refused.
enum PeerError: Error, CustomStringConvertible {
    case unreachable(HostAndPort, String)
    case refused(HostAndPort, Int, any Error)

    var description: String {
        switch self {
        case .unreachable(let peer, let reason): return "cannot reach vmmd at \(peer): \(reason)"
        case .refused(let peer, let status, let error): return "vmmd at \(peer) refused (\(status)): \(error)"
        }
    }

    /// The status the peer answered with, if it answered.
    var status: Int? {
        if case .refused(_, let status, _) = self { return status }
        return nil
    }
}
