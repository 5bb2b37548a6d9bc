import Synchronization
import VMMCore

/// The guest's serial console on a Unix socket: output goes to every client (recent output
/// first, from the backlog), and what any client sends goes to the UART, merged.
///
/// A client that does not read is dropped once its queue is full (see `SocketClient`),
/// and while the guest's receive buffer is full no client input is read at all, so
/// neither direction can block the VM or grow without bound.
final class ConsoleSocket: ConsoleSink, SocketServerHandler {
    private struct Output {
        var backlog = ConsoleBacklog()
        var clients: [SocketClient] = []
    }

    private let output = Mutex(Output())
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

    func connected(_ client: SocketClient) {
        // Under the lock, so no byte falls between the backlog and the live output.
        output.withLock { o in
            o.backlog.contents.withUnsafeBytes { client.send($0) }
            o.clients.append(client)
        }
    }

    func disconnected(_ client: SocketClient) {
        output.withLock { $0.clients.removeAll { $0 === client } }
    }

    func received(_ bytes: inout [UInt8], from client: SocketClient) {
        input.withLock { $0.append(contentsOf: bytes) }
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
