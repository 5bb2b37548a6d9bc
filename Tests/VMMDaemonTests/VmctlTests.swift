import ClusterTestSupport
import Foundation
import Glibc
import Testing

extension TestPaths {
    /// The vmctl binary under test (`VMCTL_BINARY` overrides).
    static var vmctl: String {
        ProcessInfo.processInfo.environment["VMCTL_BINARY"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(packageRoot)/.build/debug/vmctl"
    }
}

/// Runs the real vmctl against a daemon's socket and runtime folder.
struct Vmctl {
    let socket: String
    let runtimeDirectory: String
    /// Options put before every command (e.g. --connect and the TLS files).
    var options: [String] = []
    /// Variables added to vmctl's environment.
    var extraEnvironment: [String: String] = [:]

    init(_ daemon: DaemonHarness) {
        socket = daemon.socket
        runtimeDirectory = daemon.runtimeDirectory
    }

    init(socket: String, runtimeDirectory: String) {
        self.socket = socket
        self.runtimeDirectory = runtimeDirectory
    }

    var environment: [String: String] {
        ["VMM_SOCKET": socket, "VMM_RUNTIME_DIR": runtimeDirectory].merging(extraEnvironment) { $1 }
    }

    /// `vmctl arguments...`, to its end.
    @discardableResult
    func callAsFunction(
        _ arguments: String..., input: String? = nil, directory: String? = nil, timeout: Duration = .seconds(60)
    ) async throws -> Subprocess.Result {
        try await Subprocess.run(
            [TestPaths.vmctl] + options + arguments, input: input.map { Data($0.utf8) }, environment: environment,
            directory: directory, timeout: timeout)
    }

    /// `vmctl arguments...` left running (e.g. `events`).
    func background(_ arguments: String..., timeout: Duration = .seconds(60)) throws -> Subprocess {
        try Subprocess([TestPaths.vmctl] + options + arguments, environment: environment, timeout: timeout)
    }

    /// `vmctl info NAME --json`, decoded; nil if vmctl failed.
    func info(_ name: String) async throws -> [String: Any]? {
        let result = try await self("info", name, "--json")
        guard result.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
    }

    func state(_ name: String) async throws -> String? {
        try await info(name)?["state"] as? String
    }

    /// `vmctl list --json`'s VMs; nil if vmctl failed or printed something else.
    func list() async throws -> [[String: Any]]? {
        let result = try await self("list", "--json")
        guard result.status == 0 else { return nil }
        return (try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])?["vms"] as? [[String: Any]]
    }
}

/// The real vmctl binary against a real vmmd: output, JSON, exit statuses, console,
/// events and the socket's permissions.
extension DaemonTests {
    @Suite struct VmctlTests {
        @Test func vmctlDrivesAVMFromCreateToDelete() async throws {
            try await DaemonTests().withDaemon { daemon in
                let vmctl = Vmctl(daemon)
                // A relative kernel path, resolved against vmctl's working folder.
                let created = try await vmctl(
                    "create", "button", "--kernel", "power-button.elf", "--memory", "32M", "--cmdline", "quiet",
                    directory: TestPaths.guests)
                #expect(created.status == 0, "\(created)")
                #expect(created.output == "created button\n")

                let table = try await vmctl("list")
                #expect(table.status == 0, "\(table)")
                let rows = table.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
                #expect(rows.first == ["NAME", "STATE", "CPUS", "MEMORY", "AUTOSTART"], "\(table.output)")
                #expect(rows.dropFirst().first == ["button", "stopped", "1", "32M", "no"], "\(table.output)")

                let listed = try await vmctl("list", "--json")
                #expect(listed.status == 0, "\(listed)")
                let list = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any]
                let vms = try #require(list?["vms"] as? [[String: Any]], "\(listed.output)")
                #expect(vms.count == 1)
                #expect(vms.first?["state"] as? String == "stopped")

                let info = try #require(try await vmctl.info("button"))
                #expect(info["state"] as? String == "stopped")
                let definition = info["definition"] as? [String: Any]
                #expect(definition?["kernel"] as? String == TestPaths.kernel("power-button"), "the daemon got an absolute path")
                #expect(definition?["memory"] as? Int == 32 << 20)
                #expect(definition?["cmdline"] as? String == "quiet")
                let text = try await vmctl("info", "button")
                #expect(text.output.contains("kernel:") && text.output.contains(TestPaths.kernel("power-button")), "\(text)")

                let events = try vmctl.background("events", "--json")
                #expect(try await daemon.awaitSubscription { events.outputSoFar }, "vmctl events is subscribed")

                let started = try await vmctl("start", "button")
                #expect(started.status == 0, "\(started)")
                #expect(started.output == "button started\n")
                #expect(try await vmctl.state("button") == "running")
                #expect((try await vmctl.info("button"))?["pid"] as? Int != nil)

                #expect(try await vmctl("pause", "button").output == "button paused\n")
                #expect(try await vmctl.state("button") == "paused")
                #expect(try await vmctl("resume", "button").output == "button resumed\n")
                #expect(try await vmctl.state("button") == "running")

                // Graceful: the power-button guest powers off when the button is pressed
                // (once it has enabled the button: an earlier press is lost, as on hardware).
                #expect(try await eventually(seconds: 10) {
                    try await vmctl("console", "button", "--log").output.contains("power-button: waiting")
                })
                let stopped = try await vmctl("stop", "button", "--timeout", "20")
                #expect(stopped.status == 0, "\(stopped)")
                #expect(stopped.output == "button stopped\n")
                let after = try #require(try await vmctl.info("button"))
                #expect(after["state"] as? String == "stopped")
                #expect((after["lastExit"] as? String)?.hasPrefix("poweroff") == true, "\(after)")
                #expect(after["pid"] == nil)

