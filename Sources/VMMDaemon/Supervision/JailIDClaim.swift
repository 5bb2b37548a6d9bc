import Glibc

/// A host-wide claim on one jail id: an exclusive `flock` on the file named after the id in
/// a folder every daemon of the host shares (`JailPolicy.claimsDirectory`), so that two
/// daemons never run VMs under one id (which could then signal each other and reach each
/// other's folders).
///
/// The daemon hands the claim's descriptor to the jailed `vmm` as its fd 3 and closes its
/// own: the lock then lasts exactly as long as that `vmm` (through any restart of the
/// daemon) and ends with it, however it ends. The files stay; only the locks matter.
final class JailIDClaim {
    let id: UInt32
    let fileDescriptor: Int32

    private init(id: UInt32, fileDescriptor: Int32) {
        self.id = id
        self.fileDescriptor = fileDescriptor
    }

    deinit {
        close(fileDescriptor)
    }

    /// Claims `id`, or nil when a running VM (of this daemon or another) holds it.
    static func take(_ id: UInt32, in directory: String) throws(JailIDClaimError) -> JailIDClaim? {
        let path = "\(directory)/\(id)"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw JailIDClaimError(path: path, code: errno) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw JailIDClaimError(path: path, code: code)
        }
        return JailIDClaim(id: id, fileDescriptor: fd)
    }

    /// Makes `directory` (root's, 0700) and its missing parents (0755).
    static func prepare(_ directory: String) throws(JailIDClaimError) {
        var path = ""
        let parts = directory.split(separator: "/")
        for (index, part) in parts.enumerated() {
            path += "/\(part)"
            let mode: mode_t = index == parts.count - 1 ? 0o700 : 0o755
            if mkdir(path, mode) == 0 {
                chmod(path, mode)  // whatever the daemon's umask
            } else if errno != EEXIST {
                throw JailIDClaimError(path: path, code: errno)
            }
        }
    }
}

/// Why a jail id could not be claimed: the claims folder cannot be made or written.
struct JailIDClaimError: Error, CustomStringConvertible {
    let path: String
    let code: Int32

    var description: String {
        "cannot claim a jail id at \(path): \(String(cString: strerror(code))) (every vmmd of a host claims its VMs' ids "
            + "in one folder, --jail-id-claims; it must be writable by the daemon)"
    }
}
