/// What API clients can make the daemon hold: bodies, headers, connections and time. The
/// defaults fit every legitimate request (the largest, a definition with many disks and
/// NICs, is a few KiB) with room to spare.
public struct APILimits: Sendable {
    /// Request bodies past this are refused with 413.
    public var maxBodySize = 1 << 20
    /// The request line and headers together past this are refused with 431.
    public var maxHeaderSize = 16 << 10
    /// Open connections, both listeners together. Past it a new connection closes the one
    /// waiting longest without a request being handled (idle, or still sending one); when
    /// every connection has a request being handled, the new one gets 503.
    public var maxConnections = 512
    /// A connection with no request for this long is closed.
    public var idleTimeout = Duration.seconds(60)
    /// A request must arrive whole (line, headers, body) within this from its first byte,
    /// or it gets 408 and the connection is closed: a slow client holds a connection for
    /// this long at most.
    public var requestTimeout = Duration.seconds(30)

    public init() {}
}
