import CLinux
import Glibc
import VMMAPI

/// Starts POSIX threads and reports when it cannot. Foundation's `Thread.start()` on
/// Linux drops a `pthread_create` failure, so work handed to it silently never ran (a
/// host out of PIDs then wedged whoever waited for that work).
enum SystemThread {
    /// Runs `body` on a new detached thread named `name` (the kernel shows 15 bytes of
    /// it), or throws a 503 that says what the host ran out of.
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) throws(APIError) {
        let context = Unmanaged.passRetained(Context(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { raw in
            let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            _ = clinux_set_thread_name(context.name)
            context.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Context>.fromOpaque(context).release()
            throw .hostOutOfThreads(for: name, errno: result)
        }
    }

    private final class Context {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}

extension APIError {
    /// A thread or process the daemon needed could not be created.
    static func hostOutOfThreads(for purpose: String, errno code: Int32) -> APIError {
        APIError(
            code: .unavailable,
            message: "the host cannot start another thread or process (\(purpose): \(String(cString: strerror(code)))): "
                + "it has reached a limit on tasks (kernel.pid_max, kernel.threads-max, the cgroup's pids.max or "
                + "RLIMIT_NPROC) or is out of memory; stop some VMs or raise the limit")
    }
}
