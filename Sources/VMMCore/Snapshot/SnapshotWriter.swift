#if canImport(Glibc)
import Glibc
#endif
import KVM

/// Writes a paused machine into a new snapshot folder (layout: `SnapshotFormat`).
///
/// Either the whole folder is written and synced, or nothing of it is left: a full disk
/// midway removes what was written and the VM goes on as before.
public struct SnapshotWriter {
    public struct Result: Sendable {
        public var stateBytes: UInt64 = 0
        /// Bytes of guest memory in the memory file (pages written twice count once).
        public var memoryBytes: UInt64 = 0
        public var diskBytes: UInt64 = 0
        /// How long the vCPUs were held for the snapshot (0 if they were paused already).
        public var pausedSeconds: Double = 0
        /// Memory copied while the guest ran, and the passes that took.
        public var copyRounds = 0
        public var total: UInt64 { stateBytes + memoryBytes + diskBytes }
    }

    /// How the writer holds the guest still for the last pass. With `alreadyPaused`, the
    /// vCPUs stay as they are and memory is copied in one pass.
    public struct VCPUControl {
        public var alreadyPaused: Bool
        public var pause: () throws(VMMError) -> Void
        public var resume: () -> Void

        public init(alreadyPaused: Bool, pause: @escaping () throws(VMMError) -> Void, resume: @escaping () -> Void) {
            self.alreadyPaused = alreadyPaused
            self.pause = pause
            self.resume = resume
        }
    }

    /// Copy rounds while the guest runs stop once a round finds this little changed
    /// (what the last pass then copies in the pause) or after `maximumRounds`.
    static let convergedBytes: UInt64 = 1 << 20
    static let maximumRounds = 8

    let kvm: KVMSystem
    let log: Logger

    public init(kvm: KVMSystem, log: Logger) {
        self.kvm = kvm
        self.log = log
    }

    /// Saves `machine` into `directory`, which must not exist yet. Memory is copied while
    /// the guest runs; the vCPUs are paused for the pages changed since, the disks and the
    /// device state, then resumed before anything is synced to disk.
    public func write(
        _ machine: Machine, description: SnapshotDescription, to directory: String, vcpus: VCPUControl
    ) throws(VMMError) -> Result {
        guard mkdir(directory, 0o700) == 0 else {
            let code = errno
            if code == EEXIST { throw .invalidConfiguration("snapshot folder \(directory) already exists: choose a new one") }
            if code == ENOENT { throw .invalidConfiguration("cannot create snapshot folder \(directory): its parent does not exist") }
            throw .system("create snapshot folder \(directory)", code)
        }
        do throws(VMMError) {
            return try writeContents(machine, description: description, directory: directory, vcpus: vcpus)
        } catch {
            Self.remove(directory)
            throw error
        }
    }

    private func writeContents(
        _ machine: Machine, description: SnapshotDescription, directory: String, vcpus: VCPUControl
    ) throws(VMMError) -> Result {
        var result = Result()
        let memory = machine.memory
        let memoryFile = try OutputFile(creating: "\(directory)/\(SnapshotFormat.memoryFile)")
        try memoryFile.setLength(memory.size)
        var written = PageSet()
        func copy(_ ranges: [Range<UInt64>]) throws(VMMError) {
            for range in ranges {
                try memoryFile.write(memory.base + Int(range.lowerBound), count: Int(range.count), at: range.lowerBound)
                written.insert(range)
            }
        }

        let (described, disks) = try startDiskCaptures(machine, description, directory: directory, running: !vcpus.alreadyPaused)
        var lastPass: [Range<UInt64>] = []
        var pausedAt: Double?
        var trackingDirtyPages = false
        defer { if trackingDirtyPages { machine.stopDirtyTracking() } }
        if vcpus.alreadyPaused {
            machine.quiesceDevices()
            for disk in disks { try disk.copyWhileRunning() }
            lastPass = try memory.populatedRanges()
        } else {
            try machine.startDirtyTracking()
            trackingDirtyPages = true
            for disk in disks { try disk.copyWhileRunning() }
            try copy(try memory.populatedRanges())
            result.copyRounds = 1
            // Taking the dirty log clears it: what a round takes and does not copy (because
            // it is little enough for the pause) must go into the last pass.
            var notCopied: [Range<UInt64>] = []
            while result.copyRounds < Self.maximumRounds {
                let dirty = try machine.takeDirtyRanges()
                if dirty.reduce(0, { $0 + $1.count }) <= Self.convergedBytes {
                    notCopied = dirty
                    break
                }
                try copy(dirty)
                result.copyRounds += 1
            }
            pausedAt = MonotonicClock.now
            try vcpus.pause()
            machine.quiesceDevices()
            lastPass = GuestMemory.merge(notCopied + (try machine.takeDirtyRanges()))
        }
        // Only what must be of the paused instant happens in the pause; turning the dirty
        // log off and writing the state file come after the guest resumed.
        let state: [UInt8]
        do {
            defer {
                machine.resumeDevices()
                if !vcpus.alreadyPaused { vcpus.resume() }
            }
            try copy(lastPass + machine.virtqueueUsedRings())
            for disk in disks { try disk.finish() }
            state = SnapshotFormat.frame(try machine.saveState(kvm: kvm, description: described))
        }
        if let pausedAt { result.pausedSeconds = MonotonicClock.now - pausedAt }
        if trackingDirtyPages {
            machine.stopDirtyTracking()
            trackingDirtyPages = false
        }
        let stateFile = try OutputFile(creating: "\(directory)/\(SnapshotFormat.stateFile)")
        try stateFile.write(state)
        try stateFile.sync()
        result.stateBytes = UInt64(state.count)
        result.memoryBytes = written.byteCount
        result.diskBytes = disks.reduce(0) { $0 + $1.bytesCopied }
        for disk in disks {
            log.debug("snapshot: disk \(disk.index) by \(disk.method.rawValue), \(disk.bytesCopied) bytes")
        }
        // Synced after the guest resumed: durability costs the guest no pause.
        try memoryFile.sync()
        for disk in disks { try disk.output.sync() }
        try AtomicFile.write(
            Self.describe(described, result).encoded + "\n", to: "\(directory)/\(SnapshotFormat.descriptionFile)")
        Self.syncFolder(directory)
        return result
    }

