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
        public var memoryBytes: UInt64 = 0
        public var diskBytes: UInt64 = 0
        public var total: UInt64 { stateBytes + memoryBytes + diskBytes }
    }

    let kvm: KVMSystem
    let log: Logger

    public init(kvm: KVMSystem, log: Logger) {
        self.kvm = kvm
        self.log = log
    }

    /// Saves `machine`, whose vCPUs are paused, into `directory`, which must not exist yet.
    /// `description.diskCopies` is filled in here.
    public func write(_ machine: Machine, description: SnapshotDescription, to directory: String) throws(VMMError) -> Result {
        guard mkdir(directory, 0o700) == 0 else {
            let code = errno
            if code == EEXIST { throw .invalidConfiguration("snapshot folder \(directory) already exists: choose a new one") }
            if code == ENOENT { throw .invalidConfiguration("cannot create snapshot folder \(directory): its parent does not exist") }
            throw .system("create snapshot folder \(directory)", code)
        }
        do throws(VMMError) {
            machine.quiesceDevices()
            defer { machine.resumeDevices() }
            return try writeContents(machine, description: description, directory: directory)
        } catch {
            Self.remove(directory)
            throw error
        }
    }

    private func writeContents(_ machine: Machine, description: SnapshotDescription, directory: String) throws(VMMError) -> Result {
        var description = description
        var result = Result()
        description.diskCopies = []
        for (index, disk) in description.configuration.disks.enumerated() {
            guard !description.memoryOnly && !disk.readOnly else {
                description.diskCopies.append(nil)
                continue
            }
            let name = SnapshotFormat.diskFile(index)
            let (method, bytes) = try DiskCopy.copy(disk.path, to: "\(directory)/\(name)")
            log.debug("snapshot: disk \(index) \(disk.path) by \(method.rawValue), \(bytes) bytes")
            result.diskBytes += bytes
            description.diskCopies.append(name)
        }

        let state = SnapshotFormat.frame(try machine.saveState(kvm: kvm, description: description))
        let stateFile = try OutputFile(creating: "\(directory)/\(SnapshotFormat.stateFile)")
        try stateFile.write(state)
        try stateFile.sync()
        result.stateBytes = UInt64(state.count)

        let memory = machine.memory
        let memoryFile = try OutputFile(creating: "\(directory)/\(SnapshotFormat.memoryFile)")
        try memoryFile.setLength(memory.size)
        for range in try memory.populatedRanges() {
            try memoryFile.write(memory.base + Int(range.lowerBound), count: Int(range.count), at: range.lowerBound)
            result.memoryBytes += UInt64(range.count)
        }
        try memoryFile.sync()

        try AtomicFile.write(
            Self.describe(description, result).encoded + "\n", to: "\(directory)/\(SnapshotFormat.descriptionFile)")
        Self.syncFolder(directory)
        return result
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
