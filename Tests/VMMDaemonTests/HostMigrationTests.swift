import ClusterTestSupport
import Foundation
import Glibc
import Testing
import TestSupport

/// Live migration between real daemons (docs/migration.md, section 3): each host a vmmd in
/// its own network namespace, the API and stream over TCP with mutual TLS, the `counter`
/// guest moving while it counts. Lean: each test boots its hosts once and checks several
/// things on them.
extension DaemonTests {
    @Suite(.serialized, .timeLimit(.minutes(4)))
    struct HostMigrationTests {
        /// A counter VM; the drain's VMs declare more memory than the machine's free memory
        /// moves between two looks, so that placement by available memory is deterministic.
        static func counter(_ name: String, memory: Int = 64 << 20) -> String {
            #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel("counter"))","memory":\#(memory),"cmdline":"steps=1000000"}"#
        }

        /// Waits until VM `name`'s migration away from `host` has sent stream bytes (the
        /// hello accepted, pages on their way: TLS is up).
        static func streamFlows(_ host: DaemonHarness, _ name: String) async throws -> Bool {
            try await eventually(seconds: 20) {
                let operation = try await host.request("GET", "/v1/vms/\(name)").json["operation"] as? [String: Any]
                return ((operation?["migration"] as? [String: Any])?["bytesSent"] as? Int ?? 0) > 65536
            }
        }

        /// The last `counter: step N` on a console.
        static func lastStep(_ console: String) -> Int? {
            console.matches(of: /counter: step (\d+)/).last.flatMap { Int($0.output.1) }
        }

        /// `host`'s vmm of VM `name`, which arrived by migration, runs jailed (docs/jail.md):
        /// pid 1 of its own PID namespace under a uid of its own, no capability, the VM's folder as root.
        static func expectJailed(_ host: DaemonHarness, _ name: String) async throws {
            let vm = try #require(try await host.pid(name))
            let fields = ProcessStatus.fields(vm)
            #expect(fields["Uid"].map { !$0.hasPrefix("0\t") } == true, "pid \(vm): \(fields)")
            #expect(fields["CapEff"] == "0000000000000000" && fields["NoNewPrivs"] == "1", "pid \(vm): \(fields)")
            #expect(fields["NSpid"]?.hasSuffix("\t1") == true, "pid \(vm): \(fields)")
            let root = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(vm)/root")
            #expect(root.contains("control.sock") && !root.contains("proc"), "\(root)")
        }

