import NIOCore

/// Joins two NIO channels byte for byte, both ways: the daemon's migration tunnels (a
/// `vmm`'s Unix socket to a peer's TLS connection), its console attachments (an upgraded
/// API connection to a VM's console socket) and vmctl's side of an attachment (the
/// upgraded connection to a local socket pair).
///
/// Backpressure: a side reads only while the other side can take writes, so a slow reader
/// holds the sender back instead of filling memory in between. When either side closes,
/// what it sent is written out to the other, which is then closed too.
public enum ChannelSplice {
    /// Joins `first` and `second`, which must share an event loop; call on that loop.
    /// Both should have `autoRead` on (reads pass through the splice's gate).
    public static func join(_ first: any Channel, _ second: any Channel) throws {
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
