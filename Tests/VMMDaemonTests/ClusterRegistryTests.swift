import ClusterTestSupport
import Etcd
import Foundation
import Glibc
import Testing
import VMMAPI

/// The cluster-wide VM registry (docs/cluster.md, section 8): three real vmmd on loopback
/// in a real three-member etcd; VMs are created, listed and driven through any host.
@Suite(.serialized, .etcdCluster(members: 3))
struct ClusterRegistryTests {
    let etcd = EtcdCluster.current!

    /// The owner key of VM `name`: its host and lease, or nil.
    private func owner(_ name: String) async throws -> (host: String, lease: Int64)? {
        guard let key = try await EtcdClient(urls: etcd.clientURLs).get("vmm/owners/\(name)") else { return nil }
        let value = try JSONSerialization.jsonObject(with: Data(key.value)) as? [String: Any]
        return (value?["host"] as? String ?? "?", key.lease)
    }

    /// The record `vmm/vms/NAME`: its `definition` and `host`.
    private func record(_ name: String) async throws -> [String: [String: Any]]? {
        guard let key = try await EtcdClient(urls: etcd.clientURLs).get("vmm/vms/\(name)") else { return nil }
        let value = try JSONSerialization.jsonObject(with: Data(key.value)) as? [String: Any]
        return ["definition": value?["definition"] as? [String: Any] ?? [:], "host": ["name": value?["host"] as Any]]
    }

    private func hostLease(_ name: String) async throws -> Int64? {
        try await EtcdClient(urls: etcd.clientURLs).get("vmm/hosts/\(name)")?.lease
    }

