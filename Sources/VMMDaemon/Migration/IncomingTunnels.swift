import Synchronization

/// The migrations this daemon expects on its migration port: id → the `vmm receive`
/// socket the stream goes to. Shared by the manager (which registers them) and the
/// listener's event loops (which claim them), hence a lock, not the actor.
final class IncomingTunnels: Sendable {
    private let expected = Mutex<[String: String]>([:])

    func expect(_ id: String, socketPath: String) {
        expected.withLock { $0[id] = socketPath }
    }

    func forget(_ id: String) {
        _ = expected.withLock { $0.removeValue(forKey: id) }
    }

    /// The socket for `id`, once: a second connection naming the same id is refused.
    func claim(_ id: String) -> String? {
        expected.withLock { $0.removeValue(forKey: id) }
    }
}
