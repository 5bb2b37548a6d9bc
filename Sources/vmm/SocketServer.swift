#if canImport(Glibc)
import Glibc
#endif
import Seccomp
import VMMCore

/// Serves the clients of one Unix socket from one OS thread with poll(2).
///
/// The thread only moves bytes; what they mean is the handler's business. Input is
/// bounded per client and output per client (see `SocketClient`), and the number of
/// clients is capped, so no client can make vmm grow without bound.
final class SocketServer: Sendable {
    struct Limits: Sendable {
        var clients = 16
        /// Input held per client while the handler waits for the rest of a message.
        var input = 8192
        /// Output queued per client beyond what its socket buffer holds.
        var output = 64 * 1024
    }

    private final class Connection {
        let client: SocketClient
        var input: [UInt8] = []
        init(_ client: SocketClient) { self.client = client }
    }

    private static let retryMilliseconds: Int32 = 5

    private let listener: UnixListener
    private let handler: any SocketServerHandler
    private let limits: Limits
    private let log: Logger
    private let thread: ThreadKind
    /// Wakes poll(2) when another thread queued output, so the loop polls for POLLOUT.
    private let wakeUp: EventNotifier

    init(
        listener: UnixListener, handler: any SocketServerHandler, thread: ThreadKind, limits: Limits = Limits(), log: Logger
    ) throws(VMMError) {
        self.listener = listener
        self.thread = thread
        self.handler = handler
        self.limits = limits
        self.log = log
        wakeUp = try EventNotifier()
    }

    func start() throws(VMMError) {
        try HostThread.detach(thread, name: thread == .control ? "control socket" : "console socket") { [self] in serve() }
    }

    private func serve() {
        var connections: [Connection] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let busy = handler.isBusy
            var fds = [pollfd(fd: listener.fileDescriptor, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeUp.fileDescriptor, events: Int16(POLLIN), revents: 0)]
            for connection in connections {
                var events: Int32 = 0
                if !busy && connection.input.count < limits.input { events |= POLLIN }
                if connection.client.hasPendingOutput { events |= POLLOUT }
                fds.append(pollfd(fd: connection.client.fileDescriptor, events: Int16(events), revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), busy ? Self.retryMilliseconds : -1)
            if ready < 0 {
                if errno == EINTR { continue }
                log.error("poll on \(listener.path) failed: \(String(cString: strerror(errno))); no longer serving it")
                return
            }
            if fds[1].revents != 0 { wakeUp.wait() }
            if busy { handler.retry() }

            var open: [Connection] = []
            for (connection, fd) in zip(connections, fds[2...]) {
                let events = Int32(fd.revents)
                if events & POLLOUT != 0 { connection.client.flush() }
                if events & (POLLIN | POLLHUP | POLLERR) != 0 && !read(connection, into: &chunk) {
                    handler.disconnected(connection.client)
                    connection.client.close()
                    continue
                }
                open.append(connection)
            }
            connections = open
            if fds[0].revents & Int16(POLLIN) != 0 { acceptClients(into: &connections) }
        }
    }

    /// Reads what the client sent and hands it on; false once the client is gone.
    private func read(_ connection: Connection, into chunk: inout [UInt8]) -> Bool {
        let room = min(chunk.count, limits.input - connection.input.count)
        // A full input buffer means the handler left a message it cannot finish: only
        // a hang-up can be pending here, since POLLIN was not asked for.
        guard room > 0 else { return false }
        let count = chunk.withUnsafeMutableBytes { Glibc.read(connection.client.fileDescriptor, $0.baseAddress, room) }
        if count < 0 { return errno == EAGAIN || errno == EINTR }
        guard count > 0 else { return false }
        connection.input.append(contentsOf: chunk[..<count])
        handler.received(&connection.input, from: connection.client)
        return true
    }

    private func acceptClients(into connections: inout [Connection]) {
        while let fd = listener.accept() {
            guard connections.count < limits.clients else {
                log.warning("\(listener.path): more than \(limits.clients) clients; refusing one")
                close(fd)
                continue
            }
            let wakeUp = self.wakeUp
            let client = SocketClient(fileDescriptor: fd, outputLimit: limits.output, outputQueued: { wakeUp.signal() })
            connections.append(Connection(client))
            handler.connected(client)
        }
    }
}
