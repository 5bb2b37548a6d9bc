import Glibc
import VMMAPI

/// One writer per disk image across the daemon's VMs.
extension VMManager {
    /// Throws a 409 if `definition` attaches an image that another VM's definition also
    /// attaches, and either of them writable: two writers (or a writer and a reader) would
    /// corrupt the file system on it. Paths are compared after resolving symbolic links;
    /// vmm's lock on the image at start catches what this cannot (e.g. hard links).
    func checkDiskConflicts(_ definition: VMDefinition) throws {
        let others = vms.values.map(\.definition).filter { $0.name != definition.name }.sorted { $0.name < $1.name }
        for disk in definition.disks {
            let path = Self.resolved(disk.path)
            for other in others {
                guard let shared = other.disks.first(where: { Self.resolved($0.path) == path }),
                      !disk.readOnly || !shared.readOnly else { continue }
                throw APIError(
                    code: .conflict,
                    message: "disk \(disk.path) is attached \(shared.readOnly ? "read-only" : "writable") to VM \(other.name); "
                        + "an image a VM may write belongs to that VM alone: attach it read-only (readOnly) in both, "
                        + "or give each VM its own copy")
            }
        }
    }

    /// `path` with symbolic links, `.` and `..` resolved, or as is if that fails.
    private static func resolved(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }
}