                func changes(_ output: String) -> [(String?, String)] {
                    output.split(separator: "\n").compactMap { line -> (String?, String)? in
                        guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                              event["vm"] as? String == "button", let state = event["state"] as? String else { return nil }
                        return (event["previous"] as? String, state)
                    }
                }
                #expect(try await eventually(seconds: 5) { changes(events.outputSoFar).last?.1 == "stopped" })
                // SIGKILL: children of the test process start with its threads' blocked signals.
                events.signal(SIGKILL)
                let streamed = try await events.wait()
                let changes = changes(streamed.output)
                let expected: [(String?, String)] = [
                    ("stopped", "starting"), ("starting", "running"), ("running", "paused"), ("paused", "running"),
                    ("running", "stopping"), ("stopping", "stopped"),
                ]
                #expect(changes.map(\.0) == expected.map(\.0), "\(streamed.output)")
                #expect(changes.map(\.1) == expected.map(\.1), "\(streamed.output)")

                let deleted = try await vmctl("delete", "button")
                #expect(deleted.status == 0, "\(deleted)")
                #expect(deleted.output == "button deleted\n")
                #expect(try await vmctl("info", "button").status == 5)
                #expect(try await vmctl.list()?.isEmpty == true, "an empty list")
            }
        }

        @Test func exitStatusesTellFailuresApart() async throws {
            // No daemon: the socket does not exist.
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vmctl-none-\(UUID().uuidString.prefix(8))").path
            let absent = Vmctl(socket: "\(folder)/vmmd.sock", runtimeDirectory: folder)
            for arguments in [["list"], ["info", "x"], ["start", "x"], ["host"]] {
                let result = try await Subprocess.run([TestPaths.vmctl] + arguments, environment: absent.environment)
                #expect(result.status == 3, "\(arguments): \(result)")
                #expect(result.error.contains("cannot reach vmmd"), "\(result)")
            }

            try await DaemonTests().withDaemon { daemon in
                let vmctl = Vmctl(daemon)
                for arguments in [["info", "ghost"], ["start", "ghost"], ["stop", "ghost"], ["delete", "ghost"], ["console", "ghost", "--log"]] {
                    let result = try await Subprocess.run([TestPaths.vmctl] + arguments, environment: vmctl.environment)
                    #expect(result.status == 5, "\(arguments): \(result)")
                    #expect(result.error.contains("no VM named ghost"), "\(result)")
                }

                let kernel = TestPaths.kernel("echo")
                let missing = try await vmctl("create", "vm", "--kernel", "/nonexistent/vmlinux")
                #expect(missing.status == 7, "\(missing)")
                #expect(missing.error.contains("/nonexistent/vmlinux"), "\(missing)")
                for memory in ["lots", "0", "12Q", "-1M"] {
                    let bad = try await vmctl("create", "vm", "--kernel", kernel, "--memory=\(memory)")
                    #expect(bad.status == 2, "--memory \(memory): \(bad)")
                }
                #expect(try await vmctl("create", "Bad_Name", "--kernel", kernel).status == 2)
                #expect(try await vmctl("info", "--json").status == 2, "a missing name")
                #expect(try await vmctl.list()?.isEmpty == true, "nothing was created")

                #expect(try await vmctl("create", "vm", "--kernel", kernel, "--memory", "32M").status == 0)
                #expect(try await vmctl("create", "vm", "--kernel", kernel).status == 6, "a duplicate")
                #expect(try await vmctl("pause", "vm").status == 6, "pause a stopped VM")
                #expect(try await vmctl("console", "vm").status == 6, "attach to a stopped VM")
                #expect(try await vmctl("start", "vm").status == 0)
                let again = try await vmctl("start", "vm")
                #expect(again.status == 6, "\(again)")
                #expect(again.error.contains("cannot start VM vm while it is running"), "\(again)")
                #expect(try await vmctl("delete", "vm").status == 6)
                #expect(try await vmctl("delete", "vm", "--force").status == 0)
                #expect(try await vmctl("info", "vm").status == 5)
            }
        }

        @Test func consoleFromAPipeAndTheLog() async throws {
            try await DaemonTests().withDaemon { daemon in
                let vmctl = Vmctl(daemon)
                #expect(try await vmctl("create", "talker", "--kernel", TestPaths.kernel("echo"), "--memory", "32M").status == 0)
                #expect(try await vmctl("start", "talker").status == 0)
                #expect(try await eventually(seconds: 10) {
                    try await vmctl("console", "talker", "--log").output.contains("echo: ready")
                }, "console --log shows the guest's first line")

                let session = try await vmctl("console", "talker", input: "hello\n", timeout: .seconds(30))
                #expect(session.status == 0, "\(session)")
                #expect(session.output.contains("echo: hello"), "\(session)")
                #expect(!session.error.contains("Ctrl-]"), "not interactive from a pipe")
                #expect(try await eventually(seconds: 5) {
                    try await vmctl("console", "talker", "--log").output.contains("echo: hello")
                }, "the log has the exchange too")
                #expect(try await vmctl.state("talker") == "running", "ending the session leaves the VM running")

                // The guest ends while attached: vmctl says so and succeeds (the VM stopped, not crashed).
                let last = try await vmctl("console", "talker", input: "quit\n", timeout: .seconds(30))
                #expect(last.status == 0, "\(last)")
                #expect(last.output.contains("echo: bye"), "\(last)")
                #expect(last.error.contains("console closed: talker stopped"), "\(last)")
            }
        }

        @Test(.enabled(if: getuid() == 0, "needs root to run vmctl as another user"))
        func anOutsiderIsRefusedTheSocket() async throws {
            // A folder nobody can reach, whatever the checkout's permissions are.
            let folder = NSTemporaryDirectory() + "vmctl-access-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let binary = folder + "/vmctl"
            try FileManager.default.copyItem(atPath: TestPaths.vmctl, toPath: binary)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary)

            try await DaemonTests().withDaemon { daemon in
                let vmctl = Vmctl(daemon)
                #expect(try await vmctl("list").status == 0, "root gets in")
                let outsider = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary]
                for arguments in [["list"], ["info", "x"], ["host", "--json"]] {
                    let refused = try await Subprocess.run(outsider + arguments, environment: vmctl.environment)
                    #expect(refused.status == 4, "\(arguments): \(refused)")
                    #expect(refused.error.contains("permission denied"), "\(refused)")
                }
            }
        }

        @Test func twentyVMsStartedByParallelClientsAllRun() async throws {
            try await DaemonTests().withDaemon { daemon in
                let vmctl = Vmctl(daemon)
                let names = (1...20).map { String(format: "par-%02d", $0) }
                let kernel = TestPaths.kernel("echo")
                let begin = ContinuousClock.now
                let results = try await withThrowingTaskGroup(of: (String, Subprocess.Result, Subprocess.Result).self) { group in
                    for name in names {
                        group.addTask {
                            let created = try await vmctl("create", name, "--kernel", kernel, "--cpus", "1", "--memory", "32M")
                            let started = try await vmctl("start", name, timeout: .seconds(90))
                            return (name, created, started)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                for (name, created, started) in results {
                    #expect(created.status == 0, "create \(name): \(created)")
                    #expect(started.status == 0, "start \(name): \(started)")
                }

                let listed = try await vmctl("list", "--json")
                let list = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any]
                let vms = try #require(list?["vms"] as? [[String: Any]], "\(listed)")
                let states = Dictionary(uniqueKeysWithValues: vms.map {
                    (($0["definition"] as? [String: Any])?["name"] as? String ?? "", $0["state"] as? String ?? "")
                })
                #expect(states == Dictionary(uniqueKeysWithValues: names.map { ($0, "running") }), "\(listed.output)")
                let pids = Set(vms.compactMap { ($0["pid"] as? NSNumber)?.int32Value })
                #expect(pids.count == 20, "twenty distinct vmm processes")
                let host = try await daemon.request("GET", "/v1/host")
                #expect((host.json["vms"] as? [String: Any])?["running"] as? Int == 20)

                let removed = try await withThrowingTaskGroup(of: Subprocess.Result.self) { group in
                    for name in names {
                        group.addTask { try await vmctl("delete", name, "--force") }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(removed.allSatisfy { $0.status == 0 }, "\(removed.filter { $0.status != 0 })")
                #expect(try await vmctl.list()?.isEmpty == true)
                #expect(try await eventually(seconds: 10) { pids.allSatisfy { hasEnded($0) } }, "every vmm ended")
                #expect(ContinuousClock.now - begin < .seconds(120))
            }
        }
    }
}
