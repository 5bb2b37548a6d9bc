import Foundation
import ClusterTestSupport
import Glibc
import Testing
import TestSupport

/// Hostile API clients against a real vmmd: what each can make the daemon hold is bounded,
/// each gets a 4xx (or is cut off), other clients are served within their normal latency,
/// and the daemon stays up.
extension DaemonTests {
    @Suite struct HostileClientTests {
        /// A 3 s request deadline, so that the tests see it pass.
        static let requestTimeout = 3

        /// Runs `body` against a fresh daemon with a short request deadline (and
        /// `maxConnections`), listening with TLS too when `tls`.
        func withDaemon(maxConnections: Int = 256, tls: Bool = false, _ body: (DaemonHarness) async throws -> Void) async throws {
            let arguments = [
                "--api-request-timeout", "\(Self.requestTimeout)", "--api-idle-timeout", "30", "--api-max-connections", "\(maxConnections)",
            ]
            try await DaemonTests().withDaemon(arguments: arguments, tls: tls, body)
        }

        @Test func oversizedAndMalformedRequestsGet4xxAndTheDaemonStaysUp() async throws {
            try await withDaemon(tls: true) { daemon in
                let kernel = TestPaths.kernel("echo")
                func send(_ bytes: [UInt8]) async throws -> HTTPResult {
                    let file = "\(daemon.root)/body-\(UUID().uuidString.prefix(8)).json"
                    #expect(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
                    defer { unlink(file) }
                    return try await daemon.request("POST", "/v1/vms", bodyFile: file)
                }

                // A body past 1 MiB: 413 naming the limit.
                let big = try await send(Array(#"{"name":"big","kernel":"\#(kernel)","cmdline":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 2 << 20) + Array(#""}"#.utf8))
                #expect(big.status == 413)
                #expect(big.errorCode == "payload_too_large")
                #expect(big.text.contains("1048576 bytes"), "\(big.text)")

                // Headers past 16 KiB: 431, on the socket and over TLS.
                let padding = "X-Padding: " + String(repeating: "p", count: 20 << 10)
                let headers = try await daemon.request("GET", "/v1/vms", headers: [padding])
                #expect(headers.status == 431)
                #expect(headers.errorCode == "headers_too_large", "\(headers.text)")
                let tlsHeaders = try await daemon.httpsRequest("GET", "/v1/vms", headers: [padding])
                #expect(tlsHeaders.status == 431)
                #expect(tlsHeaders.errorCode == "headers_too_large", "\(tlsHeaders.text)")
                let tooLong = try await daemon.request("GET", "/v1/vms/" + String(repeating: "a", count: 20 << 10))
                #expect(tooLong.status == 431, "a request line alone past the limit")

                // A method the path does not take: 405 with Allow over TLS too.
                let method = try await daemon.httpsRequest("PUT", "/v1/vms")
                #expect(method.status == 405)
                #expect(method.headers["allow"] == "GET, POST")
                #expect(method.errorCode == "method_not_allowed")

                // Invalid UTF-8 inside a string and as the body: 400.
                let insideString = try await send(Array(#"{"name":"a"#.utf8) + [0xFF, 0xFE] + Array(#"","kernel":"\#(kernel)"}"#.utf8))
                #expect(insideString.status == 400, "\(insideString.text)")
                #expect(insideString.errorCode == "bad_request")
                let notText = try await send([0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1])
                #expect(notText.status == 400, "\(notText.text)")

                // 100 000 levels of nesting, as the body and inside a field: 400.
                let depth = 100_000
                let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
                for nested in [arrays, objects, #"{"name":"deep","kernel":"\#(kernel)","disks":\#(arrays)}"#] {
                    let result = try await send(Array(nested.utf8))
                    #expect(result.status == 400, "\(result.text.prefix(300))")
                    #expect(result.errorCode == "bad_request")
                    #expect(daemon.daemonIsRunning)
                }

                #expect(daemon.daemonIsRunning)
                let list = try await daemon.request("GET", "/v1/vms")
                #expect(list.status == 200)
                #expect((list.json["vms"] as? [Any])?.isEmpty == true, "nothing was created")
                // Each request is one line, with who sent it; refusals at info.
                #expect(daemon.log.contains("uid 0 (pid "), "\(daemon.log.suffix(2000))")
                #expect(daemon.log.contains(": POST /v1/vms 413 "), "\(daemon.log.suffix(2000))")
                #expect(daemon.log.contains("CN=admin at 127.0.0.1:"), "\(daemon.log.suffix(2000))")
            }
        }

        @Test func twoThousandIdleConnectionsDoNotStarveAClient() async throws {
            try await withDaemon { daemon in
                let pid = try #require(daemon.daemonPID)
                let before = try await Self.latencies(daemon)
                let memoryBefore = Self.residentKiB(pid)
                var idle: [RawAPIConnection] = []
                for _ in 0..<2000 { idle.append(try RawAPIConnection(daemon.socket)) }
                let memoryWith = Self.residentKiB(pid)
                let during = try await Self.latencies(daemon)
                let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
                print("HostileClientTests: vmmd RSS \(memoryBefore / 1024) MiB before, \(memoryWith / 1024) MiB with 2000 idle connections; "
                    + "GET /v1/vms median \(before.median) before, \(during.median) during; \(descriptors) descriptors open")
                #expect(during.median < max(before.median * 5, .milliseconds(500)), "\(before) vs \(during)")
                #expect(descriptors < 256 + 64, "the daemon holds at most its connection limit")
                #expect(memoryWith - memoryBefore < 64 << 10, "\(memoryBefore) KiB before, \(memoryWith) KiB after")
                // The longest idle ones were closed to make room; the newest are still open.
                idle.forEach { $0.poll() }
                let closed = idle.prefix(1000).filter(\.closedByPeer).count
                #expect(closed == 1000)
                #expect(!idle.last!.closedByPeer)
                #expect(daemon.daemonIsRunning)
            }
        }

        @Test func byteByByteClientsAreCutOffWithoutDelayingOthers() async throws {
            try await withDaemon { daemon in
                // Half send a request's head one byte a second, half a body.
                let head = Array("GET /v1/vms HTTP/1.1\r\nHost: localhost\r\nX-Slow: yes\r\n\r\n".utf8)
                let bodyHead = "POST /v1/vms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
                var slow: [(connection: RawAPIConnection, bytes: [UInt8])] = []
                for index in 0..<50 {
                    let connection = try RawAPIConnection(daemon.socket)
                    if index % 2 == 1 { connection.send(bodyHead) }
                    slow.append((connection, index % 2 == 0 ? head : Array(repeating: UInt8(ascii: " "), count: 200)))
                }
                let normal = try await Self.latencies(daemon)
                let start = ContinuousClock.now
                var latencies: [Duration] = []
                for second in 0..<(Self.requestTimeout + 4) {
                    for client in slow where second < client.bytes.count { client.connection.send([client.bytes[second]]) }
                    let sent = ContinuousClock.now
                    let answer = try await daemon.request("GET", "/v1/vms")
                    latencies.append(ContinuousClock.now - sent)
                    #expect(answer.status == 200)
                    try await Task.sleep(until: start + .seconds(second + 1))
                }
                let cutOff = try await eventually(seconds: 5) {
                    slow.forEach { $0.connection.poll() }
                    return slow.allSatisfy { $0.connection.closedByPeer }
                }
                #expect(cutOff, "every slow client was closed")
                let timedOut = slow.filter { $0.connection.status == 408 }.count
                #expect(timedOut == slow.count, "\(slow.map { $0.connection.text.prefix(80) })")
                #expect(slow[0].connection.text.contains(#""code":"request_timeout""#), "\(slow[0].connection.text)")
                print("HostileClientTests: GET /v1/vms beside 50 slow clients: \(latencies)")
                #expect(latencies.max()! < max(normal.all.max()! * 5, .seconds(1)), "\(latencies), without slow clients \(normal.all)")
                #expect(daemon.daemonIsRunning)
            }
        }

        @Test func pastTheLimitBusyConnectionsAreKeptAndANewOneGets503() async throws {
            try await withDaemon(maxConnections: 4) { daemon in
                // Four event streams: each has a request being handled, for as long as it is open.
                var streams: [RawAPIConnection] = []
                for _ in 0..<4 {
                    let stream = try RawAPIConnection(daemon.socket)
                    stream.send("GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    #expect(try await eventually(seconds: 5) { stream.poll(); return stream.status == 200 })
                    streams.append(stream)
                }
                let refusedAt = ContinuousClock.now
                let refused = try RawAPIConnection(daemon.socket)
                #expect(try await eventually(seconds: 5) { refused.poll(); return refused.closedByPeer })
                #expect(ContinuousClock.now - refusedAt < .seconds(1))
                #expect(refused.status == 503, "\(refused.text)")
                #expect(refused.text.contains(#""code":"unavailable""#))
                streams.forEach { $0.poll() }
                let kept = streams.filter { !$0.closedByPeer }.count
                #expect(kept == 4, "the busy connections were kept")

                // One stream ends: the next client is served, and an idle connection is
                // closed to make room for another.
                streams.removeLast()
                #expect(try await eventually(seconds: 5) { try await daemon.request("GET", "/v1/vms").status == 200 })
                let idle = try RawAPIConnection(daemon.socket)
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await daemon.request("GET", "/v1/vms").status == 200)
                #expect(try await eventually(seconds: 2) { idle.poll(); return idle.closedByPeer })
            }
        }

        /// Five `GET /v1/vms` round trips (curl included).
        private static func latencies(_ daemon: DaemonHarness) async throws -> (median: Duration, all: [Duration]) {
            var all: [Duration] = []
            for _ in 0..<5 {
                let start = ContinuousClock.now
                #expect(try await daemon.request("GET", "/v1/vms").status == 200)
                all.append(ContinuousClock.now - start)
            }
            return (all.sorted()[2], all)
        }

        /// VmRSS of `pid`, in KiB.
        private static func residentKiB(_ pid: pid_t) -> Int {
            // "1234 kB"
            Int(ProcessStatus.fields(pid)["VmRSS"]?.split(separator: " ").first ?? "") ?? 0
        }
    }
}
