#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One end of a migration stream on a connected Unix stream socket: blocking writes of
/// whole frames, reads with a timeout, and a `cancel()` any thread may call to make the
/// owner's pending and next calls fail at once.
public final class MigrationChannel: Sendable {
    let fileDescriptor: Int32
    private let cancelled = AtomicFlag()
    /// Names the peer in error messages.
    let peer: String

    /// Takes ownership of a connected socket.
    init(fileDescriptor: Int32, peer: String) {
        // Blocking from here on; a stuck peer is caught by the timeouts below.
        _ = fcntl(fileDescriptor, F_SETFL, fcntl(fileDescriptor, F_GETFL) & ~O_NONBLOCK)
        self.fileDescriptor = fileDescriptor
        self.peer = peer
        var timeout = timeval(tv_sec: Self.stallSeconds, tv_usec: 0)
        _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fileDescriptor) }

    /// A peer that takes no byte for this long is given up on.
    static let stallSeconds = 30

    /// Connects to the Unix socket at `path` (a destination's `vmm receive --incoming`).
    public static func connect(to path: String) throws(VMMError) -> MigrationChannel {
        guard var address = UnixListener.address(path) else {
            throw .invalidConfiguration("migration socket '\(path)' is not a usable Unix socket path")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket for the migration", errno) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw .invalidConfiguration(
                "cannot connect to the migration socket '\(path)': \(String(cString: strerror(code))): "
                    + "start 'vmm receive --incoming \(path)' on the destination first")
        }
        return MigrationChannel(fileDescriptor: fd, peer: path)
    }

    /// Waits at most `timeout` seconds for one connection on `listener` (polling, so
    /// `isCancelled` ends the wait).
    static func accept(
        on listener: UnixListener, timeout: Double, isCancelled: () -> Bool
    ) throws(VMMError) -> MigrationChannel {
        let deadline = MonotonicClock.now + timeout
        while true {
            if isCancelled() { throw .system("wait for the migration source", ECANCELED) }
            if MonotonicClock.now >= deadline {
                throw .system("wait for the migration source (none connected within \(timeout) s)", ETIMEDOUT)
            }
            if let fd = listener.accept() { return MigrationChannel(fileDescriptor: fd, peer: "the migration source") }
            var entry = pollfd(fd: listener.fileDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, 200)
        }
    }

    /// Makes every current and later call fail: the peer sees the connection end.
    public func cancel() {
        cancelled.set()
        shutdown(fileDescriptor, Int32(SHUT_RDWR))
    }

    var isCancelled: Bool { cancelled.isSet }

    // MARK: Sending

    /// Sends one frame whose payload is `parts` in order (guest memory is sent from where
    /// it lies, without a copy).
    func send(_ kind: MigrationFrame.Kind, _ parts: [UnsafeRawBufferPointer]) throws(VMMError) {
        let length = parts.reduce(0) { $0 + $1.count }
        precondition(length <= MigrationFrame.maximumPayload)
        let header = MigrationFrame.header(kind, length: length)
        let outcome = header.withUnsafeBytes { head in
            Result { () throws(VMMError) in try write([head] + parts) }
        }
        try outcome.get()
    }

    func send(_ kind: MigrationFrame.Kind, _ payload: [UInt8] = []) throws(VMMError) {
        let outcome = payload.withUnsafeBytes { bytes in Result { () throws(VMMError) in try send(kind, [bytes]) } }
        try outcome.get()
    }

    private func write(_ parts: [UnsafeRawBufferPointer]) throws(VMMError) {
        var pending = parts.filter { !$0.isEmpty }
        while !pending.isEmpty {
            var vectors = pending.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
            var message = msghdr()
            let sent = vectors.withUnsafeMutableBufferPointer { buffer -> Int in
                message.msg_iov = buffer.baseAddress
                message.msg_iovlen = buffer.count
                return sendmsg(fileDescriptor, &message, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && errno == EINTR && !isCancelled { continue }
            guard sent > 0 else { throw failure(sending: true, code: sent < 0 ? errno : EPIPE) }
            var remaining = sent
            while remaining > 0, let first = pending.first {
                if first.count <= remaining {
                    remaining -= first.count
                    pending.removeFirst()
                } else {
                    pending[0] = UnsafeRawBufferPointer(rebasing: first[remaining...])
                    remaining = 0
                }
            }
        }
    }

    // MARK: Receiving

    /// The next frame's kind and payload length (checked against `maximumPayload`).
    func receiveHeader(timeout: Double) throws(VMMError) -> (MigrationFrame.Kind, Int) {
        var header = [UInt8](repeating: 0, count: MigrationFrame.headerSize)
        try header.withUnsafeMutableBytes { buffer in
            Result { () throws(VMMError) in try read(into: buffer, timeout: timeout) }
        }.get()
        var decoder = StateDecoder(header, context: "frame")
        let rawKind = try decoder.read(UInt32.self), length = Int(try decoder.read(UInt32.self))
        guard let kind = MigrationFrame.Kind(rawValue: rawKind) else {
            throw .invalidSnapshot("\(peer) sent a frame of unknown kind \(rawKind): not a vmm migration stream")
        }
        guard length <= MigrationFrame.maximumPayload else {
            throw .invalidSnapshot("\(peer) sent a frame of \(length) bytes; at most \(MigrationFrame.maximumPayload) are allowed")
        }
        return (kind, length)
    }

    /// The next frame, payload included.
    func receive(timeout: Double) throws(VMMError) -> (MigrationFrame.Kind, [UInt8]) {
        let (kind, length) = try receiveHeader(timeout: timeout)
        return (kind, try receivePayload(length, timeout: timeout))
    }

    func receivePayload(_ length: Int, timeout: Double) throws(VMMError) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: length)
        try payload.withUnsafeMutableBytes { buffer in
            Result { () throws(VMMError) in try read(into: buffer, timeout: timeout) }
        }.get()
        return payload
    }

    /// Fills `buffer` from the socket, waiting at most `timeout` seconds for each piece.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Double) throws(VMMError) {
        var done = 0
        while done < buffer.count {
            var entry = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(timeout * 1000))
            if ready < 0 && errno == EINTR && !isCancelled { continue }
            guard ready > 0 else { throw failure(sending: false, code: ready == 0 ? ETIMEDOUT : errno) }
            let count = recv(fileDescriptor, buffer.baseAddress! + done, buffer.count - done, 0)
            if count < 0 && errno == EINTR && !isCancelled { continue }
            guard count > 0 else { throw failure(sending: false, code: count == 0 ? ECONNRESET : errno) }
            done += count
        }
    }

    private func failure(sending: Bool, code: Int32) -> VMMError {
        if isCancelled { return .system("the migration stream", ECANCELED) }
        if code == ETIMEDOUT || code == EAGAIN {
            return .system("\(sending ? "sending to" : "waiting for") \(peer) (no progress for a long time)", ETIMEDOUT)
        }
        if code == ECONNRESET || code == EPIPE {
            return .system("the connection to \(peer) (it went away)", code)
        }
        return .system("\(sending ? "sending to" : "receiving from") \(peer)", code)
    }
}

/// A one-way flag for cancellation, set by any thread.
final class AtomicFlag: Sendable {
    private let value = Synchronization.Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
