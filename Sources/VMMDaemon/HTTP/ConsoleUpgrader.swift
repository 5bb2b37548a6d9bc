import Glibc
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import VMMAPI

/// Switches a connection whose request is `GET /v1/vms/NAME/console/attach` with
/// `Connection: Upgrade` and `Upgrade: vmm-console` to the VM's serial console: after the
/// 101 the connection carries raw bytes both ways, spliced to a connection of its own to
/// the `vmm`'s console socket (which sends the recent output first and fans out to every
/// client; the first client to type holds the input).
///
/// Everything that can refuse is checked before the 101 (the API's access rule, the VM,
/// its console socket); if anything fails, `GuardedHTTP1Channel` hands the
/// request to the router, whose route for the same path answers with the error.
///
/// In a cluster, the console of a VM another host has is attached there (over the peers'
/// mutual TLS) and that connection is spliced to this one.
///
/// One per connection: it keeps the console connection between the check and the switch.
final class ConsoleUpgrader: NIOTypedHTTPServerProtocolUpgrader, Sendable {
    typealias UpgradeResult = GuardedHTTP1Channel.Outcome

    /// What attaching needs from the daemon.
    struct Needs: Sendable {
        let manager: VMManager
        let access: AccessMiddleware
        let logger: Logger
    }

    /// The `Upgrade` token of an attachment.
    static let protocolName = "vmm-console"
    /// How long a VM that is starting gets to create its console socket.
    static let socketWait: Duration = .seconds(5)

    let supportedProtocol = ConsoleUpgrader.protocolName
    let requiredUpgradeHeaders: [String] = []

    private let manager: VMManager
    private let access: AccessMiddleware
    private let logger: Logger
    private let switched: @Sendable () -> Void
    private let console = Mutex<(any Channel)?>(nil)

    /// `switched` runs on the connection's event loop once it carries the console.
    init(_ needs: Needs, switched: @escaping @Sendable () -> Void) {
        manager = needs.manager
        access = needs.access
        logger = needs.logger
        self.switched = switched
    }

    /// The VM named by an attach path (`/v1/vms/NAME/console/attach`, any query ignored).
    static func vmName(inAttachPath uri: String) -> String? {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].isEmpty, parts[1] == "v1", parts[2] == "vms", parts[4] == "console", parts[5] == "attach"
        else { return nil }
        return String(parts[3])
    }

    func buildUpgradeResponse(
        channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        guard upgradeRequest.method == .GET, let name = Self.vmName(inAttachPath: upgradeRequest.uri) else {
            return channel.eventLoop.makeFailedFuture(APIError(code: .notFound, message: "no console attachment at \(upgradeRequest.uri)"))
        }
        let promise = channel.eventLoop.makePromise(of: HTTPHeaders.self)
        promise.completeWithTask { [manager, access, logger] in
            let peer = try? await DaemonRequestContext.peer(of: channel).get()
            try access.admit(peer)
            let connection: any Channel
            if let descriptor = try await manager.attachElsewhere(name, upgradeRequest.uri, protocol: Self.protocolName) {
                // In a cluster, the VM's host attached it: its connection is spliced here.
                connection = try await Self.adopt(descriptor, on: channel.eventLoop)
            } else {
                connection = try await Self.connect(try await manager.consoleSocket(name), on: channel.eventLoop)
            }
            // Whatever happens to the API connection from now on, the console's goes with it.
            channel.closeFuture.whenComplete { _ in connection.close(promise: nil) }
            self.console.withLock { $0 = connection }
            logger.info("console of \(name) attached by \(peer.map(Self.describe) ?? "?")")
            channel.closeFuture.whenComplete { _ in logger.info("console of \(name) detached") }
            return initialResponseHeaders
        }
        return promise.futureResult
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            guard let connection = console.withLock({ $0.take() }) else {
                throw APIError.internalError("console upgrade without a console connection")
            }
            // A client that closes its sending side is done: no console stays open behind it.
            try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            try ChannelSplice.join(channel, connection)
            try connection.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            switched()
            return .console
        }
    }

    /// Connects to the console socket without reading yet (the splice decides when), on the
    /// API connection's event loop (a splice's channels share one). A VM that is starting
    /// may not have created the socket yet: retried for `socketWait`.
    private static func connect(_ path: String, on eventLoop: any EventLoop) async throws -> any Channel {
        let clock = ContinuousClock()
        let deadline = clock.now + socketWait
        while true {
            do {
                return try await ClientBootstrap(group: eventLoop)
                    .channelOption(ChannelOptions.autoRead, value: false)
                    .connect(unixDomainSocketPath: path).get()
            } catch let error as IOError where [ENOENT, ECONNREFUSED].contains(error.errnoCode) && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// A connected socket (the end of an attachment made to another host) as a channel
    /// that does not read yet, on the API connection's event loop.
    private static func adopt(_ descriptor: Int32, on eventLoop: any EventLoop) async throws -> any Channel {
        do {
            return try await ClientBootstrap(group: eventLoop).channelOption(ChannelOptions.autoRead, value: false)
                .withConnectedSocket(descriptor).get()
        } catch {
            close(descriptor)
            throw error
        }
    }

    private static func describe(_ peer: DaemonRequestContext.Peer) -> String {
        switch peer {
        case .local(let credentials): return "uid \(credentials.uid) (pid \(credentials.pid))"
        case .certified(let subject, let address): return "\(subject) at \(address)"
        }
    }
}
