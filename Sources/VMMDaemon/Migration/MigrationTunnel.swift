import Glibc
import NIOCore

/// Carries a migration stream between two channels, byte for byte, both ways: on the
/// source between the `vmm`'s Unix connection and the TLS connection to the destination,
/// on the destination between that TLS connection and `vmm receive`'s Unix socket.
///
/// Backpressure: a side reads only while the other side can take writes, so a slow link
/// holds the sending `vmm` back instead of filling the daemon's memory. When either side
/// closes, what it sent is written out to the other, which is then closed too.
enum MigrationTunnel {
    /// The first line of a connection to the migration port: `VMM-MIGRATION <id>\n`.
    static let headerPrefix = "VMM-MIGRATION "
    /// The longest first line accepted (an id is a UUID): anything longer is not a peer.
    static let maximumHeaderLength = 128

    static func header(for id: String) -> String { "\(headerPrefix)\(id)\n" }

    /// TCP_USER_TIMEOUT of the tunnel's TCP side: data unacknowledged this long (ms) means
    /// the link is gone, and the connection fails, so the sending `vmm` learns it at once
    /// instead of after its own 30 s without progress.
    static let linkTimeoutMilliseconds = 10_000
    /// The socket option that sets it (Linux's TCP_USER_TIMEOUT, 18).
    static let userTimeoutOption = ChannelOptions.Types.SocketOption(level: SocketOptionLevel(IPPROTO_TCP), name: 18)

    /// Joins `first` and `second`, which must share an event loop; call on that loop.
    /// Both should have `autoRead` on (reads pass through the splice's gate).
    static func splice(_ first: any Channel, _ second: any Channel) throws {
        first.eventLoop.preconditionInEventLoop()
        precondition(first.eventLoop === second.eventLoop, "a splice's channels share one event loop")
        let (a, b) = SpliceHandler.matchedPair()
        try first.pipeline.syncOperations.addHandler(a)
        try second.pipeline.syncOperations.addHandler(b)
        // A side that ended before the splice existed sends no inactive event to pass on.
        if !first.isActive { second.close(promise: nil) }
        if !second.isActive { first.close(promise: nil) }
    }
}

/// One end of a splice: what its channel reads goes to the partner's channel.
final class SpliceHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: SpliceHandler?
    private var context: ChannelHandlerContext?
    /// A read the channel asked for while the partner could not take more.
    private var pendingRead = false
    /// The last write into this channel, so a close waits until it is out.
    private var lastWrite: EventLoopFuture<Void>?

    private init() {}

    static func matchedPair() -> (SpliceHandler, SpliceHandler) {
        let first = SpliceHandler()
        let second = SpliceHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The partner may have been waiting for this side to exist.
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    // MARK: From the partner

    private func partnerWrite(_ data: NIOAny) {
        guard let context else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.write(data, promise: promise)
        lastWrite = promise.futureResult
    }

    private func partnerFlush() {
        context?.flush()
    }

    /// The partner's channel ended: finish writing what it sent, then close this one.
    private func partnerClosed() {
        guard let context else { return }
        context.flush()
        let channel = context.channel
        if let lastWrite {
            lastWrite.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    private var partnerIsWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerBecameWritable() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    // MARK: This channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let partner = partner
        self.partner = nil
        partner?.partner = nil
        partner?.partnerClosed()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    /// A broken stream fails the migration at both `vmm`s; nothing here to recover.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerIsWritable == true {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
