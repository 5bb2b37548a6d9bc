import ClusterTestSupport
import Etcd
import Foundation
import Glibc
import Testing

/// `vmmd --cluster`: three real daemons on loopback (their own --listen ports, state and
/// runtime folders) register in a real three-member etcd, see each other in `GET /v1/host`,
/// and a host's record goes with its lease.
@Suite(.serialized, .etcdCluster(members: 3))
struct ClusterMembershipTests {
    let etcd = EtcdCluster.current!
    static let leaseTTL = 3

    func clusterArguments(_ name: String, leaseTTL: Int = leaseTTL) -> [String] {
        ["--cluster", "etcd=" + etcd.clientURLs.joined(separator: ","), "--host-name", name,
         "--lease-ttl", String(leaseTTL), "--keepalive-interval", "0.5"]
    }

    /// A started cluster-mode daemon named `name`; one that does not come up is torn down.
    func startHost(_ name: String, leaseTTL: Int = leaseTTL) async throws -> DaemonHarness {
        let daemon = try DaemonHarness()
        do {
            try await daemon.enableTLS()
            daemon.arguments = clusterArguments(name, leaseTTL: leaseTTL)
            try await daemon.start()
        } catch {
            Issue.record("vmmd \(name) log:\n\(daemon.log)")
            await daemon.tearDown()
            throw error
        }
        return daemon
    }

    /// `GET /v1/host`'s `cluster` object as `daemon` answers it.
    private func cluster(_ daemon: DaemonHarness) async throws -> [String: Any] {
        try await daemon.request("GET", "/v1/host").json["cluster"] as? [String: Any] ?? [:]
    }

