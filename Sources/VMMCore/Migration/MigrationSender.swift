#if canImport(Glibc)
import Glibc
#endif
import KVM
import Synchronization

/// Sends a running machine over a migration stream (docs/migration.md, "Algorithm
/// (source)"): memory while the guest runs, in rounds, then a short pause for the last
/// changes and the device state, then the commit (`go`).
///
/// `run` blocks for the whole migration; other threads read `progress` and may `cancel()`.
public final class MigrationSender: Sendable {
    /// Why the sender gave up; the message is what `status` shows.
    private enum Stop: Error {
        case failed(String)
        case cancelled(String)
    }

    private struct Shared {
        var progress = MigrationProgress()
        var cancelRequested = false
        /// `go` sent: past the commit point, the migration can no longer be cancelled.
        var committed = false
    }

    /// A round stops counting as progress unless it leaves at most this share of the
    /// round before: more, and the guest is throttled.
    static let shrinkFactor = 0.9
    static let handshakeTimeout = 30.0
    /// How long the destination may take to build the VM from what it received.
    static let readyTimeout = 60.0
    static let resumedTimeout = 30.0

    public let options: MigrationOptions
    let channel: MigrationChannel
    let kvm: KVMSystem
    let log: Logger
    private let shared = Mutex(Shared())

    public init(channel: MigrationChannel, options: MigrationOptions, kvm: KVMSystem, log: Logger) {
        self.channel = channel
        self.options = options
        self.kvm = kvm
        self.log = log
    }

    public var progress: MigrationProgress { shared.withLock { $0.progress } }

    /// Asks a migration that has not committed to give up; false once `go` was sent.
    public func cancel() -> Bool {
        shared.withLock { s in
            guard !s.committed else { return false }
            s.cancelRequested = true
            return true
        }
    }

    /// Migrates `machine`, which must be running; returns the phase it ended in:
    /// `completed` (the destination runs the guest; never run it here again),
    /// `awaitingConfirmation` (paused here, the destination's word lost), or `failed` /
    /// `cancelled` (the guest runs here as before).
    public func run(
        _ machine: Machine, description: SnapshotDescription, vcpus: SnapshotWriter.VCPUControl
    ) -> MigrationProgress.Phase {
        let started = MonotonicClock.now
        let throttle = VCPUThrottle(machine: machine)
        let disks = MigrationDiskSource(machine, copyStorage: options.copyStorage)
        var tracking = false
        var pausedAt: Double?
        // When the vCPUs were out, the last pass and state sent, the destination ready.
        var marks: [Double] = []
        do throws(Stop) {
            do throws(VMMError) {
                try handshake(machine, description: description)
                disks.startLogging()
                try machine.startDirtyTracking()
                tracking = true
                update { $0.phase = .precopy }
                let notCopied = try precopy(machine, disks: disks, throttle: throttle, started: started)
                throttle.stop()
                update { $0.phase = .stopping }
                pausedAt = MonotonicClock.now
                try vcpus.pause()
                machine.quiesceDevices()
                marks.append(MonotonicClock.now)
                try sendLastPass(machine, disks: disks, notCopied: notCopied, description: description)
                marks.append(MonotonicClock.now)
                try expect(.ready, timeout: Self.readyTimeout, what: "the destination to build the VM")
                marks.append(MonotonicClock.now)
            } catch {
                throw stop(for: error)
            }
            try commit()
        } catch {
            throttle.stop()
            let message = giveUp(error)
            if tracking { machine.stopDirtyTracking() }
            disks.stopLogging()
            if pausedAt != nil {
                for failure in disks.reacquireLocks() { log.error("migration failed and a disk stays unlocked: \(failure)") }
                machine.resumeDevices()
                vcpus.resume()
            }
            log.warning("migration to \(options.path) \(message)")
            return progress.phase
        }
        do throws(VMMError) {
            try expect(.resumed, timeout: Self.resumedTimeout, what: "the destination to resume the VM")
        } catch {
            let message = "the destination did not confirm that it resumed the VM (\(error)): the VM is paused "
                + "here; resume it only if it does not run there, else stop it"
            log.error("migration to \(options.path): \(message)")
            update {
                $0.phase = .awaitingConfirmation
                $0.message = message
            }
            return .awaitingConfirmation
        }
        let resumedAt = MonotonicClock.now
        let downtime = resumedAt - (pausedAt ?? started)
        update {
            $0.phase = .completed
            $0.downtime = downtime
        }
        let p = progress
        let steps = zip([pausedAt ?? started] + marks, marks + [resumedAt]).map { Self.milliseconds($1 - $0) }
        log.info(
            "migration to \(options.path) completed: \(p.bytesSent) bytes in \(p.rounds) rounds, "
                + "\(Int((p.bandwidth / 1e6).rounded())) Mbit/s, total \(Int((resumedAt - started) * 1000)) ms; "
                + "downtime \(Int((downtime * 1000).rounded(.up))) ms (pause \(steps[0]), last pass and state \(steps[1]), "
                + "destination build \(steps[2]), go to resumed \(steps[3]) ms)")
        return .completed
    }

