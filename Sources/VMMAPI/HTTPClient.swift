import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An HTTP/1.1 client for the daemon's API, on its Unix socket or on a daemon's TCP port
/// with mutual TLS; also etcd's JSON gateway, over plain HTTP or TLS with a client
/// certificate.
///
/// Every request gets its own connection (`Connection: close`): a connection costs
/// microseconds locally and a TLS handshake a millisecond or two remotely, and no pool
/// means no stale connection to recover from.
///
/// Failures to reach the daemon are thrown as ``HTTPClientError``; a non-2xx answer
/// with an error body is thrown as the ``APIError`` it carries.
public final class HTTPClient: Sendable {
    /// The daemon this client talks to.
    public let endpoint: Endpoint
    private let transport: Transport
    private let eventLoopGroup: any EventLoopGroup

    private enum Transport: Sendable {
        case unixSocket(String)
        case tls(HostAndPort, NIOSSLContext)
        case plain(HostAndPort)
    }

    /// A client for the daemon listening on `socketPath`; connects only when asked to.
    public convenience init(socketPath: String, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        // A Unix socket endpoint loads no files, so it cannot fail.
        try! self.init(endpoint: .unixSocket(path: socketPath), eventLoopGroup: eventLoopGroup)
    }

    /// A client for the daemon at `endpoint`; connects only when asked to. For an HTTPS
    /// endpoint the TLS files are read now, so a bad one fails here with a
    /// ``TLSFilesError`` rather than at the first request.
    public init(endpoint: Endpoint, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(TLSFilesError) {
        self.endpoint = endpoint
        self.eventLoopGroup = eventLoopGroup
        switch endpoint {
        case .unixSocket(let path):
            transport = .unixSocket(path)
        case .https(let address, let files):
            transport = .tls(address, try files.clientContext())
        case .http(let address):
            transport = .plain(address)
        }
    }

    /// Sends one request (`body`, if any, as `application/json`) and returns the response
    /// whatever its status. With a `timeout`, connecting and the whole response must take
    /// less, else ``HTTPClientError/timedOut(endpoint:)``.
    public func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, timeout: TimeAmount? = nil) async throws -> Response {
        try await exchange(method, path, body: body, headers: [], timeout: timeout) { reader, _ in
            let head = try await reader.head()
            return Response(status: Int(head.status.code), headers: head.headers, body: try await reader.remainingBody())
        }
    }

