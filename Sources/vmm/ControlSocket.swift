import VMMCore

/// The control protocol on a Unix socket: one bare-word request per line, one JSON
/// answer per line (see docs/vmm-control-protocol.md).
///
/// Requests run on the server's thread, one at a time; the slowest, `pause`, waits at
/// most a second for the vCPUs.
struct ControlSocket: SocketServerHandler {
    let session: Session

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
            switch request {
            case .status:
                answer(client, session.status())
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
                answer(client, try session.snapshot(to: directory, memoryOnly: memoryOnly))
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
