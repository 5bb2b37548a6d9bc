import ClusterTestSupport
import Foundation
import Testing

/// End-to-end tests of a real `vmmd` with real `vmm` processes and test kernels. They run
/// one at a time: each boots VMs, and the machines have two cores.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DaemonTests {
    /// Runs `body` against a fresh daemon (started with `arguments` more, through
    /// `wrapper`, listening with TLS too when `tls`) and always tears it down.
    func withDaemon(
        group: String = "kvm", environment: [String: String] = [:], arguments: [String] = [], wrapper: [String] = [],
        tls: Bool = false, _ body: (DaemonHarness) async throws -> Void
    ) async throws {
        let daemon = try DaemonHarness()
        daemon.arguments = arguments
        daemon.wrapper = wrapper
        do {
            if tls { try await daemon.enableTLS() }
            try await daemon.start(group: group, environment: environment)
            try await body(daemon)
        } catch {
            Issue.record("vmmd log:\n\(daemon.log)")
            await daemon.tearDown()
            throw error
        }
        await daemon.tearDown()
    }

    @Test func lifecycleFromCreateToDelete() async throws {
        try await withDaemon { daemon in
            let created = try await daemon.create("web-1")
            #expect(created.status == 201)
            #expect(created.state == "stopped")

            let list = try await daemon.request("GET", "/v1/vms")
            #expect(list.status == 200)
            #expect((list.json["vms"] as? [Any])?.count == 1)

            let started = try await daemon.request("POST", "/v1/vms/web-1/start")
            #expect(started.status == 200)
            #expect(started.state == "running")
            #expect(started.json["pid"] != nil)
            let ready = try await eventually(seconds: 10) {
                try await daemon.request("GET", "/v1/vms/web-1/console").text.contains("echo: ready")
            }
            #expect(ready)

            #expect(try await daemon.request("POST", "/v1/vms/web-1/pause").state == "paused")
            #expect(try await daemon.request("POST", "/v1/vms/web-1/resume").state == "running")
            #expect(try await daemon.request("POST", "/v1/vms/web-1/reboot").state == "running")

            let stopped = try await daemon.request("POST", "/v1/vms/web-1/stop", body: #"{"force":true}"#)
            #expect(stopped.status == 200)
            #expect(stopped.state == "stopped")
            #expect(stopped.json["pid"] == nil)

            #expect(try await daemon.request("DELETE", "/v1/vms/web-1").status == 204)
            #expect(try await daemon.request("GET", "/v1/vms/web-1").status == 404)
            #expect(!FileManager.default.fileExists(atPath: "\(daemon.stateDirectory)/vms/web-1.json"))
        }
    }

    @Test func gracefulStopPressesThePowerButton() async throws {
        try await withDaemon { daemon in
            try await daemon.create("button", kernel: "power-button")
            #expect(try await daemon.request("POST", "/v1/vms/button/start").state == "running")
            // A button pressed before the guest enabled it is lost, as on hardware.
            #expect(try await eventually(seconds: 10) {
                try await daemon.request("GET", "/v1/vms/button/console").text.contains("power-button: waiting")
            })
            let stopped = try await daemon.request("POST", "/v1/vms/button/stop", body: #"{"timeout":20}"#)
            #expect(stopped.state == "stopped")
            #expect((stopped.json["lastExit"] as? String)?.hasPrefix("poweroff") == true)
        }
    }

    @Test func gracefulStopForcesAfterTheTimeout() async throws {
        try await withDaemon { daemon in
            try await daemon.create("stubborn")
            #expect(try await daemon.request("POST", "/v1/vms/stubborn/start").state == "running")
            let begin = ContinuousClock.now
            let stopped = try await daemon.request("POST", "/v1/vms/stubborn/stop", body: #"{"timeout":1}"#)
            #expect(stopped.state == "stopped")
            #expect(ContinuousClock.now - begin < .seconds(10))
        }
    }

    @Test func illegalTransitionsAreConflicts() async throws {
        try await withDaemon { daemon in
            try await daemon.create("vm")
            for action in ["pause", "resume", "stop", "reboot", "kill"] {
                let result = try await daemon.request("POST", "/v1/vms/vm/\(action)")
                #expect(result.status == 409, "\(action) while stopped")
                #expect(result.errorCode == "conflict")
            }
            #expect(try await daemon.request("POST", "/v1/vms/vm/start").state == "running")
            let again = try await daemon.request("POST", "/v1/vms/vm/start")
            #expect(again.status == 409)
            #expect((again.json["error"] as? [String: Any])?["message"] as? String == "cannot start VM vm while it is running")
            #expect(try await daemon.request("POST", "/v1/vms/vm/resume").status == 409)
            #expect(try await daemon.request("PATCH", "/v1/vms/vm", body: #"{"cpus":2}"#).status == 409)
            #expect(try await daemon.request("DELETE", "/v1/vms/vm").status == 409)
            #expect(try await daemon.state("vm") == "running")

            #expect(try await daemon.request("DELETE", "/v1/vms/vm?force=true").status == 204)
            #expect(try await daemon.request("GET", "/v1/vms/vm").status == 404)
        }
    }

    @Test func patchChangesAStoppedDefinition() async throws {
        try await withDaemon { daemon in
            try await daemon.create("vm")
            let patched = try await daemon.request("PATCH", "/v1/vms/vm", body: #"{"cpus":2,"cmdline":"x=1"}"#)
            #expect(patched.status == 200)
            let definition = patched.json["definition"] as? [String: Any]
            #expect(definition?["cpus"] as? Int == 2)
            #expect(definition?["cmdline"] as? String == "x=1")
            #expect(try await daemon.request("PATCH", "/v1/vms/vm", body: #"{"memory":1024}"#).status == 422)
            #expect(try await daemon.request("PATCH", "/v1/vms/vm", body: #"{"name":"other"}"#).status == 400)
        }
    }

    @Test func haSettingsAreStoredOnASingleHostToo() async throws {
        try await withDaemon { daemon in
            let kernel = TestPaths.kernel("echo")
            let created = try await daemon.request("POST", "/v1/vms", body: #"{"name":"vm","kernel":"\#(kernel)","ha":true,"haPriority":5}"#)
            #expect(created.status == 201, "\(created.text)")
            let definition = created.json["definition"] as? [String: Any]
            #expect(definition?["ha"] as? Bool == true && definition?["haPriority"] as? Int == 5)
            let patched = try await daemon.request("PATCH", "/v1/vms/vm", body: #"{"ha":false,"haPriority":-3}"#)
            let after = patched.json["definition"] as? [String: Any]
            #expect(after?["ha"] as? Bool == false && after?["haPriority"] as? Int == -3, "\(patched.text)")
            let stored = try String(contentsOfFile: "\(daemon.stateDirectory)/vms/vm.json", encoding: .utf8)
            #expect(stored.contains(#""haPriority" : -3"#), "\(stored)")
            let tooHigh = try await daemon.request("PATCH", "/v1/vms/vm", body: #"{"haPriority":1001}"#)
            #expect(tooHigh.status == 422)
            #expect(tooHigh.text.contains("haPriority must be -1000 to 1000"), "\(tooHigh.text)")
            // Placement on a host is a cluster's business.
            let pinned = try await daemon.request("POST", "/v1/vms", body: #"{"name":"other","kernel":"\#(kernel)","host":"a"}"#)
            #expect(pinned.status == 400)
            #expect(pinned.text.contains("this vmmd is not in one"), "\(pinned.text)")
        }
    }
}
