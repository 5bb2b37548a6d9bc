import NIOCore
import NIOPosix

/// Connecting to a `HOST:PORT` whose host is an IP address without NIO's Happy Eyeballs
/// connector, which `connect(host:port:)` uses even for an address: vmmd (a debug build)
/// crashed inside it twice in ~15 failover runs while peers were being killed, and a
/// failed connect there is reported to leave a promise unfulfilled, which NIO's debug
/// builds trap on. An address needs no resolving; a name still goes through it.
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