    /// After `awaitingConfirmation`: the destination does not run the VM, so it goes on
    /// here. Restarts the devices; the caller resumes the vCPUs.
    public func resumeHere(_ machine: Machine) {
        let disks = MigrationDiskSource(machine, copyStorage: options.copyStorage)
        disks.stopLogging()
        for failure in disks.reacquireLocks() { log.error("a disk stays unlocked: \(failure)") }
        machine.stopDirtyTracking()
        machine.resumeDevices()
        update {
            $0.phase = .failed
            $0.message = "the destination did not confirm; the VM was resumed here"
        }
    }

    // MARK: Steps

    private func handshake(_ machine: Machine, description: SnapshotDescription) throws(VMMError) {
        let hello = MigrationHello(
            description: description, cpuid: machine.vcpus.first?.offeredCPUID ?? [],
            diskSizes: machine.devices.diskSizes, copyStorage: options.copyStorage)
        try channel.send(.hello, hello.encoded())
        let (kind, payload) = try channel.receive(timeout: Self.handshakeTimeout)
        switch kind {
        case .accept: return
        case .refuse: throw .invalidConfiguration("the destination refused the VM: \(Self.text(payload))")
        default: throw .invalidSnapshot("the destination answered the hello with '\(kind)', not accept or refuse")
        }
    }

    /// Copy rounds while the guest runs; returns what the last round found dirty (memory
    /// and disks) and left for the pause.
    private func precopy(
        _ machine: Machine, disks: MigrationDiskSource, throttle: VCPUThrottle, started: Double
    ) throws(VMMError) -> (memory: [Range<UInt64>], disks: [DiskRanges]) {
        var meter = BandwidthMeter(limit: options.bandwidth)
        try sendDisks(try disks.allocatedExtents(), from: disks, meter: &meter, started: started)
        try sendMemory(try machine.memory.populatedRanges(), of: machine.memory, meter: &meter, started: started)
        update { $0.rounds = 1 }
        var previous = UInt64.max
        while true {
            let dirty = try machine.takeDirtyRanges()
            let written = disks.takeWritten()
            let remaining = dirty.reduce(UInt64(0)) { $0 + UInt64($1.count) } + written.reduce(0) { $0 + $1.byteCount }
            let expected = Double(remaining) * 8 / max(meter.bitsPerSecond, 1)
            update {
                $0.remainingBytes = remaining
                $0.bandwidth = meter.bitsPerSecond
                $0.expectedDowntime = expected
            }
            if expected <= options.maximumDowntime { return (dirty, written) }
            if Double(remaining) > Double(previous) * Self.shrinkFactor {
                let percent = throttle.currentPercent == 0 ? 20 : min(throttle.currentPercent + 10, 99)
                try throttle.set(percent: percent)
                update { $0.throttlePercent = percent }
                log.info("migration: round \(progress.rounds) left \(remaining) bytes; vCPUs throttled to \(percent) %")
            }
            previous = remaining
            try sendDisks(written, from: disks, meter: &meter, started: started)
            try sendMemory(dirty, of: machine.memory, meter: &meter, started: started)
            update { $0.rounds += 1 }
        }
    }

