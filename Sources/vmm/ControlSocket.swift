import Synchronization
import VMMCore

/// The control protocol on a Unix socket: one bare-word request per line, one JSON
/// answer per line (see docs/vmm-control-protocol.md).
///
/// Requests run on the server's thread, one at a time (the slowest, `pause`, waits at
/// most a second for the vCPUs), but for a snapshot, which may write gigabytes: it runs
/// on a thread of its own, so the console's clients and `status` and `fence` (an HA VM's
/// deadline, moved every second) are still served meanwhile; any other request is
/// refused until it ends.
final class ControlSocket: SocketServerHandler {
    let session: Session
    /// What runs on its own thread now, e.g. "a snapshot".
    private let underWay = Mutex<String?>(nil)

    init(session: Session) {
        self.session = session
    }

    func connected(_ client: SocketClient) {}
    func disconnected(_ client: SocketClient) {}

    func received(_ input: inout [UInt8], from client: SocketClient) {
        while let newline = input.firstIndex(of: UInt8(ascii: "\n")) {
            let line = input[..<newline]
            guard line.count <= ControlRequest.maximumLineLength else { return refuseLongLine(&input, client) }
            let request = ControlRequest.parse(line)
            input.removeSubrange(...newline)
            switch request {
            case .success(let request): perform(request, for: client)
            case .failure(let error): answer(client, error.response)
            }
        }
        if input.count > ControlRequest.maximumLineLength { refuseLongLine(&input, client) }
    }

    private func perform(_ request: ControlRequest, for client: SocketClient) {
        do throws(ControlError) {
            if let running = underWay.withLock({ $0 }), !request.isServedBesideASnapshot {
                throw ControlError(.conflict, "\(running) is under way; only status and fence are answered until it ends")
            }
            switch request {
            case .status:
                answer(client, session.status())
            case .statistics:
                answer(client, try session.kvmStatistics())
            case .pause:
                try session.pause()
                answer(client, .object([("ok", .bool(true)), ("state", .string("paused"))]))
            case .resume:
                try session.resume()
                answer(client, .object([("ok", .bool(true)), ("state", .string("running"))]))
            case .shutdown:
                session.pressPowerButton()
                answer(client, .object([("ok", .bool(true))]))
            case .stop:
                // Answered first: once the machine stops, vmm exits and the answer would be lost.
                answer(client, .object([("ok", .bool(true))]))
                session.stop()
            case .reboot:
                try session.reboot()
                answer(client, .object([("ok", .bool(true))]))
            case .snapshot(let directory, let memoryOnly):
                try runAside("a snapshot", thread: "snapshot", for: client) { [session] () throws(ControlError) in
                    try session.snapshot(to: directory, memoryOnly: memoryOnly)
                }
            case .migrate(let options):
                answer(client, try session.migrate(options))
            case .migrateCancel:
                try session.cancelMigration()
                answer(client, .object([("ok", .bool(true))]))
            case .balloon(let target):
                answer(client, try session.setBalloonTarget(target))
            case .fence(let request):
                answer(client, try session.setFence(request))
            case .limitDisk(let index, let limit):
                answer(client, try session.limitDisk(index, limit))
            case .limitNetwork(let index, let receive, let transmit):
                answer(client, try session.limitNetwork(index, receive: receive, transmit: transmit))
            }
        } catch {
            answer(client, error.response)
        }
    }

    /// Runs `work` on a new thread (the control thread's kind and filter) and answers
    /// `client` from there; until then other requests but status and fence are refused.
    private func runAside(
        _ what: String, thread name: String, for client: SocketClient,
        _ work: @escaping @Sendable () throws(ControlError) -> JSONValue
    ) throws(ControlError) {
        underWay.withLock { $0 = what }
        do throws(VMMError) {
            try HostThread.detach(.control, name: name) { [self] in
                let result: JSONValue
                do throws(ControlError) {
                    result = try work()
                } catch {
                    result = error.response
                }
                // Before the answer: a client that sends its next request at once is served.
                underWay.withLock { $0 = nil }
                client.send(result.encoded + "\n")
            }
        } catch {
            underWay.withLock { $0 = nil }
            throw ControlError(.failed, "cannot take \(what) now: \(error.description)")
        }
    }

    /// A client that sends an endless line is either broken or hostile: say why, then hang up.
    private func refuseLongLine(_ input: inout [UInt8], _ client: SocketClient) {
        input.removeAll()
        answer(client, ControlError(
            .badRequest, "request line longer than \(ControlRequest.maximumLineLength) bytes; closing").response)
        client.drop()
    }

    private func answer(_ client: SocketClient, _ value: JSONValue) {
        client.send(value.encoded + "\n")
    }
}

extension ControlRequest {
    /// What a snapshot under way leaves alone: reading the state, and moving the fence
    /// deadline (which must never wait behind a long request).
    fileprivate var isServedBesideASnapshot: Bool {
        switch self {
        case .status, .fence: true
        default: false
        }
    }
}
