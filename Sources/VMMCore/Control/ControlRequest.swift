/// A request on the control socket: a word, and for `snapshot` its arguments, per line.
public enum ControlRequest: Equatable, Sendable {
    case status, pause, resume, shutdown, stop, reboot
    /// `snapshot DIR [memory-only]`: save the VM into the new folder DIR (an absolute path).
    case snapshot(directory: String, memoryOnly: Bool)

    /// Longest line accepted, newline excluded; a client that sends more is cut off.
    public static let maximumLineLength = 4096

    private static let words: [String: ControlRequest] = [
        "status": .status, "pause": .pause, "resume": .resume, "shutdown": .shutdown, "stop": .stop,
        "reboot": .reboot,
    ]
    private static let expected = "status, pause, resume, shutdown, stop, reboot, snapshot"

    /// Parses one line without its newline; spaces, tabs and a CR around the words are
    /// ignored (a terminal or socat may send CRLF).
    public static func parse(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlError> {
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0d }
        let fields = Array(line).split(whereSeparator: isBlank).map { String(decoding: $0, as: UTF8.self) }
        guard let word = fields.first else {
            return .failure(ControlError(.badRequest, "empty request; expected one of \(expected)"))
        }
        if word == "snapshot" { return parseSnapshot(Array(fields.dropFirst())) }
        if fields.count == 1, let request = words[word] { return .success(request) }
        guard words[word] == nil else {
            return .failure(ControlError(.badRequest, "'\(word)' takes no arguments"))
        }
        // Echo a bounded prefix only: the line is untrusted and may be 4 KiB of anything.
        let shown = word.count > 40 ? word.prefix(40) + "..." : word
        return .failure(ControlError(.badRequest, "unknown request '\(shown)'; expected one of \(expected)"))
    }

    private static func parseSnapshot(_ arguments: [String]) -> Result<ControlRequest, ControlError> {
        let usage = "usage: snapshot DIR [memory-only], DIR an absolute path that does not exist yet"
        guard let directory = arguments.first, arguments.count <= 2 else {
            return .failure(ControlError(.badRequest, usage))
        }
        guard directory.hasPrefix("/") else {
            return .failure(ControlError(.badRequest, "snapshot folder '\(directory)' is not absolute; \(usage)"))
        }
        switch arguments.dropFirst().first {
        case nil: return .success(.snapshot(directory: directory, memoryOnly: false))
        case "memory-only": return .success(.snapshot(directory: directory, memoryOnly: true))
        case let other?: return .failure(ControlError(.badRequest, "unknown snapshot option '\(other.prefix(40))'; \(usage)"))
        }
    }
}