        @Test func aCounterGoesThereAndBackWithItsDefinition() async throws {
            try await MultiHostHarness.with(hosts: 2) { hosts in
                let (a, b) = (hosts.hosts[0], hosts.hosts[1])
                #expect(try await a.request("POST", "/v1/vms", body: Self.counter("walker")).status == 201)
                #expect(try await a.request("POST", "/v1/vms/walker/start").state == "running")
                #expect(try await eventually(seconds: 20) { Self.lastStep(try await a.request("GET", "/v1/vms/walker/console").text) ?? 0 >= 2 })
                let events = try Subprocess(
                    ["/usr/bin/curl", "-sN", "--max-time", "120", "--unix-socket", a.socket, "http://localhost/v1/events"],
                    timeout: .seconds(130))
                #expect(try await a.awaitSubscription { events.outputSoFar })

                // A → B over the REST API, slowed (1 Mbit/s) so that its progress shows.
                let migration = try a.requestInBackground(
                    "POST", "/v1/vms/walker/migrate", body: #"{"to":"\#(hosts.address(1))","bandwidthMbps":1}"#)
                var progress: [String: Any]?
                _ = try await eventually(seconds: 20) {
                    let operation = try await a.request("GET", "/v1/vms/walker").json["operation"] as? [String: Any]
                    progress = operation?["migration"] as? [String: Any] ?? progress
                    return (progress?["bytesSent"] as? Int ?? 0) > 0
                }
                #expect(progress?["to"] as? String == hosts.address(1), "\(String(describing: progress))")
                let result = try await migration.result()
                #expect(result.status == 200, "\(result.text)")
                #expect(result.json["rounds"] as? Int ?? 0 >= 1, "\(result.text)")
                #expect(result.json["downtimeMs"] as? Double != nil, "\(result.text)")

                // It left A: definition gone, console ends saying where, events tell it.
                let gone = try await a.request("GET", "/v1/vms/walker")
                #expect(gone.status == 404)
                #expect(gone.text.contains("migrated to \(hosts.address(1))"), "\(gone.text)")
                #expect(!FileManager.default.fileExists(atPath: "\(a.stateDirectory)/vms/walker.json"))
                let departedConsole = try await a.request("GET", "/v1/vms/walker/console").text
                #expect(departedConsole.hasSuffix("]\n") && departedConsole.contains("[vmmd: VM walker migrated to \(hosts.address(1))"))
                let stepOnA = try #require(Self.lastStep(departedConsole))

                // It runs on B, counting on from where it was.
                #expect(try await b.state("walker") == "running")
                try await Self.expectJailed(b, "walker")
                #expect(FileManager.default.fileExists(atPath: "\(b.stateDirectory)/vms/walker.json"))
                #expect(try await eventually(seconds: 20) {
                    Self.lastStep(try await b.request("GET", "/v1/vms/walker/console").text) ?? 0 > stepOnA
                })
                events.signal(SIGKILL)
                let streamed = try await events.wait().output
                #expect(streamed.contains(#""event":"migration-progress""#), "\(streamed)")
                #expect(streamed.contains(#""event":"migrated""#), "\(streamed)")
                #expect(streamed.contains(#""peer":"\#(hosts.address(1))""#), "\(streamed)")

                // B → A with vmctl in a terminal (script(1) gives it one), slowed so that the
                // progress line shows, then the one-line result.
                let vmctlLine = "'\(TestPaths.vmctl)' --socket '\(b.socket)' migrate walker --to \(hosts.address(0)) --bandwidth 2"
                let back = try await Subprocess.run(["/usr/bin/script", "-qfec", vmctlLine, "/dev/null"])
                #expect(back.status == 0, "\(back)")
                #expect(back.output.contains("migrating walker: to \(hosts.address(0)): precopy"), "\(back)")
                #expect(back.output.contains("walker migrated to \(hosts.address(0)) in "), "\(back)")
                #expect(try await a.state("walker") == "running")
                #expect(try await b.request("GET", "/v1/vms/walker").status == 404)
                #expect(FileManager.default.fileExists(atPath: "\(a.stateDirectory)/vms/walker.json"))
                #expect(try await eventually(seconds: 20) {
                    Self.lastStep(try await a.request("GET", "/v1/vms/walker/console").text) ?? 0 > stepOnA + 1
                })

