#if canImport(Glibc)
import Glibc
#endif
import VMMAPI

/// Attaches this process's standard input and output to a VM's console socket.
struct ConsoleAttachment {
    let global: GlobalOptions
    let name: String

    /// How long a VM that just started gets to create its console socket.
    private static let socketWait: Duration = .seconds(5)

    /// The console socket is a file on vmmd's host, reached directly rather than through
    /// the API, so a remote VM's console cannot be attached (its log can be printed).
    static func checkLocal(_ global: GlobalOptions) throws {
        if try global.endpoint().isRemote { throw ConsoleError.remote }
    }

    func run() async throws {
        try Self.checkLocal(global)
        // Ask vmmd first: a stopped or unknown VM deserves its own error and exit status.
        let info = try await global.client().get(Routes.vm(name), as: VMInfo.self)
        guard info.state.hasProcess else { throw ConsoleError.notRunning(name: name, state: info.state) }
        let path = global.consoleSocketPath(of: name)
        let socket = try await connect(path)
        defer { close(socket) }
        let (ending, interactive) = try Terminal.withRawModeIfInteractive { interactive in
            if interactive {
                StandardError.write("Connected to \(name)'s console; Ctrl-] detaches.")
            }
            return (try ConsoleSession(socket: socket, interactive: interactive).run(), interactive)
        }
        switch ending {
        case .detached: StandardError.write("\ndetached")
        case .closed where interactive: StandardError.write("\nconsole closed (the VM stopped)")
        case .closed, .inputEnded: break
        }
    }

    private func connect(_ path: String) async throws -> Int32 {
        let clock = ContinuousClock()
        let deadline = clock.now + Self.socketWait
        while true {
            switch UnixSocket.connect(to: path) {
            case .success(let socket):
                return socket
            case .failure(let error) where error.code == EACCES || error.code == EPERM:
                throw ConsoleError.permissionDenied(path: path)
            case .failure(let error) where (error.code == ENOENT || error.code == ECONNREFUSED) && clock.now < deadline:
                try await Task.sleep(for: .milliseconds(100))
            case .failure(let error):
                throw ConsoleError.unreachable(name: name, path: path, reason: error.description)
            }
        }
    }
}
