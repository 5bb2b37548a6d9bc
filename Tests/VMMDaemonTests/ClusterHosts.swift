import ClusterTestSupport
import Etcd
import Foundation
import Testing

/// Cluster-mode daemons on loopback that can call each other: each a real `vmmd` with its
/// own `--listen` and migration ports, state and runtime folders, all with certificates of
/// one CA naming 127.0.0.1 (so a host can forward to another), registered in `etcd`.
final class ClusterHosts: @unchecked Sendable {
    /// 5 s, so the fence time (3 s without a renewal) rides out a loaded machine's stalls.
    static let leaseTTL = 5

    let etcd: EtcdCluster
    let certificates: String
    private(set) var hosts: [DaemonHarness] = []
    let names: [String]

    /// Hosts `host0` ... `host<count-1>`, not started yet.
    init(_ count: Int, etcd: EtcdCluster) async throws {
        self.etcd = etcd
        names = (0..<count).map { "host\($0)" }
        certificates = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-cluster-certs-\(UUID().uuidString.prefix(8))").path
        try await MultiHostHarness.makeCertificates(certificates, names: names.map { "\($0)=127.0.0.1" } + ["admin"])
        var used: Set<Int> = []
        for name in names {
            let port = try freeTCPPort(avoiding: used)
            let migrationPort = try freeTCPPort(avoiding: used.union([port]))
            used.formUnion([port, migrationPort])
            let daemon = try DaemonHarness()
            daemon.arguments = [
                "--listen", "127.0.0.1:\(port)", "--migration-port", String(migrationPort),
                "--tls-cert", "\(certificates)/\(name).crt", "--tls-key", "\(certificates)/\(name).key",
                "--tls-ca", "\(certificates)/ca.crt",
                "--cluster", "etcd=" + etcd.clientURLs.joined(separator: ","), "--host-name", name,
                "--lease-ttl", String(Self.leaseTTL), "--keepalive-interval", "0.5",
            ]
            hosts.append(daemon)
        }
    }

    subscript(index: Int) -> DaemonHarness { hosts[index] }

    /// Runs `body` with `count` started hosts; always tears them down, and attaches the
    /// daemons' logs to the test's issues when it fails.
    static func with(_ count: Int, etcd: EtcdCluster, _ body: (ClusterHosts) async throws -> Void) async throws {
        let cluster = try await ClusterHosts(count, etcd: etcd)
        do {
            for host in cluster.hosts { try await host.start() }
            try await body(cluster)
        } catch {
            for (index, host) in cluster.hosts.enumerated() { Issue.record("host\(index) vmmd log:\n\(host.log)") }
            await cluster.tearDown()
            throw error
        }
        await cluster.tearDown()
    }

    /// Stops every VM and daemon, removes the folders, certificates and the VMs' keys.
    func tearDown() async {
        for host in hosts { await host.tearDown() }
        try? FileManager.default.removeItem(atPath: certificates)
        if let client = try? EtcdClient(urls: etcd.clientURLs) {
            for prefix in ["vmm/vms/", "vmm/owners/", "vmm/status/"] { _ = try? await client.delete(prefix: prefix) }
        }
    }

    /// `POST /v1/vms` on host `index` for a VM booting test kernel `kernel`, on `host`
    /// (nil: placement's pick).
    func create(
        _ name: String, via index: Int, on host: String? = nil, kernel: String = "idle", memory: Int = 16 << 20, autostart: Bool = false
    ) async throws -> HTTPResult {
        let pin = host.map { #","host":"\#($0)""# } ?? ""
        return try await hosts[index].request(
            "POST", "/v1/vms",
            body: #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel(kernel))","memory":\#(memory),"autostart":\#(autostart)\#(pin)}"#)
    }

    /// `GET /v1/vms` on host `index`: each VM's name with its host and state.
    func list(via index: Int) async throws -> [String: (host: String, state: String)] {
        let vms = try await hosts[index].request("GET", "/v1/vms").json["vms"] as? [[String: Any]] ?? []
        var entries: [String: (host: String, state: String)] = [:]
        for vm in vms {
            let name = (vm["definition"] as? [String: Any])?["name"] as? String ?? "?"
            #expect(entries[name] == nil, "VM \(name) listed twice by host\(index)")
            entries[name] = (vm["host"] as? String ?? "-", vm["state"] as? String ?? "-")
        }
        return entries
    }
}
