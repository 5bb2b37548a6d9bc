#if canImport(Glibc)
import Glibc
#endif
import Seccomp
import VMMCore

/// Serves the clients of vmm's Unix sockets (control and console) from one OS thread
/// with poll(2): a thread per socket would be a task per VM more, and hosts run thousands.
///
/// The thread only moves bytes; what they mean is each socket's handler's business. Input
/// is bounded per client and output per client (see `SocketClient`), and the number of
/// clients is capped per socket, so no client can make vmm grow without bound. A handler
/// holds every client while it runs: what takes long (a snapshot) goes to a thread of its
/// own (`ControlSocket`).
final class SocketServer: Sendable {
    struct Limits: Sendable {
        var clients = 16
        /// Input held per client while the handler waits for the rest of a message.
        var input = 8192
        /// Output queued per client beyond what its socket buffer holds.
        var output = 64 * 1024
    }

    /// One listening socket and what its clients' input goes to.
    struct Socket: Sendable {
        let listener: UnixListener
        let handler: any SocketServerHandler
        var limits = Limits()
    }

    private final class Connection {
        let client: SocketClient
        /// Index into `sockets`.
        let socket: Int
        var input: [UInt8] = []
        init(_ client: SocketClient, socket: Int) {
            self.client = client
            self.socket = socket
        }
    }

    private static let retryMilliseconds: Int32 = 5

    private let sockets: [Socket]
    private let log: Logger
    /// Wakes poll(2) when another thread queued output, so the loop polls for POLLOUT.
    private let wakeUp: EventNotifier

    init(_ sockets: [Socket], log: Logger) throws(VMMError) {
        self.sockets = sockets
        self.log = log
        wakeUp = try EventNotifier()
    }

    /// Starts the thread, under the control thread's filter (which allows the console's calls).
    func start() throws(VMMError) {
        try HostThread.detach(.control, name: "sockets") { [self] in serve() }
    }

    private func serve() {
        var connections: [Connection] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let busy = sockets.map(\.handler.isBusy)
            var fds = [pollfd(fd: wakeUp.fileDescriptor, events: Int16(POLLIN), revents: 0)]
            for socket in sockets {
                fds.append(pollfd(fd: socket.listener.fileDescriptor, events: Int16(POLLIN), revents: 0))
            }
            for connection in connections {
                var events: Int32 = 0
                if !busy[connection.socket] && connection.input.count < sockets[connection.socket].limits.input {
                    events |= POLLIN
                }
                if connection.client.hasPendingOutput { events |= POLLOUT }
                fds.append(pollfd(fd: connection.client.fileDescriptor, events: Int16(events), revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), busy.contains(true) ? Self.retryMilliseconds : -1)
            if ready < 0 {
                if errno == EINTR { continue }
                log.error("poll on vmm's sockets failed: \(String(cString: strerror(errno))); no longer serving them")
                return
            }
            if fds[0].revents != 0 { wakeUp.wait() }
            for (socket, isBusy) in zip(sockets, busy) where isBusy { socket.handler.retry() }

            var open: [Connection] = []
            for (connection, fd) in zip(connections, fds[(1 + sockets.count)...]) {
                let events = Int32(fd.revents)
                if events & POLLOUT != 0 { connection.client.flush() }
                if events & (POLLIN | POLLHUP | POLLERR) != 0 && !read(connection, into: &chunk) {
                    sockets[connection.socket].handler.disconnected(connection.client)
                    connection.client.close()
                    continue
                }
                open.append(connection)
            }
            connections = open
            for index in sockets.indices where fds[1 + index].revents & Int16(POLLIN) != 0 {
                acceptClients(of: index, into: &connections)
            }
        }
    }

    /// Reads what the client sent and hands it on; false once the client is gone.
    private func read(_ connection: Connection, into chunk: inout [UInt8]) -> Bool {
        let socket = sockets[connection.socket]
        let room = min(chunk.count, socket.limits.input - connection.input.count)
        // A full input buffer means the handler left a message it cannot finish: only
        // a hang-up can be pending here, since POLLIN was not asked for.
        guard room > 0 else { return false }
        let count = chunk.withUnsafeMutableBytes { Glibc.read(connection.client.fileDescriptor, $0.baseAddress, room) }
        if count < 0 { return errno == EAGAIN || errno == EINTR }
        guard count > 0 else { return false }
        connection.input.append(contentsOf: chunk[..<count])
        socket.handler.received(&connection.input, from: connection.client)
        return true
    }

    private func acceptClients(of index: Int, into connections: inout [Connection]) {
        let socket = sockets[index]
        while let fd = socket.listener.accept() {
            guard connections.count(where: { $0.socket == index }) < socket.limits.clients else {
                log.warning("\(socket.listener.path): more than \(socket.limits.clients) clients; refusing one")
                close(fd)
                continue
            }
            let wakeUp = self.wakeUp
            let client = SocketClient(fileDescriptor: fd, outputLimit: socket.limits.output, outputQueued: { wakeUp.signal() })
            connections.append(Connection(client, socket: index))
            socket.handler.connected(client)
        }
    }
}
