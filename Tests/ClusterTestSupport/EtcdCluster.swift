import Foundation
import Glibc
import VMMAPI
import TestSupport

/// A real etcd cluster for tests: 1 or 3 members of Debian's `etcd` on 127.0.0.1 (or on an
/// address in a network namespace the test made), each with free client and peer ports and
/// a data folder under one temporary folder; with `tls`, clients must speak HTTPS with a
/// certificate of the cluster's CA.
/// ``tearDown()`` kills them and removes the folder; ``EtcdClusterTrait`` does that for a
/// suite, whatever its tests did.
public final class EtcdCluster: @unchecked Sendable {
    /// One member: its name, ports and data folder, and its process while it runs.
    public struct Member: Sendable {
        public var name: String
        public var clientPort: Int
        public var peerPort: Int
        public var tls: Bool
        public var address = "127.0.0.1"
        public var clientURL: String { "\(tls ? "https" : "http")://\(address):\(clientPort)" }
        var peerURL: String { "http://\(address):\(peerPort)" }
    }

    public let root: String
    public let members: [Member]
    /// The network namespace the members run in (nil: the test's own).
    public let namespace: String?
    /// How long ``start(members:)`` took until every member was healthy.
    public private(set) var startDuration: Duration = .zero
    private let lock = NSLock()
    private var processes: [Int: SpawnedProcess] = [:]

    /// The client URLs of every member, running or not.
    public var clientURLs: [String] { members.map(\.clientURL) }

    /// With `tls`: the certificate (`client`) a client presents, and the CA that signed the
    /// members' and the client's certificates (scripts/make-certificates.sh).
    public var clientTLS: TLSFiles? {
        members.first?.tls == true
            ? TLSFiles(certificate: "\(root)/tls/client.crt", key: "\(root)/tls/client.key", certificateAuthority: "\(root)/tls/ca.crt")
            : nil
    }

    /// The repository's root (for scripts/).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The etcd binary: `ETCD_BINARY`, else Debian's.
    public static var binary: String { ProcessInfo.processInfo.environment["ETCD_BINARY"] ?? "/usr/bin/etcd" }

    /// Starts `count` members and waits until each says it is healthy (has a leader); with
    /// `namespace`, they run there and listen on `address` of it (the ports are then only
    /// free in the test's namespace, which is fine for a namespace of the test's own).
    public static func start(
        members count: Int = 3, tls: Bool = false, namespace: String? = nil, address: String = "127.0.0.1"
    ) async throws -> EtcdCluster {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ClusterTestError("\(binary) is missing: scripts/install-dependencies.sh installs etcd-server")
        }
        var taken: Set<Int> = []
        var members: [Member] = []
        for index in 0..<count {
            let client = try freeTCPPort(avoiding: taken)
            taken.insert(client)
            let peer = try freeTCPPort(avoiding: taken)
            taken.insert(peer)
            members.append(Member(name: "member\(index)", clientPort: client, peerPort: peer, tls: tls, address: address))
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let cluster = EtcdCluster(root: root, members: members, namespace: namespace)
        let begin = ContinuousClock.now
        do {
            if tls { try cluster.makeCertificates() }
            for index in members.indices { try cluster.launch(index) }
            for index in members.indices { try await cluster.waitUntilHealthy(index) }
            cluster.startDuration = ContinuousClock.now - begin
        } catch {
            cluster.tearDown()
            throw error
        }
        return cluster
    }

    private init(root: String, members: [Member], namespace: String?) {
        self.root = root
        self.members = members
        self.namespace = namespace
    }

    /// A CA, a certificate per member (naming 127.0.0.1) and one for clients.
    private func makeCertificates() throws {
        try Self.makeCertificates(in: "\(root)/tls", members.map { "\($0.name)=127.0.0.1" } + ["client"])
    }

    /// Runs scripts/make-certificates.sh: a CA in `directory` (made once) and a key and
    /// certificate for each of `specs` (`NAME` or `NAME=IP`).
    public static func makeCertificates(in directory: String, _ specs: [String]) throws {
        let script = SpawnedProcess()
        script.executableURL = URL(fileURLWithPath: "\(packageRoot)/scripts/make-certificates.sh")
        script.arguments = [directory] + specs
        script.standardOutput = FileHandle.nullDevice
        script.standardError = FileHandle.nullDevice
        try script.run()
        script.waitUntilExit()
        guard script.terminationStatus == 0 else { throw ClusterTestError("scripts/make-certificates.sh \(directory) failed") }
    }

    private func launch(_ index: Int) throws {
        let member = members[index]
        let initialCluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: namespace == nil ? Self.binary : "/usr/sbin/ip")
        // `ip netns exec` execs etcd: the process is etcd's own.
        process.arguments = (namespace.map { ["netns", "exec", $0, Self.binary] } ?? []) + [
            "--name", member.name, "--data-dir", "\(root)/\(member.name)",
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", URL(fileURLWithPath: root).lastPathComponent,
            "--logger", "zap", "--log-outputs", "stderr",
        ]
        if member.tls {
            process.arguments! += [
                "--cert-file", "\(root)/tls/\(member.name).crt", "--key-file", "\(root)/tls/\(member.name).key",
                "--trusted-ca-file", "\(root)/tls/ca.crt", "--client-cert-auth",
            ]
        }
        let logPath = log(of: index)
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        lock.withLock { processes[index] = process }
    }

    /// Where member `index` writes its log.
    public func log(of index: Int) -> String { "\(root)/\(members[index].name).log" }

    /// Waits until member `index` answers `/health` with `true` (it has a leader).
    public func waitUntilHealthy(_ index: Int, timeout: Duration = .seconds(30)) async throws {
        let client = try HTTPClient(endpoint: .url(members[index].clientURL, tls: clientTLS))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isRunning(index), try await isHealthy(index, client) { return }
            guard isRunning(index) else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOfFile: log(of: index), encoding: .utf8)) ?? ""
        throw ClusterTestError("etcd \(members[index].name) did not become healthy; its log ends:\n\(log.suffix(3000))")
    }

    /// Whether member `index` answers `/health` with `true`; in a namespace, asked with curl there.
    private func isHealthy(_ index: Int, _ client: HTTPClient) async throws -> Bool {
        guard let namespace else {
            guard let response = try? await client.send(.GET, "/health", timeout: .seconds(1)) else { return false }
            return response.status == 200 && response.text.contains(#""health":"true""#)
        }
        let curl = SpawnedProcess()
        curl.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        curl.arguments = ["netns", "exec", namespace, "/usr/bin/curl", "-s", "--max-time", "1", members[index].clientURL + "/health"]
        let output = Pipe()
        curl.standardOutput = output
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        return text.contains(#""health":"true""#)
    }

    /// Whether member `index`'s process runs.
    public func isRunning(_ index: Int) -> Bool {
        lock.withLock { processes[index]?.isRunning ?? false }
    }

    /// SIGKILLs member `index` and waits for its end; its data stays for ``restart(_:)``.
    public func kill(_ index: Int) {
        guard let process = lock.withLock({ processes.removeValue(forKey: index) }) else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Starts members `indices` again on their data and ports and waits until they are
    /// healthy (together: one member alone has no quorum).
    public func restart(_ indices: Int...) async throws {
        for index in indices { try launch(index) }
        for index in indices { try await waitUntilHealthy(index) }
    }

    /// Kills every member and removes the folder (data and logs).
    public func tearDown() {
        for index in members.indices { kill(index) }
        try? FileManager.default.removeItem(atPath: root)
    }
}
