import ClusterTestSupport
import Foundation
import Glibc
import Testing

/// Snapshots, restore and clones through the daemon, with the real vmm and the echo test
/// kernel: a line typed without its end (`abc`) is guest memory the guest keeps, so the
/// line it echoes after a restore shows which instant it came back to.
extension DaemonTests {
    /// Types `text` into VM `name`'s console (through vmctl).
    private func type(_ daemon: DaemonHarness, _ name: String, _ text: String) async throws {
        let session = try await Vmctl(daemon)("console", name, input: text, timeout: .seconds(30))
        #expect(session.status == 0, "\(session)")
    }

    private func consoleShows(_ daemon: DaemonHarness, _ name: String, _ text: String) async throws -> Bool {
        try await eventually(seconds: 10) { try await daemon.request("GET", "/v1/vms/\(name)/console").text.contains(text) }
    }

    private func startEcho(_ daemon: DaemonHarness, _ name: String, fields: String = "") async throws {
        let body = #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel("echo"))","memory":16777216\#(fields)}"#
        #expect(try await daemon.request("POST", "/v1/vms", body: body).status == 201)
        #expect(try await daemon.request("POST", "/v1/vms/\(name)/start").state == "running")
        #expect(try await consoleShows(daemon, name, "echo: ready"))
    }