    /// Creates the snapshot's copy of each writable disk (none when memory-only; read-only
    /// disks are referenced) and, while the guest runs, starts logging its writes.
    private func startDiskCaptures(
        _ machine: Machine, _ description: SnapshotDescription, directory: String, running: Bool
    ) throws(VMMError) -> (SnapshotDescription, [DiskCapture]) {
        var description = description
        var captures: [DiskCapture] = []
        description.diskCopies = []
        let blockDevices = machine.devices.blockDevices
        for (index, disk) in description.configuration.disks.enumerated() {
            guard !description.memoryOnly && !disk.readOnly, index < blockDevices.count else {
                description.diskCopies.append(nil)
                continue
            }
            let name = SnapshotFormat.diskFile(index)
            captures.append(try DiskCapture(
                index: index, source: disk.path, opened: blockDevices[index].image?.fileDescriptor,
                destination: "\(directory)/\(name)",
                writeLog: running ? blockDevices[index].writeLog : nil))
            description.diskCopies.append(name)
        }
        return (description, captures)
    }

    /// snapshot.json: for people and the daemon; vmm restores from the state file alone.
    static func describe(_ d: SnapshotDescription, _ result: Result) -> JSONValue {
        let c = d.configuration
        return .object([
            ("format", .integer(Int(SnapshotFormat.version))),
            ("created", .integer(Int(d.created))),
            ("memoryOnly", .bool(d.memoryOnly)),
            ("cpus", .integer(c.cpuCount)),
            ("memorySize", .integer(Int(clamping: c.memorySize))),
            ("kernel", .string(c.kernelPath)),
            ("cmdline", .string(c.commandLine)),
            ("disks", .array(zip(c.disks, d.diskCopies).map { disk, copy in
                .object([("path", .string(disk.path)), ("readOnly", .bool(disk.readOnly)),
                         ("copy", copy.map(JSONValue.string) ?? .null)])
            })),
            ("networks", .array(c.networks.map { network in
                .object([("tap", network.tapName.map(JSONValue.string) ?? .null),
                         ("mac", network.macAddress.map { .string($0.description) } ?? .null)])
            })),
            ("generationID", .string(GenerationID.format(c.generationID))),
            ("bytes", .integer(Int(clamping: result.total))),
            ("stateBytes", .integer(Int(clamping: result.stateBytes))),
            ("memoryBytes", .integer(Int(clamping: result.memoryBytes))),
            ("diskBytes", .integer(Int(clamping: result.diskBytes))),
        ])
    }

    private static func syncFolder(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Removes a partly written snapshot: only the files a snapshot consists of.
    static func remove(_ directory: String) {
        guard let dir = opendir(directory) else { return }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { unlink("\(directory)/\(name)") }
        }
        closedir(dir)
        rmdir(directory)
    }
}

/// Pages of guest memory written to the snapshot, counted once however often rewritten.
private struct PageSet {
    private var words: [UInt64] = []
    private(set) var byteCount: UInt64 = 0

    mutating func insert(_ range: Range<UInt64>) {
        let pageSize = DeviceWriteLog.pageSize
        var page = Int(range.lowerBound / pageSize)
        let end = Int((range.upperBound + pageSize - 1) / pageSize)
        if words.count * 64 < end { words += [UInt64](repeating: 0, count: (end + 63) / 64 - words.count) }
        while page < end {
            let bit: UInt64 = 1 << UInt64(page % 64)
            if words[page / 64] & bit == 0 {
                words[page / 64] |= bit
                byteCount += pageSize
            }
            page += 1
        }
    }
}
