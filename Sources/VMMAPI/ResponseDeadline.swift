import NIOConcurrencyHelpers
import NIOCore

/// Closes a connection when its request's deadline passes, so that a server that stops
/// answering ends the request instead of leaving it waiting for ever; the client then
/// reports ``HTTPClientError/timedOut(endpoint:)``.
final class ResponseDeadline: Sendable {
    private let timer: NIOLockedValueBox<Scheduled<Void>?>
    private let passed = NIOLockedValueBox(false)

    init(closing channel: any Channel, at deadline: NIODeadline) {
        timer = NIOLockedValueBox(nil)
        let passed = self.passed
        let scheduled = channel.eventLoop.scheduleTask(deadline: deadline) {
            passed.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        timer.withLockedValue { $0 = scheduled }
    }

    /// Whether the deadline passed (and the connection was closed for it).
    var hasPassed: Bool { passed.withLockedValue { $0 } }

    /// What had to come in time came: the connection may stay open.
    func cancel() {
        timer.withLockedValue { $0?.cancel() }
    }
}
