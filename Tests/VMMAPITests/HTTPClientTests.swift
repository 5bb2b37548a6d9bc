import Foundation
import Glibc
import NIOHTTP1
import Synchronization
import Testing
import VMMAPI

@Suite struct HTTPClientTests {
    private static let web = VMInfo(
        definition: VMDefinition(name: "web", cpus: 2, memory: 512 << 20, kernel: "/boot/vmlinuz"), state: .running, pid: 7)

    private static func json(_ value: some Encodable) -> String {
        String(decoding: try! JSONEncoder().encode(value), as: UTF8.self)
    }

    @Test func getDecodesTheBody() async throws {
        let server = try await TestHTTPServer { _ in .full(status: .ok, body: Self.json(Self.web)) }
        let info = try await HTTPClient(socketPath: server.socketPath).get("/v1/vms/web", as: VMInfo.self)
        #expect(info == Self.web)
        let request = try #require(server.requests.first)
        #expect(request.head.method == .GET)
        #expect(request.head.uri == "/v1/vms/web")
        #expect(request.head.headers["Connection"] == ["close"])
        try await server.shutdown()
    }

    @Test func postSendsJSONAndPatchDecodes() async throws {
        let server = try await TestHTTPServer { _ in .full(status: .ok, body: Self.json(Self.web)) }
        let client = HTTPClient(socketPath: server.socketPath)
        try await client.post("/v1/vms/web/stop", body: VMStopRequest(force: true, timeout: 3))
        try await client.post("/v1/vms/web/pause")
        let patched: VMInfo = try await client.patch("/v1/vms/web", body: VMDefinitionPatch(cpus: 2))
        #expect(patched == Self.web)
        let requests = server.requests
        #expect(requests.map(\.head.method) == [.POST, .POST, .PATCH])
        #expect(try JSONDecoder().decode(VMStopRequest.self, from: Data(requests[0].body)) == VMStopRequest(force: true, timeout: 3))
        #expect(requests[0].head.headers["Content-Type"] == ["application/json"])
        #expect(requests[1].head.headers["Content-Length"] == ["0"])
        #expect(requests[1].body.isEmpty)
        try await server.shutdown()
    }

    @Test func anAPIErrorBodyIsThrownAsAPIError() async throws {
        let conflict = APIError(code: .conflict, message: "web is already running")
        let server = try await TestHTTPServer { _ in .full(status: .conflict, body: Self.json(conflict)) }
        let client = HTTPClient(socketPath: server.socketPath)
        let error = await #expect(throws: APIError.self) { try await client.post("/v1/vms/web/start") }
        #expect(error?.code == "conflict")
        #expect(error?.message == "web is already running")
        // `send` reports the status without judging it.
        #expect(try await client.send(.POST, "/v1/vms/web/start").status == 409)
        try await server.shutdown()
    }

