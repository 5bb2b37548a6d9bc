#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One connected client of a Unix socket, with non-blocking, bounded output.
///
/// Any thread may send (vCPU threads send console output). What the socket does not take
/// at once is queued up to `outputLimit` bytes; a client that falls further behind is
/// dropped, so a slow or stuck reader never holds up the VM. Only the server thread closes
/// the descriptor, and only under the lock, so no thread writes to a reused descriptor number.
public final class SocketClient: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var dropped = false
        var closed = false
    }

    public let fileDescriptor: Int32
    private let state = Mutex(State())
    private let outputLimit: Int
    private let outputQueued: @Sendable () -> Void

    /// - Parameter outputQueued: called when output starts to queue, so the server polls
    ///   for writability.
    public init(fileDescriptor: Int32, outputLimit: Int, outputQueued: @escaping @Sendable () -> Void) {
        self.fileDescriptor = fileDescriptor
        self.outputLimit = outputLimit
        self.outputQueued = outputQueued
    }

    public func send(_ text: String) {
        var text = text
        text.withUTF8 { send(UnsafeRawBufferPointer($0)) }
    }

    public func send(_ byte: UInt8) {
        withUnsafeBytes(of: byte) { send($0) }
    }

    public func send(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let startedQueueing = state.withLock { s -> Bool in
            guard !s.dropped && !s.closed else { return false }
            var sent = 0
            if s.pending.isEmpty {
                let count = Glibc.send(fileDescriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                if count >= 0 {
                    sent = count
                } else if errno != EAGAIN && errno != EINTR {
                    drop(&s)
                    return false
                }
            }
            guard sent < bytes.count else { return false }
            guard s.pending.count + bytes.count - sent <= outputLimit else {
                drop(&s)
                return false
            }
            let wasEmpty = s.pending.isEmpty
            s.pending.append(contentsOf: bytes[sent...])
            return wasEmpty
        }
        if startedQueueing { outputQueued() }
    }

    /// Whether output waits for the socket to become writable.
    public var hasPendingOutput: Bool { state.withLock { !$0.pending.isEmpty } }

    /// Sends queued output the socket takes now; the server calls it on POLLOUT.
    public func flush() {
        state.withLock { s in
            guard !s.dropped && !s.closed && !s.pending.isEmpty else { return }
            let count = s.pending.withUnsafeBytes {
                Glibc.send(fileDescriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if count > 0 {
                s.pending.removeFirst(count)
            } else if count < 0 && errno != EAGAIN && errno != EINTR {
                drop(&s)
            }
        }
    }

    /// Cuts the client off; the server sees the hang-up and closes the descriptor.
    /// Output sent before stays readable for the client.
    public func drop() { state.withLock { drop(&$0) } }

    /// Closes the descriptor; the server thread's last word on this client.
    public func close() {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            s.pending = []
            _ = Glibc.close(fileDescriptor)
        }
    }

    private func drop(_ s: inout State) {
        guard !s.dropped && !s.closed else { return }
        s.dropped = true
        s.pending = []
        shutdown(fileDescriptor, Int32(SHUT_RDWR))
    }
}
