#if canImport(Glibc)
import Glibc
#endif
import CKVM
import KVM

/// A snapshot folder opened for restoring: everything in it checked before any KVM object
/// exists, so a damaged snapshot is refused (status 2), never half restored.
public struct SnapshotImage: Sendable {
    public let directory: String
    public let description: SnapshotDescription
    let saved: SavedMachineState
    /// The memory file, when opened ahead (`holdingMemoryOpen`).
    private var memoryDescriptor: Int32?

    public init(directory: String) throws(VMMError) {
        self.directory = directory
        let statePath = "\(directory)/\(SnapshotFormat.stateFile)"
        var status = stat()
        guard stat(directory, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw .invalidSnapshot("\(directory) is not a snapshot folder: it does not exist or is not a folder")
        }
        guard access(statePath, F_OK) == 0 else {
            throw .invalidSnapshot("\(directory) is not a complete snapshot: it has no '\(SnapshotFormat.stateFile)' file")
        }
        let body = try SnapshotFormat.unframe(try HostFile.read(statePath, what: "snapshot state"), path: statePath)
        saved = try SavedMachineState(body: body)
        description = saved.description
        try checkMemoryFile()
        try checkDiskCopies()
    }

    var memoryPath: String { "\(directory)/\(SnapshotFormat.memoryFile)" }

    private func checkMemoryFile() throws(VMMError) {
        var status = stat()
        guard stat(memoryPath, &status) == 0 else {
            throw .invalidSnapshot("\(memoryPath) is missing: the snapshot's guest memory is gone")
        }
        let expected = description.configuration.memorySize
        guard UInt64(status.st_size) == expected else {
            throw .invalidSnapshot(
                "\(memoryPath) is \(status.st_size) bytes but the guest had \(expected): the memory file is truncated or damaged")
        }
    }

    private func checkDiskCopies() throws(VMMError) {
        for (index, copy) in description.diskCopies.enumerated() {
            guard let copy else { continue }
            guard access("\(directory)/\(copy)", R_OK) == 0 else {
                throw .invalidSnapshot(
                    "disk \(index)'s copy \(directory)/\(copy) is missing: the snapshot cannot restore that disk "
                        + "(a memory-only snapshot would use the disk as it is)")
            }
        }
    }

    /// Opens the memory file now, for a `vmm` that maps it later from where its path is
    /// out of reach (its jail).
    public func holdingMemoryOpen() throws(VMMError) -> SnapshotImage {
        var image = self
        let fd = open(memoryPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open \(memoryPath)", errno) }
        image.memoryDescriptor = fd
        return image
    }

    /// Opens the memory file for the copy-on-write mapping.
    func openMemory() throws(VMMError) -> GuestMemory {
        let fd = memoryDescriptor.map { fcntl($0, F_DUPFD_CLOEXEC, 0) } ?? open(memoryPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open \(memoryPath)", errno) }
        return try GuestMemory(snapshotFile: fd, size: description.configuration.memorySize)
    }
}