    @Test func aNon2xxWithoutAnAPIErrorIsAnUnexpectedStatus() async throws {
        let server = try await TestHTTPServer { _ in .full(status: .badGateway, body: "upstream gone") }
        await #expect(throws: HTTPClientError.unexpectedStatus(502, body: "upstream gone")) {
            try await HTTPClient(socketPath: server.socketPath).get("/v1/host", as: HostInfo.self)
        }
        try await server.shutdown()
    }

    @Test func aBodyOfTheWrongShapeIsMalformed() async throws {
        let server = try await TestHTTPServer { _ in .full(status: .ok, body: #"{"vms": 3}"#) }
        let error = await #expect(throws: HTTPClientError.self) {
            try await HTTPClient(socketPath: server.socketPath).get("/v1/vms", as: VMList.self)
        }
        guard case .malformedResponse = error else { Issue.record("got \(String(describing: error))"); return }
        try await server.shutdown()
    }

    @Test func aResponseThatIsNotHTTPIsMalformed() async throws {
        let server = try await TestHTTPServer(garbage: "SSH-2.0-OpenSSH_9.2\r\n\r\n")
        let error = await #expect(throws: HTTPClientError.self) {
            try await HTTPClient(socketPath: server.socketPath).get("/v1/vms", as: VMList.self)
        }
        guard case .malformedResponse = error else { Issue.record("got \(String(describing: error))"); return }
        try await server.shutdown()
    }

    @Test func aMissingSocketMeansTheDaemonIsNotRunning() async throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/vmmd.sock"
        await #expect(throws: HTTPClientError.daemonNotRunning(endpoint: path, reason: "no such socket")) {
            try await HTTPClient(socketPath: path).get("/v1/vms", as: VMList.self)
        }
    }

    @Test func aSocketNobodyListensOnMeansTheDaemonIsNotRunning() async throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/vmmd.sock"
        try Self.bindAndAbandon(path)
        await #expect(throws: HTTPClientError.daemonNotRunning(endpoint: path, reason: "connection refused")) {
            try await HTTPClient(socketPath: path).get("/v1/vms", as: VMList.self)
        }
    }

    @Test func streamYieldsNDJSONLinesAsTheyArrive() async throws {
        let events = [
            VMEvent(time: 1, vm: "web", state: .starting, previous: .stopped),
            VMEvent(time: 2, vm: "web", state: .running, previous: .starting),
            VMEvent(time: 3, vm: "web", state: .crashed, previous: .running, reason: "vmm exited with status 4"),
        ].map(Self.json)
        // Chunks cut through lines; the connection stays open after the last one.
        let wire = events.joined(separator: "\n") + "\n"
        let cut = wire.index(wire.startIndex, offsetBy: 10)
        let server = try await TestHTTPServer { _ in .chunks([String(wire[..<cut]), String(wire[cut...])]) }
        var lines: [String] = []
        for try await line in HTTPClient(socketPath: server.socketPath).stream("/v1/events") {
            lines.append(line)
            if lines.count == 3 { break }
        }
        #expect(lines == events)
        try await server.shutdown()
    }

    @Test func streamEndsWithTheAPIError() async throws {
        let server = try await TestHTTPServer { _ in
            .full(status: .serviceUnavailable, body: Self.json(APIError(code: .unavailable, message: "shutting down")))
        }
        let error = await #expect(throws: APIError.self) {
            for try await _ in HTTPClient(socketPath: server.socketPath).stream("/v1/events") {}
        }
        #expect(error?.code == "unavailable")
        try await server.shutdown()
    }

    @Test func aServerThatDoesNotAnswerInTimeIsATimeout() async throws {
        let server = try await TestHTTPServer { _ in .silent }
        let client = HTTPClient(socketPath: server.socketPath)
        let begin = ContinuousClock.now
        await #expect(throws: HTTPClientError.timedOut(endpoint: server.socketPath)) {
            try await client.send(.GET, "/v1/host", timeout: .milliseconds(200))
        }
        #expect(ContinuousClock.now - begin < .seconds(5))
        await #expect(throws: HTTPClientError.timedOut(endpoint: server.socketPath)) {
            for try await _ in client.stream(.POST, "/v3/watch", body: [], timeout: .milliseconds(200)) {}
        }
        try await server.shutdown()
    }

    @Test func aStreamsTimeoutEndsWithItsHead() async throws {
        let server = try await TestHTTPServer { request in
            .chunks(["\(request.head.headers["X-Extra"].first ?? "none")\n"])
        }
        let lines = Mutex<[String]>([])
        let ended = Mutex(false)
        let reading = Task {
            let stream = HTTPClient(socketPath: server.socketPath).stream(
                .POST, "/v3/watch", body: Array("{}".utf8), headers: [("X-Extra", "yes")], timeout: .seconds(2))
            defer { ended.withLock { $0 = true } }
            for try await line in stream { lines.withLock { $0.append(line) } }
        }
        // Past the timeout counted from the head's arrival, the stream is still open: the
        // deadline ended with the head. (2 s: with every suite running at once, a head has
        // taken over 1 s to arrive here.)
        for _ in 0..<100 where lines.withLock({ $0.isEmpty }) && !ended.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .seconds(2.5))
        #expect(lines.withLock { $0 } == ["yes"])
        #expect(!ended.withLock { $0 })
        reading.cancel()
        try await server.shutdown()
    }

    /// Leaves a socket file behind that nothing listens on, as a crashed daemon would.
    private static func bindAndAbandon(_ path: String) throws {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8) + [0])
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(descriptor)
        guard result == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }
}
