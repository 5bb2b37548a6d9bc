#if canImport(Glibc)
import Glibc
#endif
import Seccomp
import VMMCore

/// Starts a detached OS thread: for blocking loops (signals, console input) that must
/// not occupy Swift concurrency's cooperative threads. The thread is named and put under
/// its kind's seccomp filter before `body` runs.
enum HostThread {
    /// Throws when the host has no thread to give (a pids limit, kernel.threads-max, no
    /// memory for a stack): at start-up vmm then exits with status 6 and says so.
    static func detach(_ kind: ThreadKind, name: String, _ body: @escaping @Sendable () -> Void) throws(VMMError) {
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
        guard result == 0 else {
            Unmanaged<AnyObject>.fromOpaque(context).release()
            throw .system("starting the \(name) thread (the host is out of threads or processes, or of memory)", result)
        }
        pthread_detach(thread)
    }
}