    private func hostNames(_ daemon: DaemonHarness) async throws -> [String] {
        (try await cluster(daemon)["hosts"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test func hostsSeeEachOtherAndAHostsRecordGoesWithItsLease() async throws {
        var daemons: [DaemonHarness] = []
        do {
            for index in 0..<3 { daemons.append(try await startHost("host\(index)")) }
            // Each registered before it served its API: all three see all three.
            for daemon in daemons {
                #expect(try await hostNames(daemon) == ["host0", "host1", "host2"])
            }
            let view = try await cluster(daemons[1])
            #expect(view["host"] as? String == "host1")
            #expect(view["registered"] as? Bool == true)
            let record = try #require((view["hosts"] as? [[String: Any]])?.first { $0["name"] as? String == "host1" })
            #expect(record["address"] as? String == "https://127.0.0.1:\(try #require(daemons[1].tls).port)")
            #expect((record["cpus"] as? Int ?? 0) >= 1 && (record["memory"] as? Int ?? 0) > 0)
            #expect(record["mode"] as? String == "normal")
            // The cluster object is what api/openapi.yaml documents.
            let api = OpenAPIContract(daemons[1])
            try await api.expect(200, "GET", "/v1/host")
            #expect(try await api.validate(against: DaemonTests.OpenAPIContractTests.spec).isEmpty)

            // A killed daemon cannot revoke its lease: its record lasts until the TTL ends.
            try await daemons[2].stopDaemon(signal: SIGKILL)
            let killed = ContinuousClock.now
            #expect(try await eventually(seconds: Double(Self.leaseTTL) + 5) { try await hostNames(daemons[0]) == ["host0", "host1"] })
            let vanishedAfter = ContinuousClock.now - killed
            // Renewed every 0.5 s until the kill, so it lived at least TTL - 0.5 s more.
            #expect(vanishedAfter >= .seconds(Self.leaseTTL) - .milliseconds(600))

            // A daemon told to stop revokes its lease: its record goes at once.
            try await daemons[1].stopDaemon(signal: SIGTERM)
            #expect(try await hostNames(daemons[0]) == ["host0"])

            // The killed host comes back under its name.
            try await daemons[2].start()
            #expect(try await hostNames(daemons[0]) == ["host0", "host2"])
        } catch {
            for daemon in daemons { Issue.record("vmmd log:\n\(daemon.log)") }
            for daemon in daemons { await daemon.tearDown() }
            throw error
        }
        for daemon in daemons { await daemon.tearDown() }
    }

    /// The `mode` of `name`'s record as `daemon` sees it.
    private func mode(of name: String, from daemon: DaemonHarness) async throws -> String? {
        let hosts = try await cluster(daemon)["hosts"] as? [[String: Any]] ?? []
        return hosts.first { $0["name"] as? String == name }?["mode"] as? String
    }

    @Test func aHostWhoseLeaseIsGoneRegistersAgainAndItsRecordFollowsDrainMode() async throws {
        let host = try await startHost("phoenix")
        let peer: DaemonHarness
        do {
            peer = try await startHost("witness")
        } catch {
            await host.tearDown()
            throw error
        }
        do {
            let etcdClient = try EtcdClient(urls: etcd.clientURLs)
            let old = try #require(try await etcdClient.get("vmm/hosts/phoenix"))
            // As after a partition longer than the TTL: etcd ended the lease.
            try await etcdClient.revoke(lease: old.lease)
            #expect(try await eventually(seconds: 5) {
                guard let now = try await etcdClient.get("vmm/hosts/phoenix") else { return false }
                return now.lease != old.lease && now.lease != 0
            })
            #expect(try await cluster(host)["registered"] as? Bool == true)

            // Drain mode shows in the record (no VMs here, so the drain ends at once).
            let drained = try await host.request("POST", "/v1/host/drain", body: #"{"to":["127.0.0.1:\#(try #require(peer.tls).port)"]}"#)
            #expect(drained.status == 200, "\(drained.text)")
            #expect(try await eventually(seconds: 5) { try await mode(of: "phoenix", from: peer) == "draining" })
            #expect(try await host.request("POST", "/v1/host/undrain").status == 204)
            #expect(try await eventually(seconds: 5) { try await mode(of: "phoenix", from: peer) == "normal" })
        } catch {
            Issue.record("vmmd log:\n\(host.log)")
            await host.tearDown()
            await peer.tearDown()
            throw error
        }
        await host.tearDown()
        await peer.tearDown()
    }

    @Test func withEtcdGoneTheLocalAPIGoesOnAndSaysSo() async throws {
        let host = try await startHost("islander")
        do {
            for index in etcd.members.indices { etcd.kill(index) }
            let begin = ContinuousClock.now
            let view = try await cluster(host)
            #expect(ContinuousClock.now - begin < .seconds(3))
            #expect(view["hosts"] == nil)
            #expect((view["problem"] as? String)?.contains("etcd does not answer") == true)
            #expect(try await host.request("GET", "/v1/vms").status == 200)
            try await etcd.restart(0, 1, 2)
            // etcd's new leader refreshed the lease: the record is back as it was.
            #expect(try await eventually(seconds: 10) { try await hostNames(host) == ["islander"] })
        } catch {
            Issue.record("vmmd log:\n\(host.log)")
            if !etcd.isRunning(0) { try? await etcd.restart(0, 1, 2) }
            await host.tearDown()
            throw error
        }
        await host.tearDown()
    }

    @Test func aSecondDaemonWithALiveHostsNameIsRefused() async throws {
        let first = try await startHost("twin")
        let second = try DaemonHarness()
        do {
            try await second.enableTLS()
            second.arguments = clusterArguments("twin")
            await #expect(throws: HarnessError.self) { try await second.start() }
            #expect(second.log.contains("host name twin is registered in the cluster by a live host at https://127.0.0.1:\(first.tls!.port)"))
            #expect(try await hostNames(first) == ["twin"])
        } catch {
            Issue.record("first vmmd log:\n\(first.log)\nsecond vmmd log:\n\(second.log)")
            await second.tearDown()
            await first.tearDown()
            throw error
        }
        await second.tearDown()
        await first.tearDown()
    }

    @Test(arguments: [
        (["--cluster", "etcd=http://127.0.0.1:2379"], "--cluster needs --host-name NAME"),
        (["--host-name", "a"], "--host-name, --lease-ttl, --keepalive-interval and --fence-after only apply with --cluster"),
        (["--cluster", "http://127.0.0.1:2379", "--host-name", "a"], "--cluster must be etcd=URL[,URL...]"),
        (["--cluster", "etcd=127.0.0.1:2379", "--host-name", "a"], "the address must start with http://"),
        (["--cluster", "etcd=http://127.0.0.1:2379", "--host-name", "A_1"], "--host-name \"A_1\": use 1-63 of a-z"),
        (["--cluster", "etcd=http://127.0.0.1:2379", "--host-name", "a", "--lease-ttl", "1"], "--lease-ttl must be at least 2"),
        (["--cluster", "etcd=http://127.0.0.1:2379", "--host-name", "a", "--fence-after", "4.5"],
         "--fence-after must be longer than --keepalive-interval and leave at least 1 s before the lease can expire"),
    ])
    func clusterOptionsThatCannotWorkAreRefused(_ options: [String], _ message: String) async throws {
        let daemon = try DaemonHarness()
        defer { try? FileManager.default.removeItem(atPath: daemon.root) }
        let tls = try await daemon.enableTLS()
        let needsListener = options.contains("--cluster") && options.contains("--host-name")
        let result = try await Subprocess.run([TestPaths.vmmd] + options + (needsListener ? tls.arguments : []))
        #expect(result.status != 0)
        #expect(result.error.contains(message), "\(result)")
    }
}
