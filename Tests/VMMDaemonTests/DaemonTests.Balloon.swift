import ClusterTestSupport
import Foundation
import Testing
import VMMAPI
@testable import VMMDaemon

extension DaemonTests {
    private func balloonDefinition(_ name: String, _ balloon: String) -> String {
        #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel("balloon"))","memory":134217728,"cmdline":"pages=2048","balloon":\#(balloon)}"#
    }

    /// A running VM takes a new balloon target from PATCH and from `vmctl set`; its guest's
    /// driver (the `balloon` test kernel) follows, and info shows what it holds and reports.
    @Test func aRunningVMTakesANewBalloonTarget() async throws {
        try await withDaemon { daemon in
            #expect(try await daemon.request("POST", "/v1/vms", body: balloonDefinition("big", #"{"target":268435456}"#)).status == 422)
            let unknown = try await daemon.request("POST", "/v1/vms", body: balloonDefinition("odd", #"{"size":1}"#))
            #expect(unknown.status == 400 && unknown.text.contains("unknown field(s) in balloon: size"), "\(unknown.text)")
            let created = try await daemon.request("POST", "/v1/vms", body: balloonDefinition("bal", "{}"))
            #expect(created.status == 201, "\(created.text)")
            let defined = try JSONDecoder().decode(VMInfo.self, from: created.body).definition.balloon
            #expect(defined == VMBalloon(target: 0, deflateOnOOM: true, freePageReporting: true))

            #expect(try await daemon.request("POST", "/v1/vms/bal/start").status == 200)
            #expect(try await eventually(seconds: 30) {
                try await daemon.request("GET", "/v1/vms/bal/console").text.contains("balloon: touched 2048")
            })
            let patched = try await daemon.request("PATCH", "/v1/vms/bal", body: #"{"balloon":{"target":8388608}}"#)
            #expect(patched.status == 200, "\(patched.text)")
            #expect(try JSONDecoder().decode(VMInfo.self, from: patched.body).definition.balloon?.target == 8 << 20)
            #expect(try await eventually(seconds: 30) {
                let info = try JSONDecoder().decode(VMInfo.self, from: try await daemon.request("GET", "/v1/vms/bal").body)
                return info.balloon?.actual == 8 << 20 && info.balloon?.inflated == 8 << 20
                    && info.balloon?.guestTotalMemory == 128 << 20 && info.balloon?.guestFreeMemory == 12345 * 4096
            }, "the guest did not follow the new target")

            #expect(try await daemon.request("PATCH", "/v1/vms/bal", body: #"{"cpus":2}"#).status == 409)
            #expect(try await daemon.request("PATCH", "/v1/vms/bal", body: #"{"balloon":{"target":8388608,"deflateOnOOM":false}}"#).status == 409)
            #expect(try await daemon.request("PATCH", "/v1/vms/bal", body: #"{"balloon":{"target":268435456}}"#).status == 422)

            let vmctl = Vmctl(daemon)
            let set = try await vmctl("set", "bal", "--balloon", "4M")
            #expect(set.status == 0 && set.output.contains("bal: balloon target 4M"), "\(set)")
            let followed = try await eventually(seconds: 30) {
                let info = try await vmctl("info", "bal")
                return info.output.contains("4M of 4M target") && info.output.contains("guest memory:")
            }
            let info = try await vmctl("info", "bal")
            #expect(followed, "\(info)")
            #expect(info.output.contains("balloon:      target 4M, deflate-on-oom, free-page-reporting"), "\(info)")
            #expect(try await vmctl("set", "bal", "--balloon", "lots").status == 2)
            let fromCLI = try await vmctl(
                "create", "cli", "--kernel", TestPaths.kernel("balloon"), "--memory", "64M", "--balloon", "16M,free-page-reporting=off")
            #expect(fromCLI.status == 0, "\(fromCLI)")
            #expect(try await vmctl("info", "cli").output.contains("balloon:   target 16M, deflate-on-oom\n"))
            #expect(try await vmctl("create", "cli2", "--kernel", TestPaths.kernel("balloon"), "--balloon", "1M,stats=3").status == 2)

            #expect(try await daemon.request("POST", "/v1/vms/bal/kill").status == 200)
            let stored = try JSONDecoder().decode(
                VMDefinition.self, from: Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDirectory)/vms/bal.json")))
            #expect(stored.balloon?.target == 4 << 20, "the definition keeps the last target")

            // A VM without a balloon: 409 while it runs, a new balloon while it is stopped.
            #expect(try await daemon.create("plain").status == 201)
            #expect(try await daemon.request("POST", "/v1/vms/plain/start").status == 200)
            let none = try await daemon.request("PATCH", "/v1/vms/plain", body: #"{"balloon":{"target":0}}"#)
            #expect(none.status == 409 && none.text.contains("no balloon"), "\(none.text)")
            #expect(try await daemon.request("POST", "/v1/vms/plain/kill").status == 200)
            let added = try await daemon.request("PATCH", "/v1/vms/plain", body: #"{"balloon":{"freePageReporting":false}}"#)
            #expect(try JSONDecoder().decode(VMInfo.self, from: added.body).definition.balloon
                == VMBalloon(target: 0, deflateOnOOM: true, freePageReporting: false), "\(added.text)")
        }
    }

    @Test func theVMMCommandLineCarriesTheBalloon() throws {
        let launcher = VMMLauncher(executable: "/usr/bin/vmm")
        let definition = VMDefinition(
            name: "web", kernel: "/k", balloon: VMBalloon(target: 16 << 20, freePageReporting: false))
        let arguments = try launcher.arguments(for: definition, in: RuntimeDirectory(path: "/run/vmm/vms/web"))
        let pairs = zip(arguments, arguments.dropFirst()).map { "\($0) \($1)" }
        #expect(pairs.contains("--balloon 16M,free-page-reporting=off"), "\(arguments)")
        #expect(try !launcher.arguments(for: VMDefinition(name: "a", kernel: "/k"), in: RuntimeDirectory(path: "/r")).contains("--balloon"))
    }
}
