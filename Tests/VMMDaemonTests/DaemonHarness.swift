import ClusterTestSupport
import Foundation
import Glibc
import TestSupport

/// A real `vmmd` on a temporary socket, state folder and runtime folder, driven with curl.
final class DaemonHarness {
    let root: String
    var socket: String { "\(root)/vmmd.sock" }
    var stateDirectory: String { "\(root)/state" }
    var runtimeDirectory: String { "\(root)/run" }
    var log: String { (try? String(contentsOfFile: "\(root)/vmmd.log", encoding: .utf8)) ?? "" }
    /// A command that execs the daemon (its path and arguments follow), e.g. a shell that
    /// first moves itself into a cgroup; empty: the daemon is started directly.
    var wrapper: [String] = []
    /// The daemon's TCP listener with mutual TLS, once `enableTLS()` made its certificates.
    private(set) var tls: DaemonTLS?
    /// More daemon options (e.g. `--listen` and the TLS files of a `MultiHostHarness` host).
    var arguments: [String] = []
    private var process: SpawnedProcess?
    var daemonPID: pid_t? { process?.processIdentifier }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("vmmd-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// Starts the daemon and waits until its socket answers.
    func start(group: String = "kvm", environment extra: [String: String] = [:]) async throws {
        let process = SpawnedProcess()
        let command = wrapper + [
            TestPaths.vmmd, "--socket", socket, "--state-dir", stateDirectory, "--runtime-dir", runtimeDirectory,
            "--vmm", TestPaths.vmm, "--group", group,
        ] + (tls?.arguments ?? []) + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        if !FileManager.default.fileExists(atPath: "\(root)/vmmd.log") {
            _ = FileManager.default.createFile(atPath: "\(root)/vmmd.log", contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(root)/vmmd.log"))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        // A daemon that ended (it refused its options or its cluster name) is not waited for.
        let up = try await eventually(seconds: 15) {
            guard self.daemonIsRunning else { return true }
            return (try? await self.request("GET", "/v1/vms"))?.status == 200
        }
        // The TCP listener starts beside the socket; a daemon that ended is not waited for.
        let tlsUp = try await eventually(seconds: 15) {
            guard up, self.tls != nil, self.daemonIsRunning else { return true }
            return (try? await self.httpsRequest("GET", "/v1/vms"))?.status == 200
        }
        guard up, tlsUp, daemonIsRunning else { throw HarnessError("vmmd did not come up:\n\(self.log)") }
    }

    var daemonIsRunning: Bool { process.map { !hasEnded($0.processIdentifier) } ?? false }

    /// Stops the daemon with `signal` (SIGKILL: as if it crashed) and waits for it to end.
    func stopDaemon(signal: Int32 = SIGKILL) async throws {
        guard let process else { return }
        kill(process.processIdentifier, signal)
        _ = try await eventually(seconds: 10) { hasEnded(process.processIdentifier) }
        self.process = nil
    }

    /// Kills every VM, stops the daemon and removes the folders.
    func tearDown() async {
        if daemonIsRunning, let list = try? await request("GET", "/v1/vms"),
           let vms = list.json["vms"] as? [[String: Any]] {
            for vm in vms where ["starting", "running", "paused", "stopping"].contains(vm["state"] as? String ?? "") {
                let name = (vm["definition"] as? [String: Any])?["name"] as? String ?? ""
                _ = try? await request("POST", "/v1/vms/\(name)/kill")
            }
        }
        try? await stopDaemon(signal: SIGTERM)
        killProcessesUsingRoot()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// SIGKILLs every process whose command line names this harness's folder: the daemon
    /// and the VMs' vmm processes, which outlive the daemon by design, when the API could
    /// not stop them (a test that failed or timed out on a loaded machine), or all at once
    /// as a host that dies.
    func killProcessesUsingRoot() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid(),
                  let commandLine = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: commandLine, as: UTF8.self).contains(root)
            else { continue }
            kill(pid, SIGKILL)
        }
    }

    /// Sends one request; `body` is sent as is, `bodyFile` names a file to send, `headers`
    /// are added (`Name: value`). `runAs` runs curl under another identity (e.g. `setpriv`
    /// options).
    func request(
        _ method: String, _ path: String, body: String? = nil, bodyFile: String? = nil, headers: [String] = [], runAs: [String] = []
    ) async throws -> HTTPResult {
        // In /tmp, where a curl running as another user may write too.
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vmmd-response-\(UUID().uuidString)").path
        defer {
            unlink(output)
            unlink(output + ".headers")
        }
        var arguments = runAs + [
            // HEAD with --head: with -X HEAD curl would wait for the body Content-Length announces.
            "/usr/bin/curl", "-s", "--path-as-is", "--max-time", "60", "--unix-socket", socket,
        ] + (method == "HEAD" ? ["--head"] : ["-X", method]) + [
            "-o", output, "-D", output + ".headers", "-w", "%{http_code}", "-H", "Content-Type: application/json",
        ]
        if let body { arguments += ["--data-binary", body] }
        if let bodyFile { arguments += ["--data-binary", "@\(bodyFile)"] }
        arguments += headers.flatMap { ["-H", $0] }
        arguments.append("http://localhost\(path)")
        let result = try await ChildProcess.run(arguments)
        return HTTPResult(
            status: Int(result.output) ?? 0,
            body: FileManager.default.contents(atPath: output) ?? Data(),
            headers: HTTPResult.headers(FileManager.default.contents(atPath: output + ".headers") ?? Data()))
    }

    /// Makes certificates with scripts/make-certificates.sh (a CA, `localhost` for the
    /// daemon, `admin` for clients) and picks free ports: `start()` then has the daemon
    /// listen with TLS on 127.0.0.1 as well.
    @discardableResult
    func enableTLS() async throws -> DaemonTLS {
        // The kernel may hand the same free port out twice in a row: avoid the first.
        let port = try freeTCPPort()
        let tls = DaemonTLS(directory: "\(root)/tls", port: port, migrationPort: try freeTCPPort(avoiding: [port]))
        try await DaemonTLS.makeCertificates(in: tls.directory, "localhost", "admin")
        self.tls = tls
        return tls
    }

    /// Sends one request over TLS with curl, presenting certificate `client` of
    /// `certificates` (nil: none; the daemon's CA is trusted either way); `plain` speaks
    /// HTTP to the TLS port instead.
    /// Status 0: no HTTP answer at all.
    func httpsRequest(
        _ method: String, _ path: String, body: String? = nil, headers: [String] = [], client: String? = "admin",
        certificates: String? = nil, plain: Bool = false
    ) async throws -> HTTPResult {
        guard let tls else { throw HarnessError("enableTLS() first") }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vmmd-response-\(UUID().uuidString)").path
        defer {
            unlink(output)
            unlink(output + ".headers")
        }
        var arguments = [
            "/usr/bin/curl", "-s", "--max-time", "60", "-X", method, "-o", output, "-D", output + ".headers", "-w", "%{http_code}",
            "-H", "Content-Type: application/json", "--cacert", "\(tls.directory)/ca.crt",
        ]
        if let client {
            let directory = certificates ?? tls.directory
            arguments += ["--cert", "\(directory)/\(client).crt", "--key", "\(directory)/\(client).key"]
        }
        if let body { arguments += ["--data-binary", body] }
        arguments += headers.flatMap { ["-H", $0] }
        arguments.append(plain ? "http://127.0.0.1:\(tls.port)\(path)" : "\(tls.url)\(path)")
        let result = try await ChildProcess.run(arguments)
        return HTTPResult(
            status: Int(result.output) ?? 0, body: FileManager.default.contents(atPath: output) ?? Data(),
            headers: HTTPResult.headers(FileManager.default.contents(atPath: output + ".headers") ?? Data()))
    }

    /// Creates a VM booting test kernel `kernel`.
    @discardableResult
    func create(_ name: String, kernel: String = "echo", autostart: Bool = false) async throws -> HTTPResult {
        try await request("POST", "/v1/vms", body: #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel(kernel))","memory":16777216,"autostart":\#(autostart)}"#)
    }

    func state(_ name: String) async throws -> String? {
        try await request("GET", "/v1/vms/\(name)").state
    }

    func pid(_ name: String) async throws -> Int32? {
        (try await request("GET", "/v1/vms/\(name)").json["pid"] as? NSNumber)?.int32Value
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Whether `pid` has ended (a zombie counts: the test process need not have reaped it yet).
func hasEnded(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let afterName = stat.range(of: ") ") else { return true }
    return stat[afterName.upperBound...].hasPrefix("Z")
}
