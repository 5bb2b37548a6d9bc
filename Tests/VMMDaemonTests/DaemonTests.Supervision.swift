import ClusterTestSupport
import Foundation
import Glibc
import Testing

extension DaemonTests {
    @Test func aKilledVMMLeavesOnlyItsVMCrashed() async throws {
        try await withDaemon { daemon in
            try await daemon.create("victim")
            try await daemon.create("bystander")
            #expect(try await daemon.request("POST", "/v1/vms/victim/start").state == "running")
            #expect(try await daemon.request("POST", "/v1/vms/bystander/start").state == "running")
            let pid = try #require(try await daemon.pid("victim"))
            kill(pid, SIGKILL)
            #expect(try await eventually(seconds: 10) { try await daemon.state("victim") == "crashed" })
            let info = try await daemon.request("GET", "/v1/vms/victim")
            #expect((info.json["lastExit"] as? String)?.contains("signal 9") == true)
            #expect(try await daemon.state("bystander") == "running")
            #expect(try await daemon.request("POST", "/v1/vms/bystander/pause").state == "paused")
            #expect(daemon.daemonIsRunning)
            // A crashed VM can be started again.
            #expect(try await daemon.request("POST", "/v1/vms/victim/start").state == "running")
        }
    }

    @Test func aVMMKilledByItsSeccompFilterIsCrashedWithTheForbiddenCall() async throws {
        // vmm's documented self-test: each vCPU thread makes one forbidden call (getppid).
        try await withDaemon(environment: ["VMM_SECCOMP_SELF_TEST": "vcpu"]) { daemon in
            try await daemon.create("filtered")
            _ = try await daemon.request("POST", "/v1/vms/filtered/start")
            #expect(try await eventually(seconds: 10) { try await daemon.state("filtered") == "crashed" })
            let lastExit = try await daemon.request("GET", "/v1/vms/filtered").json["lastExit"] as? String
            #expect(lastExit == "vmm killed by seccomp (SIGSYS): thread vcpu made forbidden system call getppid (110)",
                    "\(lastExit ?? "no lastExit")")
        }
    }

    @Test func aGuestThatEndsItselfIsStoppedAndOneThatFaultsIsCrashed() async throws {
        try await withDaemon { daemon in
            try await daemon.create("brief", kernel: "hello")
            try await daemon.create("faulty", kernel: "fault")
            for (name, expected) in [("brief", "stopped"), ("faulty", "crashed")] {
                let started = try await daemon.request("POST", "/v1/vms/\(name)/start")
                // A guest may end before its vmm answers the first status: that start fails
                // and, by design, leaves the VM crashed.
                let wanted = started.status == 200 ? expected : "crashed"
                #expect(try await eventually(seconds: 10) { try await daemon.state(name) == wanted }, "\(name)")
                let lastExit = try await daemon.request("GET", "/v1/vms/\(name)").json["lastExit"] as? String
                #expect(lastExit?.contains("\n") == false)
            }
            let lastExit = try await daemon.request("GET", "/v1/vms/faulty").json["lastExit"] as? String
            #expect(lastExit?.hasPrefix("crashed (status 4)") == true)
        }
    }

    @Test func runningVMsSurviveADaemonKillAndAreReadopted() async throws {
        try await withDaemon { daemon in
            try await daemon.create("survivor")
            try await daemon.create("sleeper", autostart: true)
            #expect(try await daemon.request("POST", "/v1/vms/survivor/start").state == "running")
            let pid = try #require(try await daemon.pid("survivor"))

            try await daemon.stopDaemon(signal: SIGKILL)
            #expect(!hasEnded(pid), "the vmm outlives its daemon")
            try await daemon.start()

            let info = try await daemon.request("GET", "/v1/vms/survivor")
            #expect(info.state == "running")
            #expect((info.json["pid"] as? NSNumber)?.int32Value == pid)
            #expect(try await daemon.request("POST", "/v1/vms/survivor/pause").state == "paused")
            #expect(try await daemon.request("POST", "/v1/vms/survivor/resume").state == "running")
            #expect(try await eventually(seconds: 10) {
                try await daemon.request("GET", "/v1/vms/survivor/console").text.contains("echo: ready")
            })
            #expect(try await eventually(seconds: 20) { try await daemon.state("sleeper") == "running" }, "autostart")
            #expect(try await daemon.request("POST", "/v1/vms/survivor/kill").state == "stopped")
        }
    }

    @Test func aSIGTERMedDaemonLeavesVMsRunning() async throws {
        try await withDaemon { daemon in
            try await daemon.create("steady")
            #expect(try await daemon.request("POST", "/v1/vms/steady/start").state == "running")
            let pid = try #require(try await daemon.pid("steady"))
            try await daemon.stopDaemon(signal: SIGTERM)
            try await Task.sleep(for: .milliseconds(300))
            #expect(!hasEnded(pid))
            try await daemon.start()
            #expect(try await daemon.state("steady") == "running")
        }
    }

    @Test func aVMThatEndedWhileTheDaemonWasAwayIsSettled() async throws {
        try await withDaemon { daemon in
            try await daemon.create("gone")
            #expect(try await daemon.request("POST", "/v1/vms/gone/start").state == "running")
            let pid = try #require(try await daemon.pid("gone"))
            try await daemon.stopDaemon(signal: SIGKILL)
            kill(pid, SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            try await daemon.start()
            #expect(try await daemon.state("gone") == "crashed")
            #expect(!FileManager.default.fileExists(atPath: "\(daemon.runtimeDirectory)/vms/gone/root/vmm.pid"))
        }
    }
}
