#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// Feeds standard input to the guest's UART. In a terminal, Ctrl-A x quits and
/// Ctrl-A Ctrl-A sends one Ctrl-A. End of input just stops reading.
struct ConsoleInput: Sendable {
    static let escape: UInt8 = 0x01

    let escapes: Bool
    let log: Logger
    /// Hands bytes to the guest; returns how many it took (0 while its buffer is full).
    let deliver: @Sendable ([UInt8]) -> Int
    let quit: @Sendable () -> Void

    func start() throws(VMMError) {
        try HostThread.detach(.consoleInput, name: "console input") { [self] in readLoop() }
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 512)
        var afterEscape = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count)
            for byte in buffer[0..<count] {
                guard escapes else { bytes.append(byte); continue }
                if afterEscape {
                    afterEscape = false
                    switch byte {
                    case UInt8(ascii: "x"), UInt8(ascii: "X"):
                        log.info("quit from the console (Ctrl-A x)")
                        quit()
                        return
                    case Self.escape: bytes.append(byte)
                    default: break
                    }
                } else if byte == Self.escape {
                    afterEscape = true
                } else {
                    bytes.append(byte)
                }
            }
            send(bytes)
        }
    }

    /// Waits while the guest's receive buffer is full rather than dropping input.
    private func send(_ bytes: [UInt8]) {
        var pending = bytes[...]
        while !pending.isEmpty {
            let taken = deliver(Array(pending))
            pending = pending.dropFirst(taken)
            if taken == 0 {
                var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
                nanosleep(&pause, nil)
            }
        }
    }
}
