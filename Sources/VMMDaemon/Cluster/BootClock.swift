import Glibc

/// CLOCK_BOOTTIME, the clock `vmm`'s fence deadline is on; Swift's `ContinuousClock` reads
/// the same clock on Linux but keeps its value to itself.
enum BootClock {
    /// `instant` as CLOCK_BOOTTIME nanoseconds: never later than it (by a few microseconds
    /// early at most), since a fence deadline may err early but never late.
    static func nanoseconds(at instant: ContinuousClock.Instant) -> Int64 {
        var boot = timespec()
        // Read first: the offset to `instant` is then measured from a later `now`, so the
        // result comes out early by the time between the two reads.
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let (seconds, attoseconds) = (instant - ContinuousClock.now).components
        return Int64(boot.tv_sec) * 1_000_000_000 + Int64(boot.tv_nsec) + seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
