import Foundation

/// A test client of vmm's control or console socket, on raw POSIX calls so that a peer
/// hanging up shows up as a return value rather than a signal or an exception.
final class UnixSocketConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var isClosed = false

    /// Connects to `path`, waiting up to `timeout` seconds for vmm to create it.
    init(path: String, timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if result == 0 {
                self.fd = fd
                return
            }
            close(fd)
            guard Date() < deadline else { throw TestSetupError("cannot connect to \(path): errno \(errno)") }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    deinit { close(fd) }

    /// Sends everything it can; false once the peer is gone.
    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }

    /// The next line without its newline, or nil after `timeout` seconds or at end of stream.
    func readLine(timeout: TimeInterval = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            guard !isClosed, Date() < deadline, receive(until: deadline) else { return nil }
        }
    }

    /// Sends a request line and returns the answer parsed as a JSON object.
    func request(_ line: String, timeout: TimeInterval = 10) -> [String: Any]? {
        guard send(line + "\n"), let answer = readLine(timeout: timeout) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any]
    }

    /// Everything received so far, as text (for the console).
    var text: String { String(decoding: buffer, as: UTF8.self) }

    /// Reads until `expected` arrives after the previous match; false after `timeout` seconds.
    /// Searching only new bytes keeps waiting on a long console linear.
    func waitFor(_ expected: String, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        let needle = Array(expected.utf8)
        var start = searchedUpTo
        while true {
            if let found = find(needle, from: start) {
                searchedUpTo = found + needle.count
                return true
            }
            start = max(searchedUpTo, buffer.count - needle.count + 1)
            guard !isClosed, Date() < deadline, receive(until: deadline) else { return false }
        }
    }

    private var searchedUpTo = 0

    /// Takes in what arrives until nothing came for `quiet` seconds (at most `limit` seconds
    /// in all), so that `text` holds everything the peer had sent by then.
    func drain(quiet: TimeInterval = 0.01, limit: TimeInterval = 10) {
        let end = Date().addingTimeInterval(limit)
        while !isClosed && Date() < end {
            guard receive(until: min(end, Date().addingTimeInterval(quiet))) else { return }
        }
    }

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, buffer.count >= needle.count else { return nil }
        var index = start
        while index <= buffer.count - needle.count {
            if buffer[index] == needle[0] && buffer[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// Waits for input until `deadline`; false when nothing came. Marks the end of stream.
    private func receive(until deadline: Date) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = max(1, Int32(deadline.timeIntervalSinceNow * 1000))
        guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else {
            isClosed = true
            return false
        }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }
}
