import Testing
import VMMCore

/// The control protocol's pieces without a VM: request parsing, JSON escaping, the backlog.
struct ControlProtocolTests {
    @Test func requestsAreBareWordsWithOptionalSpaceAndCR() throws {
        #expect(try ControlRequest.parse(Array("status".utf8)).get() == .status)
        #expect(try ControlRequest.parse(Array("  pause\r".utf8)).get() == .pause)
        #expect(try ControlRequest.parse(Array("stats".utf8)).get() == .statistics)
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

    @Test func migrateTakesAnAbsoluteSocketAndNamedLimits() throws {
        #expect(try ControlRequest.parse(Array("migrate /run/in.sock".utf8)).get() == .migrate(MigrationOptions(path: "/run/in.sock")))
        var options = MigrationOptions(path: "/d")
        options.maximumDowntime = 0.05
        options.bandwidth = 100e6
        options.deadline = 12
        options.copyStorage = true
        #expect(try ControlRequest.parse(Array("migrate /d max-downtime=50 bandwidth=100 deadline=12 copy-storage\r".utf8)).get()
            == .migrate(options))
        #expect(try ControlRequest.parse(Array("migrate-cancel".utf8)).get() == .migrateCancel)
        for line in ["migrate", "migrate relative.sock", "migrate /d fast", "migrate /d bandwidth=0", "migrate /d deadline=x",
                     "migrate /d max-downtime=-1", "migrate /d copy-storage=yes", "migrate-cancel now"] {
            guard case .failure(let error) = ControlRequest.parse(Array(line.utf8)) else {
                Issue.record("'\(line)' parsed as a request")
                continue
            }
            #expect(error.code == .badRequest)
            #expect(error.message.contains("usage: migrate") || line.hasPrefix("migrate-cancel"), "\(error.message)")
        }
    }

    @Test func balloonTakesOneSize() throws {
        #expect(try ControlRequest.parse(Array("balloon 0".utf8)).get() == .balloon(target: 0))
        #expect(try ControlRequest.parse(Array("balloon 128M\r".utf8)).get() == .balloon(target: 128 << 20))
        for line in ["balloon", "balloon -1", "balloon 1Q", "balloon 1M 2M", "balloon \(String(repeating: "9", count: 60))"] {
            guard case .failure(let error) = ControlRequest.parse(Array(line.utf8)) else {
                Issue.record("'\(line.prefix(20))' parsed as a request")
                continue
            }
            #expect(error.code == .badRequest)
            #expect(error.message.contains("usage: balloon SIZE") && error.message.count < 200, "\(error.message)")
        }
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
