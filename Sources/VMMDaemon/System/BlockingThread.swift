import Foundation

/// Runs blocking system calls on a thread of their own, so a stuck socket or a long wait
/// never holds one of Swift concurrency's few cooperative threads.
enum BlockingThread {
    /// Runs `work` on a new thread and returns its result.
    static func run<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try work() })
            }
            thread.name = name
            thread.start()
        }
    }

    /// Starts `work` on a new thread and does not wait for it.
    static func detach(_ name: String, _ work: @escaping @Sendable () -> Void) {
        let thread = Thread(block: work)
        thread.name = name
        thread.start()
    }
}
