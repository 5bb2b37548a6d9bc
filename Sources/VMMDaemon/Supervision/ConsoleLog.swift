import Glibc
import Synchronization

/// The recent serial output of one VM, capped so a chatty guest cannot grow the daemon.
final class ConsoleLog: Sendable {
    static let capacity = 1 << 20
    private let bytes = Mutex<[UInt8]>([])

    func append(_ chunk: [UInt8]) {
        bytes.withLock { bytes in
            bytes += chunk
            if bytes.count > Self.capacity { bytes.removeFirst(bytes.count - Self.capacity) }
        }
    }

    var contents: [UInt8] { bytes.withLock { $0 } }

    /// Copies what a console socket sends into this log until the socket closes (the `vmm`
    /// ended). Runs on a dedicated thread; retries the connection for a few seconds, since
    /// a `vmm` may answer on its control socket before its console socket exists.
    func record(from socketPath: String) {
        BlockingThread.detach("vmm-console") {
            var connection = try? UnixSocket(connectingTo: socketPath)
            for _ in 0..<100 where connection == nil {
                usleep(50_000)
                connection = try? UnixSocket(connectingTo: socketPath)
            }
            guard let socket = connection else { return }
            while let chunk = try? socket.receive(), !chunk.isEmpty {
                self.append(chunk)
            }
        }
    }
}
