#if canImport(Glibc)
import Glibc
#endif
import CKVM
import KVM
import Seccomp
import Synchronization

/// One vCPU on its own OS thread: the `KVM_RUN` loop and its run state.
///
/// `KVM_RUN` blocks, so vCPUs never run on Swift concurrency's threads. Other threads
/// steer a vCPU by setting the wanted state and kicking it out of the guest
/// (`immediate_exit` plus a signal); the loop checks the wanted state between runs.
public final class VCPUThread: @unchecked Sendable {
    public enum State: Equatable, Sendable {
        case created, running, paused, stopped
    }

    private enum Request: UInt8, AtomicRepresentable { case run, pause, stop }

    private struct Control {
        var state: State = .created
        var thread: pthread_t?
        /// Signalled when the run loop returned, for a vCPU run on its launcher's thread
        /// (which cannot be joined).
        var finished: EventNotifier?
    }

    public let vcpu: KVMVirtualCPU
    /// The CPUID table the guest was given (what a snapshot carries).
    public let offeredCPUID: [kvm_cpuid_entry2]
    public let counters = ExitCounters()
    /// The host kernel's statistics of this vCPU. Opened here, before the vCPU first runs:
    /// `KVM_GET_STATS_FD` waits for the vCPU's lock, which a running (or halted) vCPU holds.
    let statistics: Result<KVMStatistics, KVMError>
    /// Read before each stretch of guest runs, without the lock: a lone atomic rather than part of `control`.
    private let wanted = Atomic<Request>(.run)
    private let control = Mutex(Control())
    private let wakeUp: EventNotifier
    private let exitHandler: VCPUExitHandler

    init(vcpu: KVMVirtualCPU, offeredCPUID: [kvm_cpuid_entry2], exitHandler: VCPUExitHandler) throws(VMMError) {
        self.vcpu = vcpu
        self.offeredCPUID = offeredCPUID
        self.exitHandler = exitHandler
        statistics = Result { () throws(KVMError) in try vcpu.openStatistics() }
        wakeUp = try EventNotifier()
    }

    public var state: State { control.withLock { $0.state } }

    /// Where vCPU threads start from, if set (`useLauncher`); else from the caller of `start`.
    private static let launcher = Mutex<ThreadLauncher?>(nil)

    /// Starts every later vCPU thread from `launcher`, a launcher of the vCPU kind: such a
    /// thread carries the vCPU filter alone (see `ThreadLauncher`).
    public static func useLauncher(_ launcher: ThreadLauncher) {
        precondition(launcher.kind == .vcpu, "vCPU threads need a launcher of the vCPU kind")
        Self.launcher.withLock { $0 = launcher }
    }

    /// Starts the vCPU's thread; `onLauncher` runs it on the launcher's own thread instead,
    /// if there is a launcher (a thread fewer; see `ThreadLauncher.runHere`).
    func start(onLauncher: Bool = false) throws(VMMError) {
        VCPUSignal.install()
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        var result: Int32 = 0
        var finished: EventNotifier?
        if let launcher = Self.launcher.withLock({ $0 }) {
            do {
                if onLauncher {
                    let notifier = try EventNotifier()
                    try launcher.runHere(&thread, Self.launchedRoutine, context, finished: notifier)
                    finished = notifier
                } else {
                    result = try launcher.create(&thread, Self.launchedRoutine, context)
                }
            } catch {
                Unmanaged<VCPUThread>.fromOpaque(context).release()
                throw error
            }
        } else {
            result = pthread_create(&thread, nil, Self.routine, context)
        }
        guard result == 0 else {
            Unmanaged<VCPUThread>.fromOpaque(context).release()
            throw .system("pthread_create for vCPU \(vcpu.id)", result)
        }
        control.withLock {
            $0.thread = thread
            $0.finished = finished
            if $0.state == .created { $0.state = .running }
        }
    }

    /// Asks the vCPU to leave the guest and wait; returns at once (see `state`).
    func pause() { request(.pause) }
    func resume() { request(.run) }
    func stop() { request(.stop) }

    /// Waits for the thread to end after `stop()`.
    func join() {
        guard let (thread, finished) = control.withLock({ c in c.thread.map { ($0, c.finished) } }) else { return }
        if let finished { finished.wait() } else { pthread_join(thread, nil) }
        control.withLock { $0.thread = nil }
    }

    private func request(_ request: Request) {
        let thread = control.withLock { c -> pthread_t? in
            guard c.state != .stopped else { return nil }
            wanted.store(request, ordering: .sequentiallyConsistent)
            return c.thread
        }
        wakeUp.signal()
        vcpu.requestImmediateExit(true)
        if let thread { pthread_kill(thread, VCPUSignal.number) }
    }

    private static let routine: ThreadLauncher.Routine = { context in
        Unmanaged<VCPUThread>.fromOpaque(context!).takeRetainedValue().runLoop(launched: false)
        return nil
    }

    private static let launchedRoutine: ThreadLauncher.Routine = { context in
        Unmanaged<VCPUThread>.fromOpaque(context!).takeRetainedValue().runLoop(launched: true)
        return nil
    }

    private func runLoop(launched: Bool) {
        ThreadConfinement.enterOrExit(.vcpu, name: "vcpu \(vcpu.id)", as: launched ? .inherited : .own)
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, VCPUSignal.number)
        pthread_sigmask(SIG_UNBLOCK, &blocked, nil)
        // Locals, not properties: reading a class's stored reference inside the loop costs a
        // retain and a release on every exit.
        let vcpu = self.vcpu, exitHandler = self.exitHandler, counters = self.counters
        var paused = false
        while true {
            vcpu.requestImmediateExit(false)
            // A request stores `wanted`, then sets immediate_exit. The fence orders the clear
            // above before the load below: either the load sees the request, or the request's
            // immediate_exit lands after the clear and the next KVM_RUN returns at once.
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            switch wanted.load(ordering: .sequentiallyConsistent) {
            case .stop:
                control.withLock { $0.state = .stopped }
                return
            case .pause:
                if !paused { control.withLock { $0.state = .paused } }
                paused = true
                wakeUp.wait()
                continue
            case .run:
                if paused { control.withLock { $0.state = .running } }
                paused = false
            }
            // The guest runs here until someone steers the vCPU: KVM_RUN then returns early
            // (immediate_exit, or the signal interrupting it) and the loop above takes over,
            // so the exit path itself reads no shared state.
            while true {
                do throws(KVMError) {
                    guard try vcpu.run() else {
                        counters.count(counters.interrupted)
                        break
                    }
                } catch {
                    exitHandler.fail(.hostFailure("vCPU \(vcpu.id): \(error)"))
                    break
                }
                exitHandler.handleExit(vcpu, counters: counters)
            }
        }
    }
}
