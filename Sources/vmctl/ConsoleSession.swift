#if canImport(Glibc)
import Glibc
#endif

/// Copies a console socket to standard output and standard input to the socket.
struct ConsoleSession {
    enum Ending: Equatable {
        /// The user pressed the escape key (interactive only).
        case detached
        /// The console closed: the VM stopped.
        case closed
        /// Standard input ended (not interactive) and the console's output was drained.
        case inputEnded
    }

    /// Ctrl-], as virsh uses.
    static let escape: UInt8 = 0x1d
    /// After standard input ends, output still coming in reply is printed until the
    /// console is quiet this long.
    static let drainQuietMilliseconds: Int32 = 300
    /// ... but a guest that never stops talking does not hold vmctl forever.
    static let drainLimit: Duration = .seconds(3)

    let socket: Int32
    let interactive: Bool

    func run() throws -> Ending {
        // A console that closes while vmctl writes must end the session, not kill vmctl.
        signal(SIGPIPE, SIG_IGN)
        var descriptors = [
            pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
            pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            guard poll(&descriptors, 2, -1) >= 0 else {
                if errno == EINTR { continue }
                throw ConsoleError.io("poll: \(String(cString: strerror(errno)))")
            }
            if descriptors[1].revents != 0 {
                let count = read(socket, &buffer, buffer.count)
                if count <= 0 { return .closed }
                try Self.writeAll(STDOUT_FILENO, buffer[..<count])
            }
            if descriptors[0].revents != 0 {
                let count = read(STDIN_FILENO, &buffer, buffer.count)
                if count <= 0 {
                    if interactive { return .detached }
                    return try drain(into: &buffer)
                }
                var input = buffer[..<count]
                let escape = interactive ? input.firstIndex(of: Self.escape) : nil
                if let escape { input = input[..<escape] }
                guard (try? Self.writeAll(socket, input)) != nil else { return .closed }
                if escape != nil { return .detached }
            }
        }
    }

    private func drain(into buffer: inout [UInt8]) throws -> Ending {
        let clock = ContinuousClock()
        let deadline = clock.now + Self.drainLimit
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        while clock.now < deadline {
            let ready = poll(&descriptor, 1, Self.drainQuietMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { break }
            let count = read(socket, &buffer, buffer.count)
            if count <= 0 { return .closed }
            try Self.writeAll(STDOUT_FILENO, buffer[..<count])
        }
        return .inputEnded
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) throws {
        var rest = bytes
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw ConsoleError.io("write: \(String(cString: strerror(errno)))")
            }
            rest = rest.dropFirst(written)
        }
    }
}