    /// Sends one request with `body` as JSON; throws the API's error unless the status is 2xx.
    @discardableResult
    public func request(_ method: HTTPMethod, _ path: String, body: (any Encodable)? = nil) async throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let bytes = try body.map { Array(try encoder.encode($0)) }
        let response = try await send(method, path, body: bytes)
        guard response.isSuccess else { throw response.error }
        return response
    }

    /// `GET path`, decoded from JSON.
    public func get<Result: Decodable>(_ path: String, as type: Result.Type = Result.self) async throws -> Result {
        try await request(.GET, path).decode(type)
    }

    /// `GET path`, for a body that is not JSON (such as a console log).
    public func get(_ path: String) async throws -> Response {
        try await request(.GET, path)
    }

    /// `POST path` with an optional JSON body, the answer decoded from JSON.
    public func post<Result: Decodable>(
        _ path: String, body: (any Encodable)? = nil, as type: Result.Type = Result.self
    ) async throws -> Result {
        try await request(.POST, path, body: body).decode(type)
    }

    /// `POST path` with an optional JSON body, for when the answer's body does not matter.
    @discardableResult
    public func post(_ path: String, body: (any Encodable)? = nil) async throws -> Response {
        try await request(.POST, path, body: body)
    }

    /// `PATCH path` with a JSON body, the answer decoded from JSON.
    public func patch<Result: Decodable>(
        _ path: String, body: any Encodable, as type: Result.Type = Result.self
    ) async throws -> Result {
        try await request(.PATCH, path, body: body).decode(type)
    }

    /// `DELETE path`.
    @discardableResult
    public func delete(_ path: String) async throws -> Response {
        try await request(.DELETE, path)
    }

    /// The lines of a long-lived `GET path` response (such as the NDJSON of `/v1/events`),
    /// without their line ends, skipping empty ones.
    ///
    /// The connection stays open until the daemon ends the response or the consumer stops
    /// iterating. A non-2xx answer ends the stream with the API's error.
    public func stream(_ path: String) -> AsyncThrowingStream<String, any Error> {
        stream(.GET, path)
    }

    /// The lines of a long-lived response to `method path` with `body` (JSON) and extra
    /// `headers` (such as etcd's watch). With a `timeout`, connecting and the response's
    /// head must take less; the body may then take as long as the server keeps it open.
    public func stream(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = [], timeout: TimeAmount? = nil
    ) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await self.streamLines(method, path, body: body, headers: headers, timeout: timeout) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func streamLines(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)], timeout: TimeAmount?,
        _ yield: @Sendable (String) -> Void
    ) async throws {
        try await exchange(method, path, body: body, headers: headers, timeout: timeout) { reader, deadline in
            let head = try await reader.head()
            deadline?.cancel()
            guard (200..<300).contains(head.status.code) else {
                throw Response(status: Int(head.status.code), headers: head.headers, body: try await reader.remainingBody()).error
            }
            var splitter = LineSplitter()
            while let chunk = try await reader.nextBodyChunk() {
                splitter.append(chunk.readableBytesView).forEach(yield)
            }
            splitter.finish().map(yield)
        }
    }

    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// Connects, sends one request and hands the response to `read`; closes the connection
    /// after. With a `timeout`, a ``ResponseDeadline`` closes the connection when it passes
    /// (`read` may cancel it once it has what had to come in time).
    private func exchange<Result: Sendable>(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)], timeout: TimeAmount?,
        _ read: (inout ResponseReader, ResponseDeadline?) async throws -> Result
    ) async throws -> Result {
        let deadline = timeout.map { NIODeadline.now() + $0 }
        let channel = try await connect(deadline: deadline)
        let watchdog = deadline.map { ResponseDeadline(closing: channel.channel, at: $0) }
        defer { watchdog?.cancel() }
        do {
            return try await exchange(on: channel, method, path, body: body, headers: headers) { try await read(&$0, watchdog) }
        } catch where watchdog?.hasPassed == true {
            throw HTTPClientError.timedOut(endpoint: endpoint.description)
        }
    }

    private func exchange<Result: Sendable>(
        on channel: Connection, _ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)],
        _ read: (inout ResponseReader) async throws -> Result
    ) async throws -> Result {
        try await channel.executeThenClose { inbound, outbound in
            try await explainingFailures {
                do {
                    try await outbound.write(
                        contentsOf: Self.requestParts(method, path, body: body, host: hostHeader, extraHeaders: headers))
                } catch {
                    // A failed TLS handshake closes the channel under the write; why it
                    // failed is in the inbound stream.
                    for try await _ in inbound {}
                    throw error
                }
                var reader = ResponseReader(inbound)
                return try await read(&reader)
            }
        }
    }

    /// Runs `body`, turning a malformed response or a TLS failure into ``HTTPClientError``.
    func explainingFailures<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as HTTPParserError {
            throw HTTPClientError.malformedResponse("\(error)")
        } catch let error as NIOSSLError {
            throw HTTPClientError.tls(error, endpoint: endpoint.description)
        } catch let error as NIOSSLExtraError {
            throw HTTPClientError.tls(error, endpoint: endpoint.description)
        } catch let error as BoringSSLError {
            throw HTTPClientError.tls(error, endpoint: endpoint.description)
        }
    }

    private func connect(deadline: NIODeadline?) async throws -> Connection {
        try await connect(deadline: deadline) { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return try Connection(wrappingChannelSynchronously: channel)
        }
    }

    /// Connects to the daemon (behind a TLS client handler for HTTPS); `setUp` adds the
    /// rest of the pipeline on the channel's event loop and makes what the caller works with.
    func connect<Output: Sendable>(
        deadline: NIODeadline? = nil, _ setUp: @escaping @Sendable (any Channel) throws -> Output
    ) async throws -> Output {
        var bootstrap = ClientBootstrap(group: eventLoopGroup)
        if let deadline {
            bootstrap = bootstrap.connectTimeout(max(deadline - .now(), .milliseconds(1)))
        }
        do {
            switch transport {
            case .unixSocket(let path):
                return try await bootstrap.connect(unixDomainSocketPath: path) { Self.setUp($0, tls: nil, setUp) }
            case .tls(let address, let context):
                return try await bootstrap.connect(to: address) { channel in
                    // Names are checked against the certificate's DNS names (and sent as
                    // SNI); an address has no SNI and NIOSSL checks it against the IP names.
                    Self.setUp(channel, tls: (context, address.hostIsAddress ? nil : address.host), setUp)
                }
            case .plain(let address):
                return try await bootstrap.connect(to: address) { Self.setUp($0, tls: nil, setUp) }
            }
        } catch let error as IOError {
            throw HTTPClientError.connecting(to: endpoint.description, errno: error.errnoCode)
        } catch let error as NIOConnectionError {
            throw HTTPClientError.connecting(to: endpoint.description, error)
        } catch let error as SocketAddressError {
            throw HTTPClientError.connectionFailed(endpoint: endpoint.description, reason: "\(error)")
        } catch ChannelError.connectTimeout {
            throw deadline == nil
                ? HTTPClientError.connectionFailed(endpoint: endpoint.description, reason: "timed out")
                : HTTPClientError.timedOut(endpoint: endpoint.description)
        }
    }

    private static func setUp<Output: Sendable>(
        _ channel: any Channel, tls: (NIOSSLContext, String?)?, _ rest: @escaping @Sendable (any Channel) throws -> Output
    ) -> EventLoopFuture<Output> {
        channel.eventLoop.makeCompletedFuture {
            if let (context, serverHostname) = tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname))
            }
            return try rest(channel)
        }
    }

    /// HTTP/1.1 requires a Host header; a Unix socket has no host to name.
    var hostHeader: String {
        switch transport {
        case .unixSocket: return "localhost"
        case .tls(let address, _), .plain(let address): return address.description
        }
    }

    private static func requestParts(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, host: String, extraHeaders: [(String, String)]
    ) -> [HTTPClientRequestPart] {
        var headers = HTTPHeaders([("Host", host), ("Connection", "close"), ("Accept", "application/json")] + extraHeaders)
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
        } else if method != .GET && method != .HEAD {
            // Without a length some servers wait for a body that never comes.
            headers.add(name: "Content-Length", value: "0")
        }
        var parts: [HTTPClientRequestPart] = [.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers))]
        if let body, !body.isEmpty {
            parts.append(.body(.byteBuffer(ByteBuffer(bytes: body))))
        }
        parts.append(.end(nil))
        return parts
    }
}