    /// In the pause: the last written disk chunks, dirty pages and used rings; then the
    /// shared disks are let go and the device state goes out.
    private func sendLastPass(
        _ machine: Machine, disks: MigrationDiskSource, notCopied: (memory: [Range<UInt64>], disks: [DiskRanges]),
        description: SnapshotDescription
    ) throws(VMMError) {
        let pageSize = DeviceWriteLog.pageSize
        let rings = machine.virtqueueUsedRings().map { ring in
            ring.lowerBound / pageSize * pageSize..<min((ring.upperBound + pageSize - 1) / pageSize * pageSize, machine.memory.size)
        }
        var meter = BandwidthMeter(limit: nil)
        let written = zip(notCopied.disks, disks.takeWritten()).map { before, now in
            DiskRanges(index: now.index, ranges: GuestMemory.merge(before.ranges + now.ranges))
        }
        try sendDisks(written, from: disks, meter: &meter, started: nil)
        let last = GuestMemory.merge(notCopied.memory + (try machine.takeDirtyRanges()) + rings)
        try sendMemory(last, of: machine.memory, meter: &meter, started: nil)
        try disks.releaseLocks()
        let state = SnapshotFormat.frame(try machine.saveState(kvm: kvm, description: description))
        guard state.count <= MigrationFrame.maximumPayload else {
            throw .invalidConfiguration("the machine state is \(state.count) bytes, more than a frame carries")
        }
        try channel.send(.state, state)
        update { $0.bytesSent += UInt64(state.count) }
    }

    /// The commit point: `go` goes out unless a cancel came first.
    private func commit() throws(Stop) {
        let cancelled = shared.withLock { s -> Bool in
            if !s.cancelRequested { s.committed = true }
            return s.cancelRequested
        }
        if cancelled { throw .cancelled("cancelled (migrate-cancel)") }
        do throws(VMMError) {
            try channel.send(.go)
        } catch {
            // Whether `go` arrived is unknown only if the write failed midway; a failed
            // write of a few bytes on a Unix socket means the destination is gone.
            shared.withLock { $0.committed = false }
            throw stop(for: error)
        }
    }

    /// Bytes of memory per frame: at most a tenth of a second's worth under a bandwidth
    /// limit, so the pacing between frames stays short and the destination never waits long.
    private var chunkLimit: Int {
        let page = Int(DeviceWriteLog.pageSize)
        guard let limit = options.bandwidth else { return MigrationFrame.maximumMemoryChunk }
        return min(max(Int(limit / 8 / 10) / page * page, page), MigrationFrame.maximumMemoryChunk)
    }

    /// Sends `ranges` (memfd offsets) as `memory` frames by guest-physical address.
    private func sendMemory(
        _ ranges: [Range<UInt64>], of memory: GuestMemory, meter: inout BandwidthMeter, started: Double?
    ) throws(VMMError) {
        for range in ranges {
            for region in memory.regions {
                let low = max(range.lowerBound, region.offset), high = min(range.upperBound, region.offset + region.size)
                var offset = low
                while offset < high {
                    if let started { try checkGoOn(started: started) }
                    let count = Int(min(high - offset, UInt64(chunkLimit)))
                    var address = (region.guestAddress + offset - region.offset).littleEndian
                    try withUnsafeBytes(of: &address) { (header) throws(VMMError) in
                        try channel.send(.memory, [header, UnsafeRawBufferPointer(start: memory.base + Int(offset), count: count)])
                    }
                    offset += UInt64(count)
                    update { $0.bytesSent += UInt64(count + 8) }
                    meter.sent(count + 16, isCancelled: { shared.withLock { $0.cancelRequested } })
                }
            }
        }
    }

