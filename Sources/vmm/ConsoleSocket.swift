#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMCore

/// The guest's serial console on a Unix socket: output goes to every client (recent output
/// first, from the backlog); input comes from one writer at a time, the first client to
/// send anything, until it disconnects. Others are readers: their input is dropped with a
/// notice, so two people typing cannot interleave keystrokes into the guest.
///
/// A client that does not read is dropped once its queue is full (see `SocketClient`),
/// and while the guest's receive buffer is full no client input is read at all, so
/// neither direction can block the VM or grow without bound.
final class ConsoleSocket: ConsoleSink, SocketServerHandler {
    private struct Output {
        var backlog = ConsoleBacklog()
        var clients: [SocketClient] = []
    }

    private static let notWriterNotice = Array("\r\n[vmm: another client holds the console input]\r\n".utf8)

    private let output = Mutex(Output())
    /// The client whose input reaches the guest; touched by the server thread only.
    private let writer = Mutex<ObjectIdentifier?>(nil)
    /// Input the guest has not taken yet; touched by the server thread only.
    private let input = Mutex<[UInt8]>([])
    /// Hands bytes to the guest; returns how many it took (0 while its buffer is full).
    private let deliver: @Sendable ([UInt8]) -> Int

    init(deliver: @escaping @Sendable ([UInt8]) -> Int) {
        self.deliver = deliver
    }

    func write(_ byte: UInt8) {
        output.withLock { o in
            o.backlog.append(byte)
            for client in o.clients { client.send(byte) }
        }
    }

    /// Gives clients that are behind up to `seconds` to take what is queued for them (the
    /// server thread sends it as they read). Each byte the guest prints is a send of its own,
    /// a buffer of its own in the kernel, so a client's socket holds only a few hundred of
    /// them and the rest waits in vmm: a client slow when the VM ended (vmmd's console log on
    /// a busy host) would lose the guest's last words, a panic or a shutdown's last lines.
    func flush(within seconds: Double) {
        let deadline = MonotonicClock.now + seconds
        var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
        while output.withLock({ $0.clients.contains { $0.hasPendingOutput } }) && MonotonicClock.now < deadline {
            nanosleep(&pause, nil)
        }
    }

    func connected(_ client: SocketClient) {
        // Under the lock, so no byte falls between the backlog and the live output.
        output.withLock { o in
            o.backlog.contents.withUnsafeBytes { client.send($0) }
            o.clients.append(client)
        }
    }

    func disconnected(_ client: SocketClient) {
        output.withLock { $0.clients.removeAll { $0 === client } }
        writer.withLock { if $0 == ObjectIdentifier(client) { $0 = nil } }
    }

    func received(_ bytes: inout [UInt8], from client: SocketClient) {
        let isWriter = writer.withLock { current -> Bool in
            if current == nil { current = ObjectIdentifier(client) }
            return current == ObjectIdentifier(client)
        }
        if isWriter {
            input.withLock { $0.append(contentsOf: bytes) }
        } else {
            Self.notWriterNotice.withUnsafeBytes { client.send($0) }
        }
        bytes.removeAll()
        retry()
    }

    var isBusy: Bool { input.withLock { !$0.isEmpty } }

    func retry() {
        input.withLock { pending in
            guard !pending.isEmpty else { return }
            pending.removeFirst(deliver(pending))
        }
    }
}
