import Logging
import NIOCore
import Synchronization

/// Every open API connection, both listeners together, with what it is doing, so that no
/// client holds more than the limits allow (``APILimits``): past `maxConnections` a new
/// connection closes the one waiting longest without a request being handled, and a
/// connection idle or sending a request past its deadline is closed. Requests being
/// handled (a long stop, the events stream) are never cut.
final class ConnectionRegistry: Sendable {
    /// What a connection is doing.
    enum Phase: Sendable {
        /// No request: waiting for the next one.
        case idle
        /// A request's bytes are arriving (line, headers or body).
        case receiving
        /// A whole request is with its handler, or its response is being written.
        case handling
    }

    /// Sent down a connection's pipeline when its request did not arrive in time.
    struct RequestTimedOut {}

    private struct Entry {
        let channel: any Channel
        var phase: Phase
        /// When `phase` began.
        var since: NIODeadline
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        /// The last time the limit was logged, so that a flood of connections logs once a minute.
        var limitLogged: NIODeadline?
    }

    let limits: APILimits
    private let state = Mutex(State())
    private let logger: Logger

    init(limits: APILimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Registers a new connection; false when it must be refused (the limit is reached and
    /// every connection has a request being handled). At the limit, the connection idle
    /// or receiving longest is closed to make room.
    func admit(_ channel: any Channel) -> Bool {
        let now = NIODeadline.now()
        let (admitted, evicted, logLimit) = state.withLock { state -> (Bool, (any Channel)?, Bool) in
            var evicted: (any Channel)?
            var logLimit = false
            if state.entries.count >= limits.maxConnections {
                logLimit = state.limitLogged.map { now - $0 > .minutes(1) } ?? true
                if logLimit { state.limitLogged = now }
                let waiting = state.entries.filter { $0.value.phase != .handling }
                guard let longest = waiting.min(by: { $0.value.since < $1.value.since }) else { return (false, nil, logLimit) }
                state.entries[longest.key] = nil
                evicted = longest.value.channel
            }
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, phase: .idle, since: now)
            return (true, evicted, logLimit)
        }
        if logLimit {
            logger.notice(
                "API connection limit (\(limits.maxConnections)) reached: closing the longest waiting connections, refusing new ones while every connection has a request being handled")
        }
        if let evicted {
            logger.debug("closed API connection from \(Self.describe(evicted)) to make room for a new one")
            evicted.close(promise: nil)
        }
        return admitted
    }

    func remove(_ channel: any Channel) {
        state.withLock { state in
            let key = ObjectIdentifier(channel)
            if state.entries[key]?.channel === channel { state.entries[key] = nil }
        }
    }

    func enter(_ phase: Phase, _ channel: any Channel) {
        let now = NIODeadline.now()
        state.withLock { state in
            state.entries[ObjectIdentifier(channel)]?.phase = phase
            state.entries[ObjectIdentifier(channel)]?.since = now
        }
    }

    /// Closes every connection past its deadline once a second, for as long as the daemon runs.
    func startSweeping(on eventLoop: any EventLoop) {
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in self.sweep() }
    }

    /// Closes idle connections past `idleTimeout`; tells those whose request is overdue
    /// (``RequestTimedOut``), whose pipeline answers 408 and closes.
    func sweep(now: NIODeadline = .now()) {
        let idleTimeout = TimeAmount(limits.idleTimeout), requestTimeout = TimeAmount(limits.requestTimeout)
        let expired = state.withLock { state -> [Entry] in
            let expired = state.entries.filter { _, entry in
                switch entry.phase {
                case .idle: return now - entry.since > idleTimeout
                case .receiving: return now - entry.since > requestTimeout
                case .handling: return false
                }
            }
            for key in expired.keys { state.entries[key] = nil }
            return Array(expired.values)
        }
        for entry in expired {
            if entry.phase == .receiving {
                logger.debug("API request from \(Self.describe(entry.channel)) did not arrive within \(limits.requestTimeout)")
                entry.channel.pipeline.fireUserInboundEventTriggered(RequestTimedOut())
            } else {
                entry.channel.close(promise: nil)
            }
        }
    }

    private static func describe(_ channel: any Channel) -> String {
        channel.remoteAddress.map(HandshakeLogger.describe) ?? "the Unix socket"
    }
}
