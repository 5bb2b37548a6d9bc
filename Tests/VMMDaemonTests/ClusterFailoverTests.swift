import ClusterTestSupport
import Foundation
import Glibc
import Testing

/// Issue 10's failure handling with real parts: three vmmd "hosts", each in a network
/// namespace of its own joined by veth to a switch (`MultiHostHarness`), a three-member
/// etcd on the switch, and HA VMs whose disks are in one shared folder. A guest writes its
/// instance id and a sequence number into its disk's first sector for the whole test;
/// reading it all along proves that no two instances ever wrote at once.
@Suite(.serialized)
struct ClusterFailoverTests {
    @Test func aDeadHostsHAVMsRunElsewhereAndAPartitionedHostFencesThemFirst() async throws {
        try await FailoverCluster.with { cluster in
            try await cluster.createAndStart("ha", on: 0, ha: true)
            try await cluster.createAndStart("plain", on: 0, ha: false)
            let writers = WriterWatch(image: cluster.image("ha"))
            defer { writers.stop() }
            #expect(try await eventually(seconds: 20) { writers.instances.count == 1 }, "the writer guest never wrote")

            // One etcd member down (until the quorum phase below): the cluster works on.
            cluster.etcd.kill(2)
            try await Task.sleep(for: .seconds(2))

            // A dead host: its vmmd and every vmm at once.
            let killed = ContinuousClock.now
            cluster.hosts.hosts[0].killProcessesUsingRoot()
            let survivor = try await cluster.waitUntilRunning("ha", from: 1, elsewhere: [0], seconds: 30)
            let failover = ContinuousClock.now - killed
            print("ClusterFailoverTests: host killed → HA VM running on host\(survivor) after \(failover)")
            #expect(failover < .seconds(10))
            let plain = try await cluster.view("plain", from: survivor)
            #expect(plain?.state == "crashed" && plain?.host == "host0", "\(String(describing: plain))")
            #expect(try await eventually(seconds: 10) { writers.instances.count == 2 }, "the restarted writer never wrote")

            // A partitioned host: it fences the VM on its own clock, before its lease can
            // expire (TTL 5 s); the last host runs it; back on the network it starts nothing.
            let partitioned = survivor
            let last = [1, 2].first { $0 != partitioned }!
            let vmm = try #require(cluster.vmmPID("ha", on: partitioned))
            let cut = ContinuousClock.now
            try await cluster.hosts.network.setLink(partitioned, up: false)
            #expect(try await eventually(seconds: 10) { hasEnded(vmm) })
            let fenced = ContinuousClock.now - cut
            print("ClusterFailoverTests: link down → HA VM fenced after \(fenced)")
            #expect(fenced < .seconds(4), "fenced \(fenced) after the cut: the lease (TTL 5 s) could have expired first")
            #expect(try await eventually(seconds: 5) { cluster.hosts.hosts[partitioned].log.contains("fenced (status 8)") })
            _ = try await cluster.waitUntilRunning("ha", from: last, elsewhere: [0, partitioned], seconds: 30)
            try await cluster.hosts.network.setLink(partitioned, up: true)
            #expect(try await eventually(seconds: 20) { try await cluster.isRegistered(partitioned) })
            try await Task.sleep(for: .seconds(3))
            #expect(cluster.vmmPID("ha", on: partitioned) == nil, "the rejoined host started the VM again")
            #expect(try await cluster.view("ha", from: partitioned)?.host == "host\(last)")
            #expect(writers.instances.count == 3)

            // etcd loses its quorum: nobody can tell whether a host lives, so no VM moves.
            // HA VMs are fenced (their hosts cannot renew), other VMs run on untouched; once
            // etcd is back, the hosts end their old leases and the HA VM runs again.
            try await cluster.etcd.restart(2)
            try await cluster.createAndStart("plain2", on: partitioned, ha: false)
            let plainVMM = try #require(cluster.vmmPID("plain2", on: partitioned))
            let haVMM = try #require(cluster.vmmPID("ha", on: last))
            cluster.etcd.kill(0)
            cluster.etcd.kill(1)
            let lost = ContinuousClock.now
            #expect(try await eventually(seconds: 10) { hasEnded(haVMM) })
            print("ClusterFailoverTests: etcd quorum lost → HA VM fenced after \(ContinuousClock.now - lost)")
            try await Task.sleep(until: lost + .seconds(8))
            #expect(!hasEnded(plainVMM), "a VM that is not HA was touched by the etcd outage")
            #expect([0, 1, 2].allSatisfy { cluster.vmmPID("ha", on: $0) == nil }, "a failover without a quorum")
            try await cluster.etcd.restart(0, 1)
            let healed = ContinuousClock.now
            #expect(try await eventually(seconds: 40) { writers.instances.count == 4 }, "the HA VM did not run again")
            print("ClusterFailoverTests: etcd back → HA VM writing again after \(ContinuousClock.now - healed)")
            #expect([1, 2].filter { cluster.vmmPID("ha", on: $0) != nil }.count == 1)
            #expect(!hasEnded(plainVMM))

            // A vmmd told to stop keeps its lease while an HA VM runs there (revoking it would
            // let the manager start the VM elsewhere at once): the VM is fenced, then restarted.
            let stopping = try #require([1, 2].first { cluster.vmmPID("ha", on: $0) != nil })
            let stoppingVMM = try #require(cluster.vmmPID("ha", on: stopping))
            try await cluster.hosts.hosts[stopping].stopDaemon(signal: SIGTERM)
            #expect(cluster.hosts.hosts[stopping].log.contains("not revoking the lease: HA VMs run here"))
            #expect(try await eventually(seconds: 10) { hasEnded(stoppingVMM) })
            #expect(try await eventually(seconds: 30) { writers.instances.count == 5 }, "the HA VM did not run again")
            #expect(writers.violations.isEmpty, "two writers at once: \(writers.violations)")
        }
    }

