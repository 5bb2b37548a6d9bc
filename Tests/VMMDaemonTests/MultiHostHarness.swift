import Foundation
import Testing

/// Several "hosts" on one machine: each a real `vmmd` (a `DaemonHarness`) in a network
/// namespace of its own on a `HostNetwork`, serving its API and migration port with
/// mutual TLS on certificates made for the test by scripts/make-certificates.sh. Each has
/// its own state and runtime folders; all share the file system (shared storage).
final class MultiHostHarness: @unchecked Sendable {
    static let apiPort = 7443
    static let migrationPort = 7444

    let network: HostNetwork
    let certificates: String
    var hosts: [DaemonHarness] = []

    /// Hosts `host0` ... `host<count-1>`, not started yet.
    init(hosts count: Int) async throws {
        network = try await HostNetwork(hosts: count)
        certificates = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-certs-\(UUID().uuidString.prefix(8))").path
        do {
            try await Self.makeCertificates(certificates, names: (0..<count).map { "host\($0)=\(network.address($0))" })
            for index in 0..<count {
                let daemon = try DaemonHarness()
                daemon.wrapper = ["/usr/sbin/ip", "netns", "exec", network.namespace(index)]
                daemon.arguments = [
                    "--listen", "\(network.address(index)):\(Self.apiPort)",
                    "--migration-port", String(Self.migrationPort),
                    "--tls-cert", "\(certificates)/host\(index).crt",
                    "--tls-key", "\(certificates)/host\(index).key",
                    "--tls-ca", "\(certificates)/ca.crt",
                ]
                hosts.append(daemon)
            }
        } catch {
            await tearDown()
            throw error
        }
    }

    /// Runs `body` with `count` started hosts and always tears them down; on failure the
    /// daemons' logs are attached to the test's issues.
    static func with(hosts count: Int, _ body: (MultiHostHarness) async throws -> Void) async throws {
        let harness = try await MultiHostHarness(hosts: count)
        do {
            for host in harness.hosts { try await host.start() }
            try await body(harness)
        } catch {
            for (index, host) in harness.hosts.enumerated() { Issue.record("host\(index) vmmd log:\n\(host.log)") }
            await harness.tearDown()
            throw error
        }
        await harness.tearDown()
    }

    /// `HOST:PORT` of host `index`'s API, as another daemon reaches it.
    func address(_ index: Int) -> String { "\(network.address(index)):\(Self.apiPort)" }

    /// Kills every VM and daemon, removes the namespaces, folders and certificates.
    func tearDown() async {
        for host in hosts { await host.tearDown() }
        await network.delete()
        try? FileManager.default.removeItem(atPath: certificates)
    }

    /// Calls host `index`'s TCP API from host `from`'s namespace with `from`'s certificate
    /// (or the one given), as a peer daemon would.
    func peerRequest(
        from: Int, to index: Int, _ method: String, _ path: String, body: String? = nil, certificate: String? = nil,
        key: String? = nil
    ) async throws -> HTTPResult {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-peer-\(UUID().uuidString)").path
        defer { unlink(output) }
        var arguments = network.command(from, [
            "/usr/bin/curl", "-s", "--max-time", "30", "-X", method, "-o", output, "-w", "%{http_code}",
            "--cacert", "\(certificates)/ca.crt",
            "--cert", certificate ?? "\(certificates)/host\(from).crt", "--key", key ?? "\(certificates)/host\(from).key",
            "-H", "Content-Type: application/json",
        ])
        if let body { arguments += ["--data-binary", body] }
        arguments.append("https://\(network.address(index)):\(Self.apiPort)\(path)")
        let result = try await Subprocess.run(arguments)
        return HTTPResult(status: Int(result.output) ?? 0, body: FileManager.default.contents(atPath: output) ?? Data())
    }

    /// scripts/make-certificates.sh `folder` `names...` (a CA and a certificate per name).
    static func makeCertificates(_ folder: String, names: [String]) async throws {
        let result = try await Subprocess.run(["/bin/bash", "\(TestPaths.packageRoot)/scripts/make-certificates.sh", folder] + names)
        guard result.status == 0 else { throw HarnessError("make-certificates.sh failed: \(result)") }
    }
}

extension DaemonHarness {
    /// Starts a request that takes a while (a migration, a drain) and returns at once;
    /// `BackgroundRequest.result()` waits for its answer.
    func requestInBackground(_ method: String, _ path: String, body: String? = nil) throws -> BackgroundRequest {
        var arguments = [
            "/usr/bin/curl", "-s", "--max-time", "180", "--unix-socket", socket, "-X", method, "-w", "\n%{http_code}",
            "-H", "Content-Type: application/json",
        ]
        if let body { arguments += ["--data-binary", body] }
        arguments.append("http://localhost\(path)")
        return BackgroundRequest(process: try Subprocess(arguments, timeout: .seconds(190)))
    }
}

/// A curl request running on its own (see `requestInBackground`).
struct BackgroundRequest: Sendable {
    let process: Subprocess

    func result() async throws -> HTTPResult {
        let output = try await process.wait().output
        let split = output.lastIndex(of: "\n") ?? output.startIndex
        let status = Int(output[split...].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return HTTPResult(status: status, body: Data(output[..<split].utf8))
    }
}
