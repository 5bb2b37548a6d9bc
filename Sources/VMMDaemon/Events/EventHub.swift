import Synchronization
import VMMAPI

/// Fans VM state changes out to every `/v1/events` subscriber.
final class EventHub: Sendable {
    /// Cluster mode: this host's name, given to the events of its own VMs.
    private let host: String?
    private struct Subscribers {
        var next = 0
        var streams: [Int: AsyncStream<VMEvent>.Continuation] = [:]
    }

    private let subscribers = Mutex(Subscribers())

    init(host: String?) {
        self.host = host
    }

    /// A stream of every event published from now on; it ends when the consumer stops.
    func subscribe() -> AsyncStream<VMEvent> {
        let (stream, continuation) = AsyncStream<VMEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = subscribers.withLock { subscribers in
            subscribers.next += 1
            subscribers.streams[subscribers.next] = continuation
            return subscribers.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.streams.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ event: VMEvent) {
        var event = event
        if event.host == nil { event.host = host }
        for continuation in subscribers.withLock({ Array($0.streams.values) }) {
            continuation.yield(event)
        }
    }
}
