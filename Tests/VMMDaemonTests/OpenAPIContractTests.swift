import ClusterTestSupport
import Foundation
import Glibc
import Testing

/// `api/openapi.yaml` against the real daemon: the file is valid OpenAPI, every documented
/// (method, path, status) is produced by a real vmmd with real vmm processes and its body
/// validates against the documented schema, and the daemon serves nothing undocumented.
///
/// Needs python3 with PyYAML, openapi-spec-validator and openapi-schema-validator
/// (`pip install openapi-spec-validator`); `PYTHON` names another interpreter.
extension DaemonTests {
    @Suite struct OpenAPIContractTests {
        static let spec = "\(TestPaths.packageRoot)/api/openapi.yaml"

        @Test func theSpecIsValidOpenAPI() async throws {
            let result = try await OpenAPIContract.python(["-m", "openapi_spec_validator", Self.spec])
            #expect(result.status == 0, "\(result)")
        }

        /// The routes VMRoutes and MigrationRoutes register are exactly the documented
        /// operations.
        @Test func theRoutesInTheSourceAreTheDocumentedOnes() async throws {
            let source = try ["VMRoutes", "MigrationRoutes"].map {
                try String(contentsOfFile: "\(TestPaths.packageRoot)/Sources/VMMDaemon/HTTP/\($0).swift", encoding: .utf8)
            }.joined(separator: "\n")
            var served = Set<String>()
            for match in source.matches(of: /router\.(get|post|put|patch|delete|head|on)\("([^"]+)"/) {
                let path = match.output.2.replacing(/:([a-z]+)/) { "{\($0.output.1)}" }
                served.insert("\(match.output.1.uppercased()) \(path)")
            }
            #expect(served.contains("POST /v1/vms/{name}/start"), "the routes were found")
            let documented = Set(try await OpenAPIContract.operations(Self.spec).map { "\($0.method) \($0.path)" })
            #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
            #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        }

        @Test func everyDocumentedResponseIsServedAsDocumented() async throws {
            let operations = try await OpenAPIContract.operations(Self.spec)
            try #require(operations.count >= 14, "\(operations)")
            try await DaemonTests().withDaemon { daemon in
                let api = OpenAPIContract(daemon)
                try await Self.exercise(api, daemon)
                // Any request can be refused for its size before it is routed.
                let padding = "X-Padding: " + String(repeating: "p", count: 20 << 10)
                for operation in operations {
                    try await api.expect(431, operation.method, operation.path, name: "alpha", snapshot: "s1", headers: [padding])
                }

                // Everything documented was seen.
                let seen = Set(api.exchanges.map { "\($0.method) \($0.path) \($0.status)" })
                // 403 needs another user, which only root can become; 507 a full file
                // system, which only root can mount.
                let documented = operations.flatMap { operation in
                    operation.statuses.filter { getuid() == 0 || !["403", "507"].contains($0) }
                        .map { "\(operation.method) \(operation.path) \($0)" }
                }.filter { !Self.exercisedAcrossHosts.contains($0) && !Self.exercisedInACluster.contains($0) }
                let missing = documented.filter { !seen.contains($0) }
                #expect(missing.isEmpty, "documented responses never exercised: \(missing)")

                // Every answer was documented and matches its schema.
                let problems = try await api.validate(against: Self.spec)
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

                // Nothing else is served: every other method on a documented path is 405 with
                // an Allow header naming the documented ones, and a few paths near the
                // documented ones are 404, both with the error shape.
                let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"]
                for path in Set(operations.map(\.path)) {
                    let taken = Set(operations.filter { $0.path == path }.map(\.method))
                    let concrete = path.replacingOccurrences(of: "{name}", with: "alpha").replacingOccurrences(of: "{snapshot}", with: "s1")
                        .replacingOccurrences(of: "{id}", with: "m1")
                    for method in methods where !taken.contains(method) {
                        let result = try await daemon.request(method, concrete)
                        #expect(result.status == 405, "\(method) \(path) is not documented, but answered \(result.status)")
                        #expect(result.headers["allow"] == taken.sorted().joined(separator: ", "), "\(method) \(path): \(result.headers)")
                        #expect(method == "HEAD" || result.errorCode == "method_not_allowed", "\(method) \(path): \(result.text)")
                    }
                }
                let unknown = [
                    ("GET", "/"), ("GET", "/v1"), ("GET", "/v2/vms"), ("GET", "/v1/vm"), ("GET", "/v1/vms/alpha/log"),
                    ("POST", "/v1/vms/alpha/explode"), ("GET", "/v1/vms/alpha/explode"), ("POST", "/v1/vms/alpha/create"),
                    ("POST", "/v1/vms/alpha/delete"), ("POST", "/v1/vms/alpha/update"), ("GET", "/v1/vms/alpha/start/now"),
                    ("GET", "/v1/metrics"), ("GET", "/v1/events/alpha"), ("POST", "/v1/vms/alpha/snapshots/s1/restore"),
                    ("GET", "/v1/vms/alpha/snapshots/s1/memory"), ("PUT", "/v1/vms/alpha/snapshots/s1/memory"),
                ]
                for (method, path) in unknown {
                    let result = try await daemon.request(method, path)
                    #expect(result.status == 404, "\(method) \(path) is not documented, but answered \(result.status)")
                    #expect(result.errorCode == "not_found", "\(method) \(path): \(result.text)")
                }
            }
        }

