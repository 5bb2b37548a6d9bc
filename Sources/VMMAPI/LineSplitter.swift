/// Cuts a byte stream into lines, whatever the chunk boundaries, as NDJSON needs.
struct LineSplitter {
    private var pending: [UInt8] = []

    /// The lines `bytes` completes, without "\n" or "\r\n"; empty lines are dropped
    /// because a stream may send them to keep the connection alive.
    mutating func append(_ bytes: some Sequence<UInt8>) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if let line = takePending() { lines.append(line) }
            } else {
                pending.append(byte)
            }
        }
        return lines
    }

    /// The last line when the stream ended without a line end.
    mutating func finish() -> String? {
        takePending()
    }

    private mutating func takePending() -> String? {
        if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
        defer { pending.removeAll(keepingCapacity: true) }
        return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
    }
}