    /// The manager dies after marking a dead host's HA VM `pending` and before placing it
    /// (a test pause holds every manager there for 4 s): the next manager finds the
    /// pending VM in etcd and places it, once.
    @Test func aManagerThatDiesMidFailoverLeavesTheRestToTheNext() async throws {
        try await FailoverCluster.with(environment: ["VMMD_TEST_MANAGER_PAUSE_MS": "4000"]) { cluster in
            let manager = try await cluster.manager()
            let (victim, successor) = manager == 0 ? (1, 2) : (0, 3 - manager)
            try await cluster.createAndStart("ha", on: victim, ha: true)
            let writers = WriterWatch(image: cluster.image("ha"))
            defer { writers.stop() }
            #expect(try await eventually(seconds: 20) { writers.instances.count == 1 })
            cluster.hosts.hosts[victim].killProcessesUsingRoot()
            #expect(try await eventually(seconds: 15) { try await cluster.view("ha", from: successor)?.state == "pending" })
            cluster.hosts.hosts[manager].killProcessesUsingRoot()
            _ = try await cluster.waitUntilRunning("ha", from: successor, elsewhere: [victim, manager], seconds: 30)
            #expect(cluster.hosts.hosts[successor].log.contains("cluster: VM ha restarts on host\(successor)"),
                    "the next manager did not place it")
            #expect(try await eventually(seconds: 10) { writers.instances.count == 2 })
            try await Task.sleep(for: .seconds(2))
            #expect(writers.instances.count == 2, "started twice")
            #expect(writers.violations.isEmpty, "two writers at once: \(writers.violations)")
        }
    }
}

/// Three cluster hosts in namespaces (`MultiHostHarness`), etcd on their switch, and a
/// shared folder for the VMs' disks; `with` always tears everything down.
final class FailoverCluster: @unchecked Sendable {
    let hosts: MultiHostHarness
    let etcd: EtcdCluster
    let shared: String

    private init(hosts: MultiHostHarness, etcd: EtcdCluster, shared: String) {
        self.hosts = hosts
        self.etcd = etcd
        self.shared = shared
    }

    /// Runs `body` on a started cluster, its daemons with `environment` added.
    static func with(environment: [String: String] = [:], _ body: (FailoverCluster) async throws -> Void) async throws {
        let harness = try await MultiHostHarness(hosts: 3)
        let shared = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-shared-\(UUID().uuidString.prefix(8))").path
        var etcd: EtcdCluster?
        do {
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            let started = try await EtcdCluster.start(
                members: 3, namespace: harness.network.bridgeNamespace, address: harness.network.switchAddress)
            etcd = started
            for (index, host) in harness.hosts.enumerated() {
                host.arguments += ["--cluster", "etcd=" + started.clientURLs.joined(separator: ","), "--host-name", "host\(index)"]
            }
            for host in harness.hosts { try await host.start(environment: environment) }
            try await body(FailoverCluster(hosts: harness, etcd: started, shared: shared))
        } catch {
            for (index, host) in harness.hosts.enumerated() {
                // A crash's backtrace is long: its first lines say what happened.
                let log = host.log
                let start = ["Fatal error", "Program crashed", "💣"].compactMap { log.range(of: $0)?.lowerBound }.min()
                let crash = start.map { String(log[$0...].prefix(3000)) } ?? ""
                Issue.record("host\(index) vmmd log:\n\(crash)\n...\n\(log.suffix(6000))")
            }
            await harness.tearDown()
            etcd?.tearDown()
            try? FileManager.default.removeItem(atPath: shared)
            throw error
        }
        await harness.tearDown()
        etcd?.tearDown()
        try? FileManager.default.removeItem(atPath: shared)
    }

    func image(_ name: String) -> String { "\(shared)/\(name).img" }

