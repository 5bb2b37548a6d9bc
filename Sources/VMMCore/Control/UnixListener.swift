#if canImport(Glibc)
import Glibc
#endif

/// A listening Unix stream socket at a path, reachable by its owner only (mode 0600).
///
/// A socket file left by a vmm that died is replaced; one another process still listens on
/// is not, so two VMs cannot end up sharing a path.
public final class UnixListener: Sendable {
    public let path: String
    /// Non-blocking, so the server's poll loop can accept until EAGAIN.
    public let fileDescriptor: Int32

    /// Creates the socket; `what` names the option in error messages.
    public init(path: String, what: String) throws(VMMError) {
        self.path = path
        guard var address = Self.address(path) else {
            throw .invalidConfiguration(
                "\(what) '\(path)' is too long for a Unix socket: at most \(Self.maximumPathLength) bytes")
        }
        try Self.removeStaleSocket(path, address: address, what: what)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .system("socket for \(what)", errno) }
        // The umask makes bind create the file as 0600 at once, leaving no moment in which
        // others could connect; vmm is single-threaded while it binds.
        let savedMask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let bindError = errno
        umask(savedMask)
        guard bound == 0 else {
            close(fd)
            throw .invalidConfiguration("cannot create \(what) '\(path)': \(String(cString: strerror(bindError)))")
        }
        guard listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw .system("listen on \(path)", code)
        }
        fileDescriptor = fd
    }

    private init(path: String, fileDescriptor: Int32) {
        self.path = path
        self.fileDescriptor = fileDescriptor
    }

    /// The same socket, known by `path` from now on (inside vmm's jail its path changes);
    /// nil when the descriptor cannot be duplicated.
    public func reached(at path: String) -> UnixListener? {
        let fd = fcntl(fileDescriptor, F_DUPFD_CLOEXEC, 0)
        return fd < 0 ? nil : UnixListener(path: path, fileDescriptor: fd)
    }

    deinit { close(fileDescriptor) }

    /// The next waiting client as a non-blocking descriptor, or nil when none is waiting.
    public func accept() -> Int32? {
        while true {
            // accept4 is not in Swift's Glibc module; vmm never execs, so setting the flags
            // afterwards leaves no window that matters.
            let fd = Glibc.accept(fileDescriptor, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                return fd
            }
            // A client that gave up before being accepted is no reason to stop accepting.
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    /// Deletes the socket file; clients already connected stay connected.
    public func remove() { unlink(path) }

    private static var maximumPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    static func address(_ path: String) -> sockaddr_un? {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumPathLength, !bytes.contains(0) else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }

    private static func removeStaleSocket(_ path: String, address: sockaddr_un, what: String) throws(VMMError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw .invalidConfiguration("\(what) '\(path)' exists and is not a socket: remove it or choose another path")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw .system("socket for \(what)", errno) }
        var address = address
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(probe)
        guard connected != 0 else {
            throw .invalidConfiguration("\(what) '\(path)' is in use by another process")
        }
        unlink(path)
    }
}
