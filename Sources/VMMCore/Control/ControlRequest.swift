/// A request on the control socket: one bare word per line.
public enum ControlRequest: String, CaseIterable, Sendable {
    case status, pause, resume, shutdown, stop, reboot

    /// Longest line accepted, newline excluded; a client that sends more is cut off.
    public static let maximumLineLength = 4096

    /// Parses one line without its newline; spaces, tabs and a CR around the word are ignored
    /// (a terminal or socat may send CRLF).
    public static func parse(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlError> {
        let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0d }
        let trimmed = Array(line).drop(while: isBlank).reversed().drop(while: isBlank).reversed()
        let word = String(decoding: trimmed, as: UTF8.self)
        if let request = ControlRequest(rawValue: word) { return .success(request) }
        let expected = allCases.map(\.rawValue).joined(separator: ", ")
        guard !word.isEmpty else { return .failure(ControlError(.badRequest, "empty request; expected one of \(expected)")) }
        // Echo a bounded prefix only: the line is untrusted and may be 4 KiB of anything.
        let shown = word.count > 40 ? word.prefix(40) + "..." : word
        return .failure(ControlError(.badRequest, "unknown request '\(shown)'; expected one of \(expected)"))
    }
}