                // A → B once more, through the contract checker, and what B says of it.
                let (apiA, apiB) = (OpenAPIContract(a), OpenAPIContract(b))
                let migrate = "/v1/vms/{name}/migrate"
                let hop = try await apiA.expect(200, "POST", migrate, name: "walker", body: #"{"to":"\#(hosts.address(1))"}"#)
                let hopResult = try #require(try JSONSerialization.jsonObject(with: Data(hop.body.utf8)) as? [String: Any])
                let id = try #require(hopResult["id"] as? String)
                // The final figures, from vmm's exit file, even for a hop shorter than a poll.
                #expect(hopResult["rounds"] as? Int ?? 0 >= 1, "\(hop.body)")
                #expect(hopResult["bytesSent"] as? Int ?? 0 >= 65536, "the kernel and the pages it touched: \(hop.body)")
                #expect(try await b.state("walker") == "running")
                try await apiB.expect(200, "GET", "/v1/migrations/{id}", snapshot: id)
                try await apiB.expect(409, "DELETE", "/v1/migrations/{id}", snapshot: id)

                // Refusals; the VM keeps running where it is. A name taken there:
                #expect(try await a.request("POST", "/v1/vms", body: Self.counter("walker")).status == 201)
                try await apiB.expect(409, "POST", migrate, name: "walker", body: #"{"to":"\#(hosts.address(0))"}"#)
                #expect(try await b.state("walker") == "running")
                // A kernel that is not there (any more):
                let kernel = "\(a.root)/counter-copy.elf"
                try FileManager.default.copyItem(atPath: TestPaths.kernel("counter"), toPath: kernel)
                let vanishing = #"{"name":"vanishing","kernel":"\#(kernel)","memory":67108864}"#
                #expect(try await b.request("POST", "/v1/vms", body: vanishing).status == 201)
                #expect(try await b.request("POST", "/v1/vms/vanishing/start").state == "running")
                try FileManager.default.removeItem(atPath: kernel)
                try await apiB.expect(422, "POST", migrate, name: "vanishing", body: #"{"to":"\#(hosts.address(0))"}"#)
                try await apiA.expect(422, "POST", "/v1/migrations", body: #"{"definition":\#(vanishing),"copyStorage":false}"#)
                // A destination nobody answers at:
                try await apiB.expect(503, "POST", migrate, name: "walker", body: #"{"to":"\#(hosts.network.address(0)):7999"}"#)
                #expect(try await eventually(seconds: 5) { try await b.state("walker") == "running" })
                // A paused VM (vmm migrates running guests only):
                #expect(try await b.request("POST", "/v1/vms/walker/pause").state == "paused")
                #expect(try await b.request("POST", "/v1/vms/walker/migrate", body: #"{"to":"\#(hosts.address(0))"}"#).status == 409)

                // The peer route directly: taken (201), looked at (200), withdrawn (204).
                try await apiA.expect(409, "POST", "/v1/migrations", body: #"{"definition":\#(Self.counter("walker")),"copyStorage":false}"#)
                let ticket = try await apiA.expect(201, "POST", "/v1/migrations", body: #"{"definition":\#(Self.counter("newcomer")),"copyStorage":false}"#)
                let ticketID = try #require((try JSONSerialization.jsonObject(with: Data(ticket.body.utf8)) as? [String: Any])?["id"] as? String)
                #expect(try await a.state("newcomer") == "incoming")
                try await apiA.expect(200, "GET", "/v1/migrations/{id}", snapshot: ticketID)
                try await apiA.expect(204, "DELETE", "/v1/migrations/{id}", snapshot: ticketID)
                #expect(try await a.request("GET", "/v1/vms/newcomer").status == 404)

                // Copy-storage: the destination makes its own copy of the writable disk (the
                // source's path is taken there: the file system is shared) and the VM uses it.
                // The VM is a cold clone, so its disk is a copy daemon A made: A removes it
                // once the VM left with its data; the user's image it was cloned from stays.
                let image = "\(a.root)/disky.raw"
                let pattern = Data((0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 / 4096 &* 7 &+ 1) })
                try pattern.write(to: URL(fileURLWithPath: image))
                let template = #"{"name":"template","kernel":"\#(TestPaths.kernel("counter"))","memory":67108864,"disks":[{"path":"\#(image)"}]}"#
                #expect(try await a.request("POST", "/v1/vms", body: template).status == 201)
                #expect(try await a.request("POST", "/v1/vms/template/clone", body: #"{"name":"disky","start":true}"#).status == 201)
                let original = "\(a.stateDirectory)/disks/disky/disk0.img"
                #expect(FileManager.default.contents(atPath: original) == pattern, "the clone's own copy, made by daemon A")
                #expect(try await a.state("disky") == "running")
                let copied = try await a.request("POST", "/v1/vms/disky/migrate", body: #"{"to":"\#(hosts.address(1))","copyStorage":true}"#)
                #expect(copied.status == 200, "\(copied.text)")
                let copy = "\(b.stateDirectory)/disks/disky/disk0.img"
                let there = try await b.request("GET", "/v1/vms/disky").json["definition"] as? [String: Any]
                #expect((there?["disks"] as? [[String: Any]])?.first?["path"] as? String == copy)
                #expect(FileManager.default.contents(atPath: copy) == pattern)
                #expect(try await b.state("disky") == "running")
                try await Self.expectJailed(b, "disky")
                #expect(!FileManager.default.fileExists(atPath: "\(a.stateDirectory)/disks/disky"), "A's copy is no one's now")
                #expect(FileManager.default.contents(atPath: image) == pattern, "the user's image is never touched")

                let spec = DaemonTests.OpenAPIContractTests.spec
                let problems = try await apiA.validate(against: spec) + apiB.validate(against: spec)
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
                let seen = Set((apiA.exchanges + apiB.exchanges).map { "\($0.method) \($0.path) \($0.status)" })
                let wanted = DaemonTests.OpenAPIContractTests.exercisedAcrossHosts.filter { !$0.hasPrefix("POST /v1/host/drain") }
                #expect(wanted.subtracting(seen).isEmpty, "not exercised: \(wanted.subtracting(seen).sorted())")
            }
        }

        @Test func aDestinationKilledOrCutOffMidMigrationLeavesTheVMRunningHere() async throws {
            try await MultiHostHarness.with(hosts: 2) { hosts in
                let (a, b) = (hosts.hosts[0], hosts.hosts[1])
                #expect(try await a.request("POST", "/v1/vms", body: Self.counter("stayer")).status == 201)
                #expect(try await a.request("POST", "/v1/vms/stayer/start").state == "running")
                let slow = #"{"to":"\#(hosts.address(1))","bandwidthMbps":1}"#

                // The destination daemon dies mid-stream: its tunnel dies with it.
                let first = try a.requestInBackground("POST", "/v1/vms/stayer/migrate", body: slow)
                #expect(try await Self.streamFlows(a, "stayer"))
                try await b.stopDaemon(signal: SIGKILL)
                let failed = try await first.result()
                #expect(failed.status == 503, "\(failed.text)")
                #expect(try await a.state("stayer") == "running")
                // Restarted, it has nothing of the VM: no definition, record, disk or process.
                try await b.start()
                #expect(try await eventually(seconds: 10) { try await b.request("GET", "/v1/vms/stayer").status == 404 })
                #expect(try FileManager.default.contentsOfDirectory(atPath: "\(b.stateDirectory)/migrations").isEmpty)
                #expect(!FileManager.default.fileExists(atPath: "\(b.stateDirectory)/vms/stayer.json"))
                #expect(!FileManager.default.fileExists(atPath: "\(b.runtimeDirectory)/vms/stayer"))

                // The source daemon dies mid-stream: its vmm resumes the guest, the restarted
                // daemon adopts it running, the destination drops its half.
                let third = try a.requestInBackground("POST", "/v1/vms/stayer/migrate", body: slow)
                #expect(try await Self.streamFlows(a, "stayer"))
                let pid = try #require(try await a.pid("stayer"))
                try await a.stopDaemon(signal: SIGKILL)
                _ = try await third.result()
                try await a.start()
                #expect(try await a.state("stayer") == "running")
                #expect(try await a.pid("stayer") == pid)
                #expect(try await eventually(seconds: 40) { try await b.request("GET", "/v1/vms/stayer").status == 404 })
                #expect(!FileManager.default.fileExists(atPath: "\(a.runtimeDirectory)/vms/stayer/migration.json"))

                // The link is cut mid-stream: the source gives up, the VM runs on here.
                let second = try a.requestInBackground("POST", "/v1/vms/stayer/migrate", body: slow)
                #expect(try await Self.streamFlows(a, "stayer"))
                try await hosts.network.setLink(1, up: false)
                let cut = try await second.result()
                #expect(cut.status == 503, "\(cut.text)")
                #expect(try await a.state("stayer") == "running")
                let step = Self.lastStep(try await a.request("GET", "/v1/vms/stayer/console").text) ?? 0
                #expect(try await eventually(seconds: 20) {
                    Self.lastStep(try await a.request("GET", "/v1/vms/stayer/console").text) ?? 0 > step
                })
                // Once the link is back, the source's cancel reaches the destination.
                try await hosts.network.setLink(1, up: true)
                #expect(try await eventually(seconds: 15) { try await b.request("GET", "/v1/vms/stayer").status == 404 })

                // A client whose certificate another CA signed gets no migration started.
                let stranger = "\(hosts.certificates)/stranger"
                try await MultiHostHarness.makeCertificates(stranger, names: ["host0=\(hosts.network.address(0))"])
                let refused = try await hosts.peerRequest(
                    from: 0, to: 1, "POST", "/v1/migrations", body: #"{"definition":\#(Self.counter("intruder")),"copyStorage":false}"#,
                    certificate: "\(stranger)/host0.crt", key: "\(stranger)/host0.key")
                #expect(refused.status == 0, "the TLS handshake fails: \(refused.text)")
                #expect(try await b.request("GET", "/v1/vms/intruder").status == 404)
                // Nor can it speak to the migration port.
                let probe = try await Subprocess.run(hosts.network.command(0, [
                    "/usr/bin/openssl", "s_client", "-quiet", "-connect", "\(hosts.network.address(1)):\(MultiHostHarness.migrationPort)",
                    "-cert", "\(stranger)/host0.crt", "-key", "\(stranger)/host0.key", "-CAfile", "\(hosts.certificates)/ca.crt",
                ]), input: Data("VMM-MIGRATION whatever\n".utf8), timeout: .seconds(20))
                #expect(probe.status != 0 || probe.output.isEmpty, "\(probe)")
                #expect(try await eventually(seconds: 5) { b.log.contains("migration port: connection from") }, "\(b.log)")
                // The same request with a CA-signed certificate is taken (then withdrawn).
                let accepted = try await hosts.peerRequest(
                    from: 0, to: 1, "POST", "/v1/migrations", body: #"{"definition":\#(Self.counter("intruder")),"copyStorage":false}"#)
                #expect(accepted.status == 201, "\(accepted.text)")
                #expect(try await b.state("intruder") == "incoming")
                let id = try #require(accepted.json["id"] as? String)
                #expect(try await hosts.peerRequest(from: 0, to: 1, "GET", "/v1/migrations/\(id)").json["phase"] as? String == "incoming")
                #expect(try await hosts.peerRequest(from: 0, to: 1, "DELETE", "/v1/migrations/\(id)").status == 204)
                #expect(try await b.request("GET", "/v1/vms/intruder").status == 404)
                #expect(try await hosts.peerRequest(from: 0, to: 1, "GET", "/v1/migrations/\(id)").json["phase"] as? String == "failed")
            }
        }

        @Test func drainingAHostMovesEveryVMAndRefusesStarts() async throws {
            try await MultiHostHarness.with(hosts: 3) { hosts in
                let source = hosts.hosts[0]
                for name in ["d1", "d2", "d3"] {
                    #expect(try await source.request("POST", "/v1/vms", body: Self.counter(name, memory: 1 << 30)).status == 201)
                    #expect(try await source.request("POST", "/v1/vms/\(name)/start").state == "running")
                }
                #expect(try await source.request("POST", "/v1/vms", body: Self.counter("parked")).status == 201)
                #expect(try await source.request("POST", "/v1/vms", body: Self.counter("late")).status == 201)

                let drain = try Subprocess(
                    [TestPaths.vmctl, "--socket", source.socket, "host", "drain", "--to", "\(hosts.address(1)),\(hosts.address(2))",
                     "--parallel", "2"], timeout: .seconds(120))
                #expect(try await eventually(seconds: 10) {
                    try await source.request("GET", "/v1/host").json["mode"] as? String == "draining"
                })
                let refused = try await source.request("POST", "/v1/vms/late/start")
                #expect(refused.status == 409 && refused.text.contains("draining"), "\(refused.text)")
                let result = try await drain.wait()
                #expect(result.status == 0, "\(result)")
                #expect(result.output.contains("host drained: no VM runs here"), "\(result)")

                let host = try await source.request("GET", "/v1/host").json
                #expect((host["vms"] as? [String: Any])?["running"] as? Int == 0)
                let targets = [hosts.hosts[1], hosts.hosts[2]]
                var placed: [Int] = []
                for target in targets {
                    placed.append(try await ["d1", "d2", "d3"].asyncCount { try await target.state($0) == "running" })
                }
                #expect(placed.reduce(0, +) == 3 && placed.allSatisfy { $0 >= 1 }, "spread over both: \(placed)")
                // Stopped VMs' definitions moved too (their files are at the same paths there).
                for name in ["parked", "late"] {
                    #expect(try await source.request("GET", "/v1/vms/\(name)").status == 404)
                    let there = try await targets.asyncCount { try await $0.state(name) == "stopped" }
                    #expect(there == 1, "\(name)")
                }
                // Draining a drained host again moves nothing and says so.
                let api = OpenAPIContract(source)
                let again = try await api.expect(200, "POST", "/v1/host/drain", body: #"{"to":["\#(hosts.address(1))"]}"#)
                #expect(again.body.contains(#""running":0"#), "\(again.body)")
                #expect(try await api.validate(against: DaemonTests.OpenAPIContractTests.spec).isEmpty)
                let show = try await Subprocess.run([TestPaths.vmctl, "--socket", source.socket, "host"])
                #expect(show.output.contains("mode:") && show.output.contains("draining"), "\(show)")
                #expect(try await Subprocess.run([TestPaths.vmctl, "--socket", source.socket, "host", "undrain"]).status == 0)
                #expect(try await source.request("POST", "/v1/vms", body: Self.counter("after")).status == 201)
                #expect(try await source.request("POST", "/v1/vms/after/start").state == "running")
            }
        }
    }
}

extension Sequence {
    /// How many elements satisfy `predicate`, checked one after another.
    func asyncCount(_ predicate: (Element) async throws -> Bool) async rethrows -> Int {
        var count = 0
        for element in self where try await predicate(element) { count += 1 }
        return count
    }
}