        /// The responses only a migration between daemons produces: HostMigrationTests
        /// produces them and checks them against the spec.
        static let exercisedAcrossHosts: Set<String> = [
            "POST /v1/vms/{name}/migrate 200", "POST /v1/vms/{name}/migrate 422", "POST /v1/vms/{name}/migrate 503",
            "POST /v1/migrations 201", "POST /v1/migrations 409", "POST /v1/migrations 422", "GET /v1/migrations/{id} 200",
            "DELETE /v1/migrations/{id} 204", "DELETE /v1/migrations/{id} 409", "POST /v1/host/drain 200",
        ]

        /// The responses only cluster mode produces: ClusterRegistryTests produces them and
        /// checks them against the spec.
        static let exercisedInACluster: Set<String> = ["POST /v1/vms 503"]

        /// The console attachment of running VM `alpha`: switched (101, by hand: curl
        /// cannot speak the switched protocol), refused without the headers (400), and its
        /// console socket gone (503, after the daemon's 5 s of retries).
        private static func exerciseConsoleAttach(_ api: OpenAPIContract, _ daemon: DaemonHarness) async throws {
            let path = "/v1/vms/{name}/console/attach"
            let attached = try await RawAPIConnection.attachByHand(socket: daemon.socket, "alpha")
            #expect(try await attached.waitFor("echo: ready", seconds: 10))
            api.record(OpenAPIContract.Exchange(method: "GET", path: path, status: attached.status ?? 0, contentType: "", body: ""))
            try await api.expect(400, "GET", path, name: "alpha")
            let console = "\(daemon.runtimeDirectory)/vms/alpha/root/console.sock"
            #expect(rename(console, console + ".aside") == 0)
            try await api.expect(503, "GET", path, name: "alpha", headers: OpenAPIContract.consoleUpgrade)
            #expect(rename(console + ".aside", console) == 0)
        }