    /// Sends `pending` disk ranges as `disk` frames of at most 1 MiB.
    private func sendDisks(
        _ pending: [DiskRanges], from disks: MigrationDiskSource, meter: inout BandwidthMeter, started: Double?
    ) throws(VMMError) {
        let chunk = min(MigrationFrame.maximumDiskChunk, chunkLimit)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        for disk in pending {
            for range in disk.ranges {
                var offset = range.lowerBound
                while offset < range.upperBound {
                    if let started { try checkGoOn(started: started) }
                    let count = Int(min(range.upperBound - offset, UInt64(chunk)))
                    try disks.read(disk.index, at: offset, count: count, into: buffer)
                    var header = StateEncoder()
                    header.append(UInt32(disk.index))
                    header.append(offset)
                    let outcome = header.bytes.withUnsafeBytes { head in
                        Result { () throws(VMMError) in
                            try channel.send(.disk, [head, UnsafeRawBufferPointer(start: buffer, count: count)])
                        }
                    }
                    try outcome.get()
                    offset += UInt64(count)
                    update { $0.bytesSent += UInt64(count + 12) }
                    meter.sent(count + 20, isCancelled: { shared.withLock { $0.cancelRequested } })
                }
            }
        }
    }

    /// Throws once a cancel was asked for or the deadline passed.
    private func checkGoOn(started: Double) throws(VMMError) {
        if shared.withLock({ $0.cancelRequested }) { throw .system("migration", ECANCELED) }
        if MonotonicClock.now - started > options.deadline { throw .system("migration", ETIME) }
    }

    private func expect(_ wanted: MigrationFrame.Kind, timeout: Double, what: String) throws(VMMError) {
        let (kind, payload) = try channel.receive(timeout: timeout)
        if kind == .abort { throw .invalidConfiguration("the destination gave up: \(Self.text(payload))") }
        guard kind == wanted else { throw .invalidSnapshot("waiting for \(what), the destination sent '\(kind)'") }
    }

    // MARK: Failure

    /// Sends `abort` (best effort), records the phase and returns the message.
    private func giveUp(_ stop: Stop) -> String {
        let (phase, reason): (MigrationProgress.Phase, String)
        switch stop {
        case .failed(let text): (phase, reason) = (.failed, "failed: \(text)")
        case .cancelled(let text): (phase, reason) = (.cancelled, text)
        }
        let message = reason + "; the VM runs on here"
        try? channel.send(.abort, Array(message.utf8))
        update {
            $0.phase = phase
            $0.message = message
        }
        return message
    }

    /// Why the migration stops after `error`: a cancel, the deadline, the destination's
    /// own `abort` message when it sent one, or the error itself.
    private func stop(for error: VMMError) -> Stop {
        if case .system(_, let code) = error {
            if code == ECANCELED { return .cancelled("cancelled (migrate-cancel)") }
            if code == ETIME {
                return .cancelled("cancelled: it did not converge within the deadline of \(Int(options.deadline)) s")
            }
            if let (kind, payload) = try? channel.receive(timeout: 0.2), kind == .abort {
                return .failed("the destination gave up: \(Self.text(payload))")
            }
        }
        return .failed(error.description)
    }

    /// Milliseconds with one decimal, for log lines (no Foundation formatting here).
    static func milliseconds(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10_000).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func text(_ payload: [UInt8]) -> String {
        String(decoding: payload.prefix(1024), as: UTF8.self)
    }

    private func update(_ body: (inout MigrationProgress) -> Void) {
        shared.withLock { body(&$0.progress) }
    }
}

/// The stream's measured speed and, with a limit, the pacing that keeps it below it.
struct BandwidthMeter {
    let limit: Double?
    private let started = MonotonicClock.now
    private var bytes = 0

    init(limit: Double?) { self.limit = limit }

    /// Bits per second since the meter started.
    var bitsPerSecond: Double {
        let elapsed = MonotonicClock.now - started
        return elapsed > 0 ? Double(bytes) * 8 / elapsed : 0
    }

    mutating func sent(_ count: Int, isCancelled: () -> Bool) {
        bytes += count
        guard let limit else { return }
        // Ahead of the limit: wait (in short naps, so a cancel is seen) until it allows this much.
        while !isCancelled() {
            let ahead = Double(bytes) * 8 / limit - (MonotonicClock.now - started)
            guard ahead > 0 else { return }
            VCPUThrottle.sleep(min(ahead, 0.05))
        }
    }
}