    @Test func anyHostCreatesListsAndDrivesEveryVMOfTheCluster() async throws {
        try await ClusterHosts.with(3, etcd: etcd) { cluster in
            // Created through one host, on another.
            let created = try await cluster.create("alpha", via: 1, on: "host0", kernel: "echo")
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["host"] as? String == "host0")
            #expect(try await cluster.create("beta", via: 0, on: "host2").status == 201)
            #expect(FileManager.default.fileExists(atPath: "\(cluster[0].stateDirectory)/vms/alpha.json"))
            #expect(!FileManager.default.fileExists(atPath: "\(cluster[1].stateDirectory)/vms/alpha.json"))

            // A name exists once in the cluster, whichever host is asked.
            let again = try await cluster.create("alpha", via: 2, on: "host2")
            #expect(again.status == 409)
            #expect(again.text.contains("a VM named alpha exists in the cluster (on host host0)"), "\(again.text)")
            // Three hosts create one name at once, each on itself: one wins.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<3 { group.addTask { try await cluster.create("race", via: index, on: "host\(index)").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.sorted() == [201, 409, 409], "\(statuses)")

            // Every host lists every VM once, with its host.
            let expected = ["alpha": "host0", "beta": "host2"]
            for index in 0..<3 {
                let list = try await cluster.list(via: index)
                #expect(list.count == 3, "\(list)")
                for (name, host) in expected { #expect(list[name]?.host == host, "host\(index): \(list)") }
                #expect(["host0", "host1", "host2"].contains(list["race"]?.host ?? ""))
            }
            let api = OpenAPIContract(cluster[1])
            try await api.expect(200, "GET", "/v1/vms")
            try await api.expect(200, "GET", "/v1/vms/{name}", name: "alpha")
            #expect(try await api.validate(against: DaemonTests.OpenAPIContractTests.spec).isEmpty)

            // Any host's events include every host's VMs (host1 follows alpha, on host0).
            let events = try Subprocess(
                ["/usr/bin/curl", "-sN", "--max-time", "120", "--unix-socket", cluster[1].socket, "http://localhost/v1/events"],
                timeout: .seconds(130))
            #expect(try await cluster[1].awaitSubscription { events.outputSoFar })

            // Lifecycle calls made on other hosts run where the VM is.
            let started = try await cluster[2].request("POST", "/v1/vms/alpha/start")
            #expect(started.status == 200, "\(started.text)")
            #expect(started.state == "running")
            #expect(started.json["host"] as? String == "host0")
            #expect(try await cluster[0].pid("alpha") != nil)
            #expect(try await owner("alpha")?.host == "host0")
            #expect(try await owner("alpha")?.lease == hostLease("host0"))
            #expect(try await cluster.list(via: 1)["alpha"]?.state == "running")
            #expect(try await cluster[1].request("POST", "/v1/vms/alpha/pause").state == "paused")
            #expect(try await cluster[2].request("POST", "/v1/vms/alpha/resume").state == "running")
            let info = try await cluster[1].request("GET", "/v1/vms/alpha")
            #expect(info.state == "running" && info.json["pid"] != nil, "\(info.text)")
            #expect(try await cluster[1].request("GET", "/v1/vms/alpha/console").status == 200)
            // The console attaches through any host.
            let console = try await RawAPIConnection.attach(HTTPClient(socketPath: cluster[2].socket), "alpha")
            #expect(try await console.waitFor("echo: ready", seconds: 10), "\(console.text)")
            console.send("hello through host2\n")
            #expect(try await console.waitFor("echo: hello through host2", seconds: 10), "\(console.text)")
            // Started elsewhere, it cannot start here too.
            #expect(try await cluster[1].request("POST", "/v1/vms/alpha/start").status == 409)
            #expect(try await cluster[1].request("POST", "/v1/vms/alpha/kill").state == "stopped")
            #expect(try await owner("alpha") == nil)
            #expect(try await cluster.list(via: 2)["alpha"]?.state == "stopped")
            let alphaStates = { () -> [String] in
                events.outputSoFar.split(separator: "\n").compactMap { line in
                    guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                          event["vm"] as? String == "alpha", event["host"] as? String == "host0" else { return nil }
                    return event["state"] as? String
                }
            }
            #expect(try await eventually(seconds: 10) { alphaStates().last == "stopped" }, "\(events.outputSoFar)")
            #expect(alphaStates() == ["starting", "running", "paused", "running", "stopping", "stopped"], "\(events.outputSoFar)")
            events.signal()
            _ = try await events.wait()
            // A change made through any host is the cluster's before it is answered.
            #expect(try await cluster[2].request("PATCH", "/v1/vms/alpha", body: #"{"cpus":2}"#).status == 200)
            #expect(try await record("alpha")?["definition"]?["cpus"] as? Int == 2)

            // Deleted through any host: gone everywhere.
            #expect(try await cluster[0].request("DELETE", "/v1/vms/beta").status == 204)
            #expect(!FileManager.default.fileExists(atPath: "\(cluster[2].stateDirectory)/vms/beta.json"))
            for index in 0..<3 { #expect(try await cluster.list(via: index)["beta"] == nil) }
            #expect(try await cluster[1].request("GET", "/v1/vms/beta").status == 404)

            // vmctl shows the host.
            let vmctl = Vmctl(cluster[1])
            let table = try await vmctl("list")
            let rows = table.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(rows.first == ["NAME", "HOST", "STATE", "CPUS", "MEMORY", "AUTOSTART"], "\(table)")
            #expect(rows.dropFirst().first == ["alpha", "host0", "stopped", "2", "16M", "no"], "\(table)")
            let json = try await vmctl("list", "--json")
            #expect(json.output.contains(#""host" : "host0""#), "\(json)")
            let made = try await vmctl("create", "gamma", "--kernel", TestPaths.kernel("idle"), "--memory", "16M", "--host", "host2", "--ha",
                                       "--ha-priority", "7")
            #expect(made.output == "created gamma on host host2\n", "\(made)")
            let gamma = try await cluster[0].request("GET", "/v1/vms/gamma").json["definition"] as? [String: Any]
            #expect(gamma?["ha"] as? Bool == true && gamma?["haPriority"] as? Int == 7)
        }
    }

    /// `committed` of host `name`'s record as `daemon` reads it.
    private func committedMemory(of name: String, from daemon: DaemonHarness) async throws -> Int? {
        let hosts = (try await daemon.request("GET", "/v1/host").json["cluster"] as? [String: Any])?["hosts"] as? [[String: Any]]
        let record = hosts?.first { $0["name"] as? String == name }
        return (record?["committed"] as? [String: Any])?["memory"] as? Int
    }

    @Test func placementPicksTheMostFreeHostNeverADrainingOne() async throws {
        try await ClusterHosts.with(3, etcd: etcd) { cluster in
            for index in 0..<2 {
                #expect(try await cluster.create("busy\(index)", via: 2, on: "host\(index)", memory: 64 << 20).status == 201)
                #expect(try await cluster[2].request("POST", "/v1/vms/busy\(index)/start").status == 200)
            }
            for index in 0..<2 {
                #expect(try await eventually(seconds: 5) { try await committedMemory(of: "host\(index)", from: cluster[2]) == 64 << 20 })
            }
            // host2 promised nothing: placement picks it, whichever host is asked.
            let placed = try await cluster.create("placed", via: 0)
            #expect(placed.status == 201, "\(placed.text)")
            #expect(placed.json["host"] as? String == "host2")

            let unknown = try await cluster.create("nowhere", via: 0, on: "host9")
            #expect(unknown.status == 422)
            #expect(unknown.text.contains("host host9 is not in the cluster; registered hosts: host0, host1, host2"), "\(unknown.text)")

            // Drained without --to: its stopped VM's definition goes to another host.
            let drain = try await Vmctl(cluster[2])("host", "drain", "--json")
            #expect(drain.status == 0, "\(drain)")
            #expect(drain.output.contains(#""outcome" : "defined""#), "\(drain)")
            let moved = try await cluster.list(via: 2)["placed"]?.host
            #expect(moved == "host0" || moved == "host1", "\(String(describing: moved))")
            #expect(try await cluster[0].request("GET", "/v1/vms/placed").status == 200)
            #expect(!FileManager.default.fileExists(atPath: "\(cluster[2].stateDirectory)/vms/placed.json"))
            #expect(try await eventually(seconds: 5) {
                let hosts = (try await cluster[0].request("GET", "/v1/host").json["cluster"] as? [String: Any])?["hosts"] as? [[String: Any]]
                return hosts?.first { $0["name"] as? String == "host2" }?["mode"] as? String == "draining"
            })
            // The most free host, but draining: never picked, and refused when asked for.
            let next = try await cluster.create("next", via: 2)
            #expect(next.status == 201, "\(next.text)")
            #expect(next.json["host"] as? String != "host2")
            let pinned = try await cluster.create("pinned", via: 0, on: "host2")
            #expect(pinned.status == 409)
            #expect(pinned.text.contains("host host2 is draining"), "\(pinned.text)")
        }
    }

    @Test func aDrainWithoutTargetsMovesARunningVMAndItsOwnership() async throws {
        try await ClusterHosts.with(2, etcd: etcd) { cluster in
            #expect(try await cluster.create("mover", via: 1, on: "host0").status == 201)
            #expect(try await cluster[1].request("POST", "/v1/vms/mover/start").state == "running")
            let drain = try await Vmctl(cluster[0])("host", "drain")
            #expect(drain.status == 0, "\(drain)")
            #expect(drain.output.contains("mover: migrated to 127.0.0.1:"), "\(drain)")
            #expect(try await cluster[1].pid("mover") != nil)
            #expect(try await eventually(seconds: 5) { try await owner("mover")?.lease == hostLease("host1") })
            #expect(try await record("mover")?["host"]?["name"] as? String == "host1")
            for index in 0..<2 {
                let list = try await cluster.list(via: index)
                #expect(list["mover"]?.host == "host1" && list["mover"]?.state == "running", "host\(index): \(list)")
            }
            // Asked on the drained host, the VM's new host answers.
            #expect(try await cluster[0].request("POST", "/v1/vms/mover/kill").state == "stopped")
            #expect(try await owner("mover") == nil)
        }
    }

    @Test func aHostLeavingAndRejoiningKeepsTheClustersViewConsistent() async throws {
        try await ClusterHosts.with(3, etcd: etcd) { cluster in
            for (name, host) in [("one", "host0"), ("two", "host1"), ("three", "host1"), ("four", "host2"), ("seven", "host1"),
                                 ("eight", "host1")] {
                #expect(try await cluster.create(name, via: 0, on: host, autostart: ["three", "seven"].contains(name)).status == 201)
            }
            #expect(try await cluster[0].request("POST", "/v1/vms/two/start").status == 200)
            let pid = try #require(try await cluster[1].pid("two"))

            // host1's daemon dies; its VM runs on.
            try await cluster[1].stopDaemon(signal: SIGKILL)
            #expect(try await cluster.list(via: 0)["two"]?.host == "host1")
            // Its record lives until its lease ends: a VM placed there cannot be created.
            let api = OpenAPIContract(cluster[0])
            let lost = try await api.expect(
                503, "POST", "/v1/vms", body: #"{"name":"lost","kernel":"\#(TestPaths.kernel("idle"))","host":"host1"}"#)
            #expect(lost.body.contains("cannot create VM lost on host host1"), "\(lost.body)")
            #expect(try await api.validate(against: DaemonTests.OpenAPIContractTests.spec).isEmpty)
            // Meanwhile the others go on: create, start, stop and delete through any host.
            #expect(try await cluster.create("five", via: 2, on: "host0").status == 201)
            let five = try await cluster[2].request("POST", "/v1/vms/five/start")
            try #require(five.state == "running", "\(five.status) \(five.text)")
            #expect(try await cluster[2].request("POST", "/v1/vms/five/kill").state == "stopped")
            #expect(try await cluster[0].request("DELETE", "/v1/vms/four").status == 204)
            // A VM assigned to host1 while it is away, and one host1 has that etcd lost.
            let client = try EtcdClient(urls: etcd.clientURLs)
            let six = #"{"definition":{"name":"six","kernel":"\#(TestPaths.kernel("idle"))","memory":16777216},"host":"host1"}"#
            try await client.put("vmm/vms/six", value: Array(six.utf8))
            try await client.delete("vmm/vms/three")
            // An autostart VM of host1 that the cluster moved to host2 meanwhile.
            let seven = try #require(try await client.get("vmm/vms/seven")).text.replacingOccurrences(of: #""host":"host1""#, with: #""host":"host2""#)
            try await client.put("vmm/vms/seven", value: Array(seven.utf8))
            // Its lease ends: its VM shows as crashed (nobody owns it now).
            #expect(try await eventually(seconds: Double(ClusterHosts.leaseTTL) + 5) {
                try await cluster.list(via: 2)["two"]?.state == "crashed"
            })
            // host1's VM eight is placed on host2 (owner key under host2's lease, as a
            // manager's txn writes it, with a reason that is not a failover's, which host2
            // would start by itself): host2 starts it when asked through any host.
            let eight = try #require(try await client.get("vmm/vms/eight")).text.replacingOccurrences(of: #""host":"host1""#, with: #""host":"host2""#)
            let placed = try await client.txn(
                compare: [.absent("vmm/owners/eight")],
                success: [.put("vmm/vms/eight", value: Array(eight.utf8)),
                          .put("vmm/owners/eight", value: Array(#"{"host":"host2","since":"now","reason":"placed"}"#.utf8),
                               lease: try #require(try await hostLease("host2")))])
            #expect(placed.succeeded)
            let started = try await cluster[0].request("POST", "/v1/vms/eight/start")
            #expect(started.state == "running" && started.json["host"] as? String == "host2", "\(started.text)")

            // host1 comes back: it re-owns its running VM, publishes what etcd lacked (and
            // autostarts it), defines what etcd assigned it and forgets what went elsewhere.
            try await cluster[1].start()
            #expect(try await eventually(seconds: 5) { try await owner("two")?.lease == hostLease("host1") })
            #expect(try await cluster[1].pid("two") == pid)
            #expect(try await eventually(seconds: 5) { try await cluster.list(via: 0)["three"]?.host == "host1" })
            #expect(try await cluster[1].state("six") == "stopped")
            #expect(FileManager.default.fileExists(atPath: "\(cluster[1].stateDirectory)/vms/six.json"))
            #expect(!FileManager.default.fileExists(atPath: "\(cluster[1].stateDirectory)/vms/seven.json"))
            // Each host lists it running once host1 published that.
            #expect(try await eventually(seconds: 10) {
                for index in 0..<3 where try await cluster.list(via: index)["three"]?.state != "running" { return false }
                return try await owner("three")?.host == "host1"
            })
            #expect(!FileManager.default.fileExists(atPath: "\(cluster[1].stateDirectory)/vms/eight.json"))
            let expected = [
                "one": "host0", "two": "host1", "three": "host1", "five": "host0", "six": "host1", "seven": "host2", "eight": "host2",
            ]
            for index in 0..<3 {
                let list = try await cluster.list(via: index)
                #expect(list.mapValues(\.host) == expected, "host\(index): \(list)")
                #expect(list["two"]?.state == "running" && list["three"]?.state == "running", "host\(index): \(list)")
                #expect(list["eight"]?.state == "running", "host\(index): \(list)")
                #expect(list["seven"]?.state == "stopped", "host\(index): \(list)")
            }
            #expect(try await owner("seven") == nil)
            #expect(try await cluster[2].request("POST", "/v1/vms/two/stop", body: #"{"force":true}"#).state == "stopped")
            #expect(try await owner("two") == nil)
        }
    }
}
