import Glibc

/// Takes a folder a jailed `vmm` wrote (a snapshot) back from it: the folder and every
/// folder and file in it owned by root, for root alone (folders 0700, files 0600).
/// vmmd has CAP_CHOWN but not CAP_DAC_OVERRIDE (systemd/vmmd.service): until it owns
/// what the VM made, the VM's mode bits decide whether it may even list it, so each entry
/// is opened by `O_PATH` (which needs no right on the entry itself) and changed through
/// that descriptor. Nothing is followed: a symbolic link, or anything else `vmm` never
/// writes into a snapshot, is removed, so nothing that reads the folder later is led
/// elsewhere. Once a folder is root's 0700 the VM's user can no longer change its entries.
enum FolderOwnership {
    static func reclaim(_ path: String) throws {
        let fd = open(path, Linux.openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("cannot open \(path): \(Linux.errorMessage)", code: errno) }
        defer { close(fd) }
        try reclaimFolder(fd, path)
    }

    private static func reclaimFolder(_ folder: Int32, _ path: String) throws {
        try own(folder, mode: 0o700, path)
        let listing = openat(folder, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard listing >= 0, let stream = fdopendir(listing) else {
            let code = errno
            if listing >= 0 { close(listing) }
            throw FileError("cannot list \(path): \(String(cString: strerror(code)))", code: code)
        }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let child = openat(folder, name, Linux.openPath | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { throw FileError("cannot open \(path)/\(name): \(Linux.errorMessage)", code: errno) }
            defer { close(child) }
            var info = stat()
            guard fstat(child, &info) == 0 else { throw FileError("cannot stat \(path)/\(name): \(Linux.errorMessage)", code: errno) }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: try reclaimFolder(child, "\(path)/\(name)")
            case S_IFREG: try own(child, mode: 0o600, "\(path)/\(name)")
            default:
                guard unlinkat(folder, name, 0) == 0 else {
                    throw FileError("cannot remove \(path)/\(name): \(Linux.errorMessage)", code: errno)
                }
            }
        }
    }

    /// Owner root, group root, `mode`. The `O_PATH` descriptor takes `fchownat` with an
    /// empty path, and `chmod` through its /proc/self/fd link (fchmod refuses it).
    private static func own(_ fd: Int32, mode: mode_t, _ path: String) throws {
        guard fchownat(fd, "", 0, 0, Linux.emptyPath) == 0, chmod("/proc/self/fd/\(fd)", mode) == 0 else {
            throw FileError("cannot take \(path) back from the VM: \(Linux.errorMessage)", code: errno)
        }
    }
}
