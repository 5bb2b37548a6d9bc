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
    /// ended), on `monitor`'s thread. Retries the connection for a few seconds, since a
    /// `vmm` may answer on its control socket before its console socket exists.
    func record(from socketPath: String, monitor: DescriptorMonitor) {
        Task {
            var connection = try? UnixSocket(connectingTo: socketPath)
            for _ in 0..<100 where connection == nil {
                try? await Task.sleep(for: .milliseconds(50))
                connection = try? UnixSocket(connectingTo: socketPath)
            }
            guard let socket = connection, (try? socket.setNonBlocking()) != nil else { return }
            try? monitor.watch(socket.fd) { self.copy(from: socket) }
        }
    }

    /// Appends what `socket` holds, a bounded amount at a time so that a chatty guest does
    /// not hold up the other VMs' descriptors; false once the socket closed.
    private func copy(from socket: UnixSocket) -> Bool {
        for _ in 0..<4 {
            do {
                guard let chunk = try socket.receiveIfAvailable() else { return true }
                if chunk.isEmpty { return false }
                append(chunk)
            } catch {
                return false
            }
        }
        return true
    }
}
