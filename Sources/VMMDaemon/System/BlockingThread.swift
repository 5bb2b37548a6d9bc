/// Runs blocking system calls on a thread of their own, so a stuck socket or a long wait
/// never holds one of Swift concurrency's few cooperative threads.
enum BlockingThread {
    /// Runs `work` on a new thread and returns its result; throws at once (503) when no
    /// thread can be started.
    static func run<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try SystemThread.start(name) { continuation.resume(with: Result { try work() }) }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