    /// While a snapshot with a large disk copy is written, the VM's `operation` says so and
    /// counts the bytes written (what `vmctl snapshot create` shows on a terminal).
    @Test func aSnapshotBeingTakenReportsItsProgress() async throws {
        try await withDaemon { daemon in
            let image = "\(daemon.stateDirectory)/big.img"
            let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
            FileManager.default.createFile(atPath: image, contents: nil)
            let writer = try #require(FileHandle(forWritingAtPath: image))
            for _ in 0..<48 { writer.write(random.readData(ofLength: 4 << 20)) }
            try writer.close()
            try await startEcho(daemon, "big", fields: #","disks":[{"path":"\#(image)"}]"#)
            let socket = daemon.socket
            async let snapshot = ChildProcess.run([
                "/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "120", "--unix-socket", socket,
                "-X", "POST", "-H", "Content-Type: application/json", "-d", #"{"name":"slow"}"#,
                "http://localhost/v1/vms/big/snapshots",
            ])
            var largestSeen = 0
            let seen = try await eventually(seconds: 60) {
                let operation = try await daemon.request("GET", "/v1/vms/big").json["operation"] as? [String: Any]
                if let written = operation?["bytesWritten"] as? Int {
                    #expect(operation?["description"] as? String == "taking snapshot slow")
                    largestSeen = max(largestSeen, written)
                }
                return largestSeen > 0
            }
            #expect(seen, "no progress reported while the snapshot was taken")
            #expect(try await snapshot.output == "201")
            #expect(try await daemon.request("GET", "/v1/vms/big").json["operation"] == nil, "done: no operation left")
        }
    }

    @Test func snapshotsAreTakenListedAndSurviveADaemonRestart() async throws {
        try await withDaemon { daemon in
            try await startEcho(daemon, "web")
            let taken = try await daemon.request("POST", "/v1/vms/web/snapshots", body: #"{"name":"one"}"#)
            #expect(taken.status == 201, "\(taken.text)")
            #expect(taken.json["name"] as? String == "one" && taken.json["vm"] as? String == "web")
            #expect(taken.json["state"] as? String == "running" && taken.json["memoryOnly"] as? Bool == false)
            #expect((taken.json["bytes"] as? Int ?? 0) > 0 && taken.json["pausedMs"] is Double)
            let folder = "\(daemon.stateDirectory)/snapshots/web/one"
            #expect(taken.json["path"] as? String == folder)
            #expect(FileManager.default.fileExists(atPath: "\(folder)/snapshot.json"))
            #expect(try await daemon.state("web") == "running", "the VM carries on")

            #expect(try await daemon.request("POST", "/v1/vms/web/pause").state == "paused")
            let paused = try await daemon.request("POST", "/v1/vms/web/snapshots", body: #"{"name":"two","memoryOnly":true}"#)
            #expect(paused.status == 201, "\(paused.text)")
            #expect(paused.json["state"] as? String == "paused" && paused.json["memoryOnly"] as? Bool == true)
            #expect(try await daemon.state("web") == "paused", "a paused VM stays paused")

            let again = try await daemon.request("POST", "/v1/vms/web/snapshots", body: #"{"name":"one"}"#)
            #expect(again.status == 409 && again.text.contains("has a snapshot named one"), "\(again.text)")
            let bad = try await daemon.request("POST", "/v1/vms/web/snapshots", body: #"{"name":"../x"}"#)
            #expect(bad.status == 400, "\(bad.text)")

            // A new daemon lists them, in order.
            try await daemon.stopDaemon()
            try await daemon.start()
            let list = try await daemon.request("GET", "/v1/vms/web/snapshots")
            let names = (list.json["snapshots"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["one", "two"], "\(list.text)")
            #expect(try await daemon.request("GET", "/v1/vms/web/snapshots/two").json["memoryOnly"] as? Bool == true)

            #expect(try await daemon.request("DELETE", "/v1/vms/web/snapshots/two").status == 204)
            #expect(try await daemon.request("GET", "/v1/vms/web/snapshots/two").status == 404)
            #expect(!FileManager.default.fileExists(atPath: "\(daemon.stateDirectory)/snapshots/web/two"))

            // Stopped: no snapshot; deleting the VM deletes its snapshots.
            #expect(try await daemon.request("POST", "/v1/vms/web/kill").state == "stopped")
            let stopped = try await daemon.request("POST", "/v1/vms/web/snapshots", body: #"{"name":"three"}"#)
            #expect(stopped.status == 409 && stopped.text.contains("while it is stopped"), "\(stopped.text)")
            #expect(try await daemon.request("DELETE", "/v1/vms/web").status == 204)
            #expect(!FileManager.default.fileExists(atPath: "\(daemon.stateDirectory)/snapshots/web"))
        }
    }

    @Test func restoreGoesBackToTheSnapshotsInstant() async throws {
        try await withDaemon { daemon in
            try await startEcho(daemon, "back")
            let events = try Vmctl(daemon).background("events", "--json")
            #expect(try await daemon.awaitSubscription { events.outputSoFar }, "vmctl events is subscribed")

            try await type(daemon, "back", "abc")
            #expect(try await daemon.request("POST", "/v1/vms/back/snapshots", body: #"{"name":"mid"}"#).status == 201)
            try await type(daemon, "back", "def\n")
            #expect(try await consoleShows(daemon, "back", "echo: abcdef"))

            // Running: stopped and restored; the typed half line is back.
            let pid = try await daemon.pid("back")
            let restored = try await daemon.request("POST", "/v1/vms/back/restore", body: #"{"snapshot":"mid"}"#)
            #expect(restored.status == 200 && restored.state == "running", "\(restored.text)")
            #expect(try await daemon.pid("back") != pid, "a new vmm")
            try await type(daemon, "back", "xyz\n")
            #expect(try await consoleShows(daemon, "back", "echo: abcxyz"))

            // Stopped: restored and running again.
            #expect(try await daemon.request("POST", "/v1/vms/back/kill").state == "stopped")
            #expect(try await daemon.request("POST", "/v1/vms/back/restore", body: #"{"snapshot":"mid"}"#).state == "running")
            try await type(daemon, "back", "123\n")
            #expect(try await consoleShows(daemon, "back", "echo: abc123"))

            #expect(try await daemon.request("POST", "/v1/vms/back/restore", body: #"{"snapshot":"none"}"#).status == 404)
            #expect(try await eventually(seconds: 5) { events.outputSoFar.contains(#""event":"restored""#) })
            #expect(events.outputSoFar.contains(#""event":"snapshot-created""#), "\(events.outputSoFar)")
            events.signal()
        }
    }

    @Test func clonesAreDistinctMachinesBesideTheirSource() async throws {
        try await withDaemon { daemon in
            let image = "\(daemon.root)/data.raw", base = "\(daemon.root)/base.raw"
            #expect(FileManager.default.createFile(atPath: image, contents: Data(repeating: 7, count: 1 << 20)))
            #expect(FileManager.default.createFile(atPath: base, contents: Data(count: 1 << 20)))
            let devices = #","disks":[{"path":"\#(image)"},{"path":"\#(base)","readOnly":true}],"networks":[{"tap":"vmtap-src"}]"#
            // Cold: a stopped source's disks are copied, its NIC gets a new tap and MAC.
            #expect(try await daemon.request("POST", "/v1/vms", body: #"{"name":"src","kernel":"\#(TestPaths.kernel("echo"))","memory":16777216\#(devices)}"#).status == 201)
            let cold = try await daemon.request("POST", "/v1/vms/src/clone", body: #"{"name":"cold"}"#)
            #expect(cold.status == 201, "\(cold.text)")
            let definition = try #require(cold.json["definition"] as? [String: Any])
            let disks = definition["disks"] as? [[String: Any]] ?? []
            let copy = "\(daemon.stateDirectory)/disks/cold/disk0.img"
            #expect(disks.first?["path"] as? String == copy && disks.last?["path"] as? String == base, "\(cold.text)")
            #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: image))
            let nic = (definition["networks"] as? [[String: Any]])?.first
            let sourceNIC = ((try await daemon.request("GET", "/v1/vms/src").json["definition"] as? [String: Any])?["networks"] as? [[String: Any]])?.first
            #expect(nic?["tap"] == nil && nic?["mac"] as? String != nil && nic?["mac"] as? String != sourceNIC?["mac"] as? String)
            #expect(definition["restoreFrom"] == nil)
            #expect(try await daemon.request("POST", "/v1/vms/src/clone", body: #"{"name":"cold"}"#).status == 409)
            #expect(try await daemon.request("DELETE", "/v1/vms/cold").status == 204)
            #expect(!FileManager.default.fileExists(atPath: copy), "a clone's disk copies go with it")

            // From a snapshot of a running VM: two clones run beside the source, each from
            // the snapshot's instant.
            try await startEcho(daemon, "tpl")
            try await type(daemon, "tpl", "abc")
            #expect(try await daemon.request("POST", "/v1/vms/tpl/snapshots", body: #"{"name":"base"}"#).status == 201)
            for name in ["c1", "c2"] {
                let clone = try await daemon.request("POST", "/v1/vms/tpl/clone", body: #"{"name":"\#(name)","snapshot":"base","start":true}"#)
                #expect(clone.status == 201 && clone.state == "running", "\(clone.text)")
                try await type(daemon, name, "-\(name)\n")
                #expect(try await consoleShows(daemon, name, "echo: abc-\(name)"))
            }
            try await type(daemon, "tpl", "def\n")
            #expect(try await consoleShows(daemon, "tpl", "echo: abcdef"), "the source is untouched")

            // Without a snapshot, a running source is snapshotted for the clone; a clone not
            // started yet holds on to it.
            let later = try await daemon.request("POST", "/v1/vms/tpl/clone", body: #"{"name":"later"}"#)
            #expect(later.status == 201 && later.state == "stopped", "\(later.text)")
            let restoreFrom = (later.json["definition"] as? [String: Any])?["restoreFrom"] as? [String: Any]
            #expect(restoreFrom?["snapshot"] as? String == "clone-later" && restoreFrom?["automatic"] as? Bool == true)
            #expect(try await daemon.request("DELETE", "/v1/vms/tpl/snapshots/clone-later").status == 409)
            #expect(try await daemon.request("DELETE", "/v1/vms/tpl?force=true").status == 409)
            #expect(try await daemon.request("POST", "/v1/vms/later/start").state == "running")
            #expect((try await daemon.request("GET", "/v1/vms/later").json["definition"] as? [String: Any])?["restoreFrom"] == nil)
            #expect(try await daemon.request("GET", "/v1/vms/tpl/snapshots/clone-later").status == 404, "deleted after the start")
            try await type(daemon, "later", "!\n")
            #expect(try await consoleShows(daemon, "later", "echo: !"))
        }
    }

    @Test func vmctlTakesRestoresAndClones() async throws {
        try await withDaemon { daemon in
            let vmctl = Vmctl(daemon)
            try await startEcho(daemon, "cli")
            let created = try await vmctl("snapshot", "create", "cli", "s1")
            #expect(created.status == 0, "\(created)")
            #expect(created.output.hasPrefix("snapshot s1 of cli taken: ") && created.output.contains("paused"), "\(created)")
            #expect(try await vmctl("snapshot", "create", "cli", "s2", "--memory-only").output.contains("(memory only)"))
            let table = try await vmctl("snapshot", "list", "cli")
            #expect(table.output.hasPrefix("NAME") && table.output.contains("s1") && table.output.contains("s2"), "\(table)")
            let json = try await vmctl("snapshot", "list", "cli", "--json")
            let list = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
            #expect((list?["snapshots"] as? [Any])?.count == 2, "\(json)")

            #expect(try await vmctl("restore", "cli", "s1").output == "cli restored from snapshot s1\n")
            let clone = try await vmctl("clone", "cli", "twin", "--snapshot", "s1", "--start")
            #expect(clone.status == 0 && clone.output == "created twin, a clone of cli from snapshot s1; running\n", "\(clone)")
            #expect(try await vmctl.state("twin") == "running")
            #expect(try await vmctl("snapshot", "delete", "cli", "s2").output == "snapshot s2 of cli deleted\n")

            // Exit statuses: no such snapshot 5, a conflict 6, a bad name 2.
            let missing = try await vmctl("restore", "cli", "s2")
            #expect(missing.status == 5 && missing.error.contains("vmctl snapshot list"), "\(missing)")
            #expect(try await vmctl("snapshot", "create", "cli", "s1").status == 6)
            #expect(try await vmctl("clone", "cli", "twin").status == 6)
            #expect(try await vmctl("snapshot", "create", "cli", "Bad_Name").status == 2)
            #expect(try await vmctl("snapshot", "list", "ghost").status == 5)
        }
    }
}
