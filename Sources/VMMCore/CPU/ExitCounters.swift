import Synchronization

/// How often one vCPU left the guest, by reason. Written by the vCPU thread only, read
/// by anyone (metrics, benchmarks): relaxed atomics, and increments as a plain load and
/// store since there is one writer (no locked instruction on the exit path).
public final class ExitCounters: Sendable {
    public let portIO = Atomic<UInt64>(0)
    public let mmio = Atomic<UInt64>(0)
    public let interrupted = Atomic<UInt64>(0)
    public let other = Atomic<UInt64>(0)

    public init() {}

    @inline(__always)
    func count(_ counter: borrowing Atomic<UInt64>) {
        counter.store(counter.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }
}
