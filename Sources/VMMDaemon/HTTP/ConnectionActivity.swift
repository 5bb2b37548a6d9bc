import NIOCore

/// What one API connection is doing, as its two watchers see it (``RequestBytesWatcher``
/// a request's first bytes, ``HTTPExchangeWatcher`` its head, its end and its response),
/// reported to the ``ConnectionRegistry`` as it changes. Lives on the connection's event loop.
final class ConnectionActivity {
    private let registry: ConnectionRegistry
    private let channel: any Channel
    private var phase = ConnectionRegistry.Phase.idle
    /// Requests whose head arrived and whose response has not ended (HTTP/1.1 pipelining
    /// makes it more than one).
    private var requestsInProgress = 0
    /// A request's head arrived and its end has not.
    private var bodyArriving = false
    /// The current response's head was written: too late for any other answer.
    private(set) var responding = false

    init(registry: ConnectionRegistry, channel: any Channel) {
        self.registry = registry
        self.channel = channel
    }

    var maxHeaderSize: Int { registry.limits.maxHeaderSize }

    func requestBytesArrived() {
        if phase == .idle { enter(.receiving) }
    }

    func requestHeadArrived() {
        requestsInProgress += 1
        bodyArriving = true
        if phase == .idle { enter(.receiving) }
    }

    func requestEnded() {
        bodyArriving = false
        // Answered before its body was read (a 413): the connection is idle now.
        if requestsInProgress == 0 {
            enter(.idle)
        } else if phase != .handling {
            enter(.handling)
        }
    }

    /// The connection left HTTP for a console (an upgrade): handled until it closes.
    func switchedProtocols() {
        enter(.handling)
    }

    func responseStarted() {
        responding = true
    }

    func responseEnded() {
        responding = false
        requestsInProgress -= 1
        // A body still arriving after its answer keeps its request's deadline.
        if requestsInProgress == 0, !bodyArriving { enter(.idle) }
    }

    private func enter(_ phase: ConnectionRegistry.Phase) {
        self.phase = phase
        registry.enter(phase, channel)
    }
}
