#if canImport(Glibc)
import Glibc
#endif
import Seccomp

/// Starts a detached OS thread: for blocking loops (signals, console input) that must
/// not occupy Swift concurrency's cooperative threads. The thread is named and put under
/// its kind's seccomp filter before `body` runs.
enum HostThread {
    static func detach(_ kind: ThreadKind, name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box {
            ThreadConfinement.enterOrExit(kind, name: name)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}