        /// Produces every documented status of every route.
        private static func exercise(_ api: OpenAPIContract, _ daemon: DaemonHarness) async throws {
            let echo = TestPaths.kernel("echo")
            func definition(_ name: String, kernel: String = echo) -> String {
                #"{"name":"\#(name)","kernel":"\#(kernel)","memory":33554432,"cmdline":"x=1"}"#
            }
            let big = "\(daemon.root)/big.json"
            try (#"{"cmdline":""# + String(repeating: "x", count: 2 << 20) + #""}"#).write(toFile: big, atomically: true, encoding: .utf8)
            let vms = "/v1/vms", vm = "/v1/vms/{name}"
            let actions = ["start", "stop", "pause", "resume", "reboot", "kill"]

            // The collection.
            try await api.expect(200, "GET", vms)
            try await api.expect(201, "POST", vms, body: definition("alpha"))
            try await api.expect(200, "GET", vms)
            try await api.expect(400, "POST", vms, body: "[1,2]")
            try await api.expect(400, "POST", vms, body: #"{"name":"beta","kernel":"\#(echo)","colour":"red"}"#)
            try await api.expect(409, "POST", vms, body: definition("alpha"))
            let image = "\(daemon.root)/contract.raw"
            #expect(FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20)))
            let devices = #""disks":[{"path":"\#(image)"}],"networks":[{"tap":"vmtap-c"},{"mac":"02:00:00:00:00:01"}],"rng":false"#
            try await api.expect(201, "POST", vms, body: #"{"name":"gamma","kernel":"\#(echo)",\#(devices)}"#)
            try await api.expect(409, "POST", vms, body: #"{"name":"delta","kernel":"\#(echo)","disks":[{"path":"\#(image)"}]}"#)
            try await api.expect(400, "POST", vms, body: #"{"name":"delta","kernel":"\#(echo)","networks":[{"mac":"ff:ff:ff:ff:ff:ff"}]}"#)
            try await api.expect(200, "PATCH", vm, name: "gamma", body: #"{"networks":[{"tap":"vmtap-d"}],"rng":true}"#)
            try await api.expect(413, "POST", vms, bodyFile: big)
            try await api.expect(422, "POST", vms, body: #"{"name":"beta","kernel":"relative/echo.elf"}"#)
            try await api.expect(422, "POST", vms, body: #"{"name":"beta","kernel":"\#(echo)","cpus":0}"#)

            // Bad names, unknown VMs, on every per-VM route.
            for (method, path) in [("GET", vm), ("PATCH", vm), ("DELETE", vm), ("GET", "\(vm)/console"), ("GET", "\(vm)/console/attach"),
                                   ("GET", "\(vm)/stats")]
                + actions.map({ ("POST", "\(vm)/\($0)") }) {
                let body = method == "PATCH" ? #"{"cpus":1}"# : nil
                try await api.expect(400, method, path, name: "Not_A_Name", body: body)
                try await api.expect(404, method, path, name: "ghost", body: body)
            }

            // A stopped VM.
            try await api.expect(200, "GET", vm, name: "alpha")
            try await api.expect(200, "PATCH", vm, name: "alpha", body: #"{"cmdline":"y=2","autostart":false}"#)
            try await api.expect(400, "PATCH", vm, name: "alpha", body: #"{"name":"other"}"#)
            try await api.expect(400, "PATCH", vm, name: "alpha", body: #"{"cpus":"two"}"#)
            try await api.expect(413, "PATCH", vm, name: "alpha", bodyFile: big)
            try await api.expect(422, "PATCH", vm, name: "alpha", body: #"{"memory":1024}"#)
            try await api.expect(200, "GET", "\(vm)/console", name: "alpha")
            try await api.expect(409, "GET", "\(vm)/console/attach", name: "alpha", headers: OpenAPIContract.consoleUpgrade)
            try await api.expect(409, "GET", "\(vm)/stats", name: "alpha")
            for action in ["stop", "pause", "resume", "reboot", "kill"] {
                try await api.expect(409, "POST", "\(vm)/\(action)", name: "alpha")
            }

            // Running, paused, running again; its events on the stream.
            let events = try api.stream("/v1/events")
            #expect(try await daemon.awaitSubscription { events.bodySoFar }, "the events stream is subscribed")
            try await api.expect(200, "POST", "\(vm)/start", name: "alpha")
            try await api.expect(200, "GET", vm, name: "alpha")
            try await api.expect(200, "GET", vms)
            try await api.expect(409, "POST", "\(vm)/start", name: "alpha")
            try await api.expect(409, "PATCH", vm, name: "alpha", body: #"{"cpus":2}"#)
            try await api.expect(409, "DELETE", vm, name: "alpha")
            try await api.expect(409, "POST", "\(vm)/resume", name: "alpha")
            #expect(try await eventually(seconds: 10) { try await daemon.request("GET", "/v1/vms/alpha/console").text.contains("echo: ready") })
            try await api.expect(200, "GET", "\(vm)/console", name: "alpha")
            try await exerciseConsoleAttach(api, daemon)
            try await api.expect(200, "GET", "\(vm)/stats", name: "alpha")
            try await api.expect(200, "POST", "\(vm)/pause", name: "alpha")
            try await api.expect(409, "POST", "\(vm)/pause", name: "alpha")
            try await api.expect(409, "POST", "\(vm)/reboot", name: "alpha")
            try await api.expect(200, "POST", "\(vm)/resume", name: "alpha")
            try await api.expect(200, "POST", "\(vm)/reboot", name: "alpha")
            try await api.expect(200, "GET", "/v1/host")
            try await api.expect(200, "GET", "/metrics")

            // A running VM's balloon: a new target, its status in the VM's info.
            try await api.expect(409, "PATCH", vm, name: "alpha", body: #"{"balloon":{"target":0}}"#)
            let balloonVM = #"{"name":"bal","kernel":"\#(TestPaths.kernel("balloon"))","memory":134217728,"cmdline":"pages=256","balloon":{"target":1048576}}"#
            try await api.expect(201, "POST", vms, body: balloonVM)
            try await api.expect(200, "POST", "\(vm)/start", name: "bal")
            try await api.expect(422, "PATCH", vm, name: "bal", body: #"{"balloon":{"target":268435456}}"#)
            #expect(try await eventually(seconds: 30) {
                (try await daemon.request("GET", "/v1/vms/bal").json["balloon"] as? [String: Any])?["guestTotalMemory"] != nil
            })
            try await api.expect(200, "PATCH", vm, name: "bal", body: #"{"balloon":{"target":0}}"#)
            try await api.expect(200, "GET", vm, name: "bal")
            try await api.expect(200, "POST", "\(vm)/kill", name: "bal")

            // A vmm that does not answer on its control socket (moved aside, then back).
            let control = "\(daemon.runtimeDirectory)/vms/alpha/root/control.sock"
            func hideControl(_ hide: Bool) {
                #expect(hide ? rename(control, control + ".aside") == 0 : rename(control + ".aside", control) == 0)
            }
            hideControl(true)
            try await api.expect(500, "POST", "\(vm)/pause", name: "alpha")
            try await api.expect(500, "GET", "\(vm)/stats", name: "alpha")
            try await api.expect(500, "POST", "\(vm)/reboot", name: "alpha")
            hideControl(false)
            try await api.expect(200, "POST", "\(vm)/pause", name: "alpha")
            hideControl(true)
            try await api.expect(500, "POST", "\(vm)/resume", name: "alpha")
            hideControl(false)
            try await api.expect(200, "POST", "\(vm)/resume", name: "alpha")

            // Stopping: bad options, a too large body, forced, and killed.
            try await api.expect(400, "POST", "\(vm)/stop", name: "alpha", body: #"{"colour":"red"}"#)
            try await api.expect(400, "POST", "\(vm)/stop", name: "alpha", body: #"{"force":"yes"}"#)
            try await api.expect(400, "POST", "\(vm)/stop", name: "alpha", body: #"{"timeout":1e300}"#)
            try await api.expect(413, "POST", "\(vm)/stop", name: "alpha", bodyFile: big)
            try await api.expect(200, "POST", "\(vm)/stop", name: "alpha", body: #"{"force":true,"timeout":5}"#)
            try await api.expect(200, "GET", "\(vm)/console", name: "alpha")
            try await api.expect(200, "POST", "\(vm)/start", name: "alpha")
            try await api.expect(200, "POST", "\(vm)/kill", name: "alpha")
            let streamed = try await events.finish()
            #expect(streamed.body.contains(#""state":"starting""#), "\(streamed.body)")
            api.record(streamed)

            // Start refused: the kernel vanished since create (422), or is no kernel (500).
            let vanishing = "\(daemon.root)/vanishing.elf", garbage = "\(daemon.root)/garbage.elf"
            try FileManager.default.copyItem(atPath: echo, toPath: vanishing)
            try "not a kernel\n".write(toFile: garbage, atomically: true, encoding: .utf8)
            try await api.expect(201, "POST", vms, body: definition("vanishing", kernel: vanishing))
            try await api.expect(201, "POST", vms, body: definition("garbage", kernel: garbage))
            try FileManager.default.removeItem(atPath: vanishing)
            try await api.expect(422, "POST", "\(vm)/start", name: "vanishing")
            try await api.expect(500, "POST", "\(vm)/start", name: "garbage")
            try await api.expect(200, "GET", vm, name: "garbage")
            #expect(try await daemon.state("garbage") == "crashed")

            // The state folder cannot be written: create, update and delete fail with 500.
            let definitions = "\(daemon.stateDirectory)/vms"
            try FileManager.default.moveItem(atPath: definitions, toPath: definitions + ".aside")
            try "in the way\n".write(toFile: definitions, atomically: false, encoding: .utf8)
            try await api.expect(500, "POST", vms, body: definition("delta"))
            try await api.expect(500, "PATCH", vm, name: "garbage", body: #"{"cmdline":"z=3"}"#)
            try await api.expect(500, "DELETE", vm, name: "garbage")
            try FileManager.default.removeItem(atPath: definitions)
            try FileManager.default.moveItem(atPath: definitions + ".aside", toPath: definitions)

            try await exerciseSnapshots(api, daemon, big: big)
            try await exerciseMigrationRefusals(api, daemon, big: big)

            // Deleting: a stopped VM, and a running one with force.
            try await api.expect(204, "DELETE", vm, name: "garbage")
            try await api.expect(200, "POST", "\(vm)/start", name: "alpha")
            try await api.expect(409, "DELETE", vm, name: "alpha", query: "?force=false")
            try await api.expect(204, "DELETE", vm, name: "alpha", query: "?force=true")
            try await api.expect(200, "GET", "/v1/host")

            // Past a loosened socket mode, an outsider is refused on every route.
            let outsider = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
            if getuid() == 0 {
                chmod(daemon.socket, 0o666)
                for operation in try await OpenAPIContract.operations(Self.spec) {
                    try await api.expect(403, operation.method, operation.path, name: "vanishing", snapshot: "s1", runAs: outsider)
                }
                chmod(daemon.socket, 0o600)
            }
        }
    }
}

/// Records real exchanges with the daemon (curl on its socket) and checks them against
/// the spec with python.
final class OpenAPIContract: @unchecked Sendable {
    struct Operation: Decodable {
        var method: String
        var path: String
        var statuses: [String]
    }

    struct Exchange {
        var method: String
        /// The documented path (`/v1/vms/{name}`), not the one requested.
        var path: String
        var status: Int
        var contentType: String
        var body: String
    }

    /// A request left running (`/v1/events`), its headers and body going to files.
    struct Stream {
        let process: Subprocess
        let headers: String
        let output: String
        let path: String

        var bodySoFar: String { String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self) }

        /// Ends curl and returns the exchange so far.
        func finish() async throws -> Exchange {
            // SIGKILL: children of the test process start with its threads' blocked signals.
            process.signal(SIGKILL)
            _ = try await process.wait()
            defer {
                unlink(output)
                unlink(headers)
            }
            let lines = String(decoding: FileManager.default.contents(atPath: headers) ?? Data(), as: UTF8.self)
                .split(separator: "\r\n")
            let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
            let contentType = lines.first { $0.lowercased().hasPrefix("content-type:") }
                .map { $0.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces) } ?? ""
            return Exchange(method: "GET", path: path, status: status, contentType: contentType, body: bodySoFar)
        }
    }

    /// The headers of a console attachment (`expect`'s `headers`).
    static let consoleUpgrade = ["Connection: Upgrade", "Upgrade: vmm-console"]

    let daemon: DaemonHarness
    private(set) var exchanges: [Exchange] = []

    init(_ daemon: DaemonHarness) {
        self.daemon = daemon
    }

    /// Sends `method` to `path` (its `{name}` replaced with `name`, `{snapshot}` with
    /// `snapshot`) and expects `status`.
    @discardableResult
    func expect(
        _ status: Int, _ method: String, _ path: String, name: String = "", snapshot: String = "", query: String = "", body: String? = nil,
        bodyFile: String? = nil, headers: [String] = [], runAs: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Exchange {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vmmd-contract-\(UUID().uuidString)").path
        defer { unlink(output) }
        var arguments = runAs + [
            "/usr/bin/curl", "-s", "--path-as-is", "--max-time", "60", "--unix-socket", daemon.socket, "-X", method,
            "-o", output, "-w", "%{http_code} %{content_type}",
        ]
        if body != nil || bodyFile != nil { arguments += ["-H", "Content-Type: application/json"] }
        arguments += headers.flatMap { ["-H", $0] }
        if let body { arguments += ["--data-binary", body] }
        if let bodyFile { arguments += ["--data-binary", "@\(bodyFile)"] }
        arguments += headers.flatMap { ["-H", $0] }
        let resolved = path.replacingOccurrences(of: "{name}", with: name).replacingOccurrences(of: "{snapshot}", with: snapshot)
            .replacingOccurrences(of: "{id}", with: snapshot)
        arguments.append("http://localhost\(resolved)\(query)")
        let result = try await Subprocess.run(arguments)
        let (answered, contentType) = Self.parseWriteOut(result.output)
        let exchange = Exchange(
            method: method, path: path, status: answered, contentType: contentType,
            body: String(decoding: FileManager.default.contents(atPath: output) ?? Data(), as: UTF8.self))
        #expect(answered == status, "\(method) \(path) (\(name)): \(exchange.body)", sourceLocation: sourceLocation)
        exchanges.append(exchange)
        return exchange
    }

    /// Starts a streaming GET, ended by `Stream.finish()`.
    func stream(_ path: String) throws -> Stream {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vmmd-contract-\(UUID().uuidString)").path
        let process = try Subprocess(
            ["/usr/bin/curl", "-sN", "--max-time", "90", "--unix-socket", daemon.socket, "-D", base + ".headers",
             "-o", base + ".body", "http://localhost\(path)"],
            timeout: .seconds(100))
        return Stream(process: process, headers: base + ".headers", output: base + ".body", path: path)
    }

    func record(_ exchange: Exchange) {
        exchanges.append(exchange)
    }

    /// What the spec finds wrong with the recorded exchanges (empty: nothing).
    func validate(against spec: String) async throws -> [String] {
        let file = "\(daemon.root)/exchanges.json"
        let objects = exchanges.map {
            ["method": $0.method, "path": $0.path, "status": $0.status, "contentType": $0.contentType, "body": $0.body] as [String: Any]
        }
        try JSONSerialization.data(withJSONObject: objects).write(to: URL(fileURLWithPath: file))
        let result = try await Self.python(["-c", Self.checker, "check", spec, file])
        guard result.status == 0 else { throw HarnessError("the checker failed: \(result)") }
        return try JSONDecoder().decode([String].self, from: Data(result.output.utf8))
    }

    /// The documented operations.
    static func operations(_ spec: String) async throws -> [Operation] {
        let result = try await python(["-c", checker, "operations", spec])
        guard result.status == 0 else { throw HarnessError("cannot read \(spec): \(result)") }
        return try JSONDecoder().decode([Operation].self, from: Data(result.output.utf8))
    }

    static func python(_ arguments: [String]) async throws -> Subprocess.Result {
        let python = ProcessInfo.processInfo.environment["PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
        return try await Subprocess.run(["/usr/bin/env", python] + arguments)
    }

    /// curl's `-w "%{http_code} %{content_type}"`.
    static func parseWriteOut(_ text: String) -> (Int, String) {
        let parts = text.split(separator: " ", maxSplits: 1)
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "")
    }

    /// `operations SPEC`: the documented (method, path, statuses) as JSON.
    /// `check SPEC EXCHANGES`: each exchange's status must be documented for its operation,
    /// its content type must be a documented one and its body must validate against the
    /// schema (NDJSON: each line); prints the problems as a JSON list.
    static let checker = #"""
    import json, sys, yaml
    from openapi_schema_validator import OAS30Validator

    METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

    def deref(spec, node):
        while isinstance(node, dict) and "$ref" in node:
            target = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def operations(spec):
        return [{"method": method.upper(), "path": path, "statuses": sorted(item[method]["responses"])}
                for path, item in spec["paths"].items() for method in METHODS if method in item]

    def check(spec, exchanges):
        problems = []
        for x in exchanges:
            where = "%s %s -> %s" % (x["method"], x["path"], x["status"])
            operation = spec["paths"].get(x["path"], {}).get(x["method"].lower())
            if operation is None:
                problems.append(where + ": not a documented operation")
                continue
            response = operation["responses"].get(str(x["status"]))
            if response is None:
                problems.append(where + ": status not documented: " + x["body"][:300])
                continue
            content = deref(spec, response).get("content")
            body = x["body"]
            if not content:
                if body:
                    problems.append(where + ": documented without a body, got %r" % body[:300])
                continue
            media = x["contentType"].split(";")[0].strip().lower()
            if media not in content:
                problems.append(where + ": content type %r, documented %s" % (x["contentType"], sorted(content)))
                continue
            # The schema inside the whole document, so that its $refs resolve.
            validator = OAS30Validator(dict(spec, **content[media].get("schema", {})))
            if media == "application/json":
                documents = [body]
            elif media == "application/x-ndjson":
                documents = [line for line in body.split("\n") if line.strip()]
                if not documents:
                    problems.append(where + ": an empty stream")
            else:
                documents = []
                problems += [where + ": " + error.message for error in validator.iter_errors(body)]
            for document in documents:
                try:
                    value = json.loads(document)
                except ValueError as error:
                    problems.append("%s: not JSON (%s): %r" % (where, error, document[:300]))
                    continue
                for error in validator.iter_errors(value):
                    problems.append("%s: %s at /%s in %s" % (
                        where, error.message, "/".join(map(str, error.absolute_path)), document[:300]))
        return problems

    command = sys.argv[1]
    with open(sys.argv[2]) as f:
        spec = yaml.safe_load(f)
    if command == "operations":
        print(json.dumps(operations(spec)))
    else:
        with open(sys.argv[3]) as f:
            print(json.dumps(check(spec, json.load(f))))
    """#
}
