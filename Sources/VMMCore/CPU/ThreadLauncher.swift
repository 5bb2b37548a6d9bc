#if canImport(Glibc)
import Glibc
#endif
import Seccomp
import Synchronization

/// Starts threads from a thread of its own that carries exactly one kind's seccomp filter.
///
/// A thread inherits its creator's filters, and the kernel runs every filter a thread
/// carries on each of its system calls. Threads this launcher starts carry its filter
/// alone, so they need not add their own: vmm starts one for the vCPU threads before its
/// main thread installs the main filter, and every `KVM_RUN` then runs one filter, not
/// the main thread's and the vCPU's (docs/seccomp.md).
///
/// The launcher is started before any other filter exists, so it must come after what
/// needs a process of one thread (a user namespace, a uid change broadcast to threads).
public final class ThreadLauncher: Sendable {
    public typealias Routine = @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?

    /// The kind whose filter the launched threads carry.
    public let kind: ThreadKind
    private let name: String
    private let pending = Mutex<[Request]>([])
    private let wakeUp: EventNotifier

    private final class Request: @unchecked Sendable {
        let routine: Routine
        let context: UnsafeMutableRawPointer
        let done: EventNotifier
        /// Set for a routine the launcher runs on its own thread: signalled once it returned.
        let finished: EventNotifier?
        // Written by the launcher before `done` is signalled, read by the caller after.
        var thread = pthread_t()
        var result: Int32 = 0

        init(routine: Routine, context: UnsafeMutableRawPointer, finished: EventNotifier? = nil) throws(VMMError) {
            self.routine = routine
            self.context = context
            self.finished = finished
            done = try EventNotifier()
        }
    }

    /// Starts the launcher's thread, named `name`, which enters `kind`'s filter first.
    /// Throws when the host has no thread to give.
    public init(kind: ThreadKind, name: String) throws(VMMError) {
        self.kind = kind
        self.name = name
        wakeUp = try EventNotifier()
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            let launcher = Unmanaged<ThreadLauncher>.fromOpaque(context!).takeRetainedValue()
            launcher.serve()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ThreadLauncher>.fromOpaque(context).release()
            throw .system("starting the \(name) thread (the host is out of threads or processes, or of memory)", result)
        }
        pthread_detach(thread)
    }

    /// `pthread_create(thread, nil, routine, context)` on the launcher's thread: returns 0
    /// and the new thread, or pthread_create's error.
    public func create(_ thread: inout pthread_t, _ routine: Routine, _ context: UnsafeMutableRawPointer) throws(VMMError) -> Int32 {
        let request = try Request(routine: routine, context: context)
        pending.withLock { $0.append(request) }
        wakeUp.signal()
        request.done.wait()
        thread = request.thread
        return request.result
    }

    /// Runs `routine(context)` on the launcher's own thread, which is then `thread`, and
    /// signals `finished` once it returned: a thread fewer (vmm runs vCPU 0 so). The launcher
    /// starts nothing meanwhile, so this comes after every `create` the routine's end waits for.
    public func runHere(
        _ thread: inout pthread_t, _ routine: Routine, _ context: UnsafeMutableRawPointer, finished: EventNotifier
    ) throws(VMMError) {
        let request = try Request(routine: routine, context: context, finished: finished)
        pending.withLock { $0.append(request) }
        wakeUp.signal()
        request.done.wait()
        thread = request.thread
    }

    /// The launcher's thread: the filter first, then requests until the process ends.
    private func serve() {
        ThreadConfinement.enterOrExit(kind, name: name, as: .launcher)
        while true {
            wakeUp.wait()
            for request in pending.withLock({ requests in defer { requests = [] }; return requests }) {
                if let finished = request.finished {
                    request.thread = pthread_self()
                    request.done.signal()
                    _ = request.routine(request.context)
                    ThreadConfinement.setThreadName(name)
                    finished.signal()
                } else {
                    request.result = pthread_create(&request.thread, nil, request.routine, request.context)
                    request.done.signal()
                }
            }
        }
    }
}
