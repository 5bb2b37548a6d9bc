import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

extension HTTPClient {
    /// Sends `GET path` asking to switch the connection to `protocol` (HTTP/1.1 `Upgrade`),
    /// as the daemon's console attachment (`/v1/vms/NAME/console/attach`, `vmm-console`)
    /// wants. After 101 Switching Protocols the connection carries raw bytes both ways;
    /// they come out of, and go into, the returned descriptor: one end of a local socket
    /// pair (close-on-exec) on which blocking reads, writes and poll(2) work alike over the
    /// Unix socket and over TLS. Closing it closes the connection; the connection closing
    /// shows as end of file on it. Any other answer is thrown as the API's error.
    public func upgrade(_ path: String, to protocol: String) async throws -> Int32 {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw HTTPClientError.connectionFailed(endpoint: endpoint.description, reason: "socketpair: \(String(cString: strerror(errno)))")
        }
        let upgrader = StreamUpgrader(protocol: `protocol`, descriptor: pair[1])
        defer { upgrader.closeUnlessTaken() }
        do {
            let host = hostHeader
            let outcome = try await connect { channel in
                let head = HTTPRequestHead(
                    version: .http1_1, method: .GET, uri: path, headers: HTTPHeaders([("Host", host), ("Content-Length", "0")]))
                var configuration = NIOUpgradableHTTPClientPipelineConfiguration(
                    upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(upgradeRequestHead: head, upgraders: [upgrader]) { channel in
                        channel.eventLoop.makeCompletedFuture { .refused(try Connection(wrappingChannelSynchronously: channel)) }
                    })
                // Bytes the server sent right behind its 101 belong to the stream.
                configuration.leftOverBytesStrategy = .forwardBytes
                return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: configuration)
            }
            switch try await explainingFailures({ try await outcome.get() }) {
            case .switched:
                return pair[0]
            case .refused(let connection):
                throw try await explainingFailures {
                    try await connection.executeThenClose { inbound, _ in
                        var reader = ResponseReader(inbound)
                        let head = try await reader.head()
                        return Response(status: Int(head.status.code), headers: head.headers, body: try await reader.remainingBody()).error
                    }
                }
            }
        } catch {
            close(pair[0])
            throw error
        }
    }
}
