import NIOCore
import NIOPosix

/// Connecting to a `HOST:PORT`: an IP address directly, a name through NIO's Happy Eyeballs
/// connector (which `connect(host:port:)` runs even for an address, with a resolver and
/// timers that an address does not need).
extension ClientBootstrap {
    public func connect(to target: HostAndPort) -> EventLoopFuture<any Channel> {
        if let address = try? SocketAddress(ipAddress: target.host, port: target.port) {
            return connect(to: address)
        }
        return connect(host: target.host, port: target.port)
    }

    public func connect<Output: Sendable>(
        to target: HostAndPort, channelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>
    ) async throws -> Output {
        if let address = try? SocketAddress(ipAddress: target.host, port: target.port) {
            return try await connect(to: address, channelInitializer: channelInitializer)
        }
        return try await connect(host: target.host, port: target.port, channelInitializer: channelInitializer)
    }
}