    /// Defines VM `name` on host `index` (an HA one writes its disk in the shared folder)
    /// and starts it there.
    func createAndStart(_ name: String, on index: Int, ha: Bool) async throws {
        let host = hosts.hosts[index]
        var fields = [
            #""name":"\#(name)","memory":16777216,"host":"host\#(index)","ha":\#(ha)"#,
            #""kernel":"\#(TestPaths.kernel(ha ? "virtio" : "echo"))""#,
        ]
        if ha {
            FileManager.default.createFile(atPath: image(name), contents: Data(count: 1 << 20))
            fields.append(#""cmdline":"test=writer delay=10","disks":[{"path":"\#(image(name))"}],"rng":false"#)
        }
        let created = try await host.request("POST", "/v1/vms", body: "{\(fields.joined(separator: ","))}")
        guard created.status == 201 else { throw HarnessError("creating \(name): \(created.status) \(created.text)") }
        let started = try await host.request("POST", "/v1/vms/\(name)/start")
        guard started.status == 200 else { throw HarnessError("starting \(name): \(started.status) \(started.text)") }
    }

    /// VM `name`'s state and host as host `index` lists it (`GET /v1/vms`).
    func view(_ name: String, from index: Int) async throws -> (state: String, host: String)? {
        let list = try await hosts.hosts[index].request("GET", "/v1/vms").json["vms"] as? [[String: Any]] ?? []
        guard let vm = list.first(where: { ($0["definition"] as? [String: Any])?["name"] as? String == name }) else { return nil }
        return (vm["state"] as? String ?? "", vm["host"] as? String ?? "")
    }

    /// Waits until host `index` lists VM `name` running on a host other than `excluded`;
    /// returns that host's index.
    func waitUntilRunning(_ name: String, from index: Int, elsewhere excluded: [Int], seconds: Double) async throws -> Int {
        var found: Int?
        let running = try await eventually(seconds: seconds) {
            guard let view = try await self.view(name, from: index), view.state == "running",
                  let host = Int(view.host.dropFirst("host".count)), !excluded.contains(host) else { return false }
            found = host
            return true
        }
        guard running, let found else {
            throw HarnessError("VM \(name) did not run again within \(seconds) s: \(String(describing: try await view(name, from: index)))")
        }
        return found
    }

    /// The pid of the `vmm` running VM `name` on host `index`, if one runs.
    func vmmPID(_ name: String, on index: Int) -> pid_t? {
        let folder = "\(hosts.hosts[index].runtimeDirectory)/vms/\(name)/"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let commandLine = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let arguments = commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.first?.hasSuffix("/vmm") == true, arguments.contains(where: { $0.hasPrefix(folder) }), !hasEnded(pid) {
                return pid
            }
        }
        return nil
    }

    /// The index of the host whose vmmd says last that it is the manager.
    func manager() async throws -> Int {
        var found: Int?
        guard try await eventually(seconds: 15, {
            found = (0..<3).first { self.hosts.hosts[$0].log.contains("host\($0) is the manager") }
            return found != nil
        }), let found else { throw HarnessError("no host became the manager") }
        return found
    }

    /// Whether host `index` says it is registered (`GET /v1/host`).
    func isRegistered(_ index: Int) async throws -> Bool {
        let cluster = try await hosts.hosts[index].request("GET", "/v1/host").json["cluster"] as? [String: Any]
        return cluster?["registered"] as? Bool == true
    }
}

/// Reads the writer guest's sector (`writer ID SEQ`) every few milliseconds from its own
/// thread and keeps what it saw: each instance's id in order, and any sign of two writers
/// at once (an earlier instance writing again after a later one began, or a sequence that
/// went back).
final class WriterWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [(id: String, seq: Int)] = []
    private var problems: [String] = []
    private var running = true

    init(image: String) {
        Thread.detachNewThread { [self] in
            let fd = open(image, O_RDONLY)
            defer { close(fd) }
            var sector = [UInt8](repeating: 0, count: 64)
            while lock.withLock({ running }) {
                if pread(fd, &sector, sector.count, 0) == sector.count { record(String(decoding: sector, as: UTF8.self)) }
                usleep(3_000)
            }
        }
    }

    func stop() { lock.withLock { running = false } }

    /// The instances that wrote, in the order they first did.
    var instances: [String] { lock.withLock { seen.map(\.id) } }

    var violations: [String] { lock.withLock { problems } }

    private func record(_ sector: String) {
        let fields = sector.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\0" })
        guard fields.count >= 3, fields[0] == "writer", let seq = Int(fields[2]) else { return }
        let id = String(fields[1])
        lock.withLock {
            if let index = seen.firstIndex(where: { $0.id == id }) {
                if index != seen.count - 1 { problems.append("instance \(id) wrote (seq \(seq)) after \(seen.last!.id) began") }
                if seq < seen[index].seq { problems.append("instance \(id) went back from seq \(seen[index].seq) to \(seq)") }
                seen[index].seq = max(seen[index].seq, seq)
            } else {
                seen.append((id, seq))
            }
        }
    }
}
