import Testing
import VMMCore

/// The control protocol's pieces without a VM: request parsing, JSON escaping, the backlog.
struct ControlProtocolTests {
    @Test func requestsAreBareWordsWithOptionalSpaceAndCR() throws {
        #expect(try ControlRequest.parse(Array("status".utf8)).get() == .status)
        #expect(try ControlRequest.parse(Array("  pause\r".utf8)).get() == .pause)
        for line in ["", "Status", "status now", "\u{0}stop", String(repeating: "z", count: 4000)] {
            guard case .failure(let error) = ControlRequest.parse(Array(line.utf8)) else {
                Issue.record("'\(line.prefix(20))' parsed as a request")
                continue
            }
            #expect(error.code == .badRequest)
            #expect(error.message.count < 200, "the echoed request must be bounded")
        }
        #expect(throws: ControlError.self) { try ControlRequest.parse([0xff, 0xfe, 0x0a]).get() }
    }

    @Test func jsonEscapesQuotesBackslashesAndControlCharacters() {
        let value = JSONValue.object([
            ("text", .string("a\"b\\c\nd\re\tf\u{1}g\u{7f}h é")), ("n", .integer(-3)), ("ok", .bool(true)),
            ("inner", .object([])),
        ])
        #expect(value.encoded == #"{"text":"a\"b\\c\nd\re\tf\u0001g\u007fh é","n":-3,"ok":true,"inner":{}}"#)
        #expect(ControlError(.conflict, "already paused").response.encoded
            == #"{"error":{"code":"conflict","message":"already paused"}}"#)
    }

    @Test func backlogKeepsTheNewestBytesInOrder() {
        var backlog = ConsoleBacklog(capacity: 4)
        #expect(backlog.contents.isEmpty)
        for byte in Array("ab".utf8) { backlog.append(byte) }
        #expect(backlog.contents == Array("ab".utf8))
        for byte in Array("cdef".utf8) { backlog.append(byte) }
        #expect(backlog.contents == Array("cdef".utf8))
        backlog.append(UInt8(ascii: "g"))
        #expect(backlog.contents == Array("defg".utf8))
    }
}
