import ClusterTestSupport
import Foundation
import Glibc
import Testing
import VMMAPI

/// `GET /v1/vms/NAME/console/attach` switched by HTTP/1.1 Upgrade to a real VM's console:
/// the `echo` guest echoes each line it is sent.
extension DaemonTests {
    @Suite struct ConsoleAttachTests {
        @Test func clientsAttachTogetherAndTheDaemonOutlivesThem() async throws {
            try await DaemonTests().withDaemon { daemon in
                #expect(try await daemon.create("chat").status == 201)
                #expect(try await daemon.request("POST", "/v1/vms/chat/start").status == 200)
                let client = HTTPClient(socketPath: daemon.socket)
                let first = try await RawAPIConnection.attach(client, "chat")
                let second = try await RawAPIConnection.attachByHand(socket: daemon.socket, "chat")
                #expect(second.status == 101, "\(second.responseHead)")
                #expect(second.responseHead.lowercased().contains("upgrade: vmm-console"), "\(second.responseHead)")

                // Each starts with what the guest printed before (vmm's backlog), then live output.
                #expect(try await first.waitFor("echo: ready", seconds: 10), "\(first.text)")
                #expect(try await second.waitFor("echo: ready", seconds: 10), "\(second.text)")
                first.send("hello both\n")
                #expect(try await first.waitFor("echo: hello both", seconds: 10), "\(first.text)")
                #expect(try await second.waitFor("echo: hello both", seconds: 10), "\(second.text)")
                // The first to type holds the input; the other is told so.
                second.send("me too\n")
                #expect(try await second.waitFor("another client holds the console input", seconds: 10), "\(second.text)")

                // A client that dies without a word (a reset) harms neither the daemon nor the others.
                let rude = try await RawAPIConnection.attachByHand(socket: daemon.socket, "chat")
                rude.reset()
                #expect(try await daemon.request("GET", "/v1/vms/chat").state == "running")
                first.send("still here\n")
                #expect(try await second.waitFor("echo: still here", seconds: 10), "\(second.text)")

                // Past a loosened socket mode, an outsider asking to attach gets 403, not the console.
                if getuid() == 0 {
                    chmod(daemon.socket, 0o666)
                    let outsider = try await Subprocess.run([
                        "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/usr/bin/curl", "-s",
                        "--max-time", "20", "--unix-socket", daemon.socket, "-H", "Connection: Upgrade", "-H", "Upgrade: vmm-console",
                        "-o", "/dev/null", "-w", "%{http_code}", "http://localhost/v1/vms/chat/console/attach",
                    ])
                    chmod(daemon.socket, 0o660)
                    #expect(outsider.output == "403", "\(outsider)")
                }

                // The guest ends: every attachment is closed, and the VM is stopped.
                first.send("quit\n")
                #expect(try await first.waitForEnd(seconds: 10))
                #expect(try await second.waitForEnd(seconds: 10))
                #expect(first.text.contains("echo: bye"))
                #expect(try await eventually(seconds: 10) { try await daemon.state("chat") == "stopped" })

                // A stopped VM has no console: 409 saying so, unknown VMs 404.
                await #expect(throws: APIError(code: .conflict, message:
                    "VM chat is stopped, so it has no console to attach to (start it first; GET /v1/vms/chat/console returns what its last run printed)")) {
                    _ = try await RawAPIConnection.attach(client, "chat")
                }
                let refused = try await RawAPIConnection.attachByHand(socket: daemon.socket, "chat")
                #expect(refused.status == 409, "\(refused.text)")
                #expect(try await refused.waitFor("has no console to attach to", seconds: 5))
                await #expect(throws: APIError(code: .notFound, message: "no VM named ghost")) {
                    _ = try await RawAPIConnection.attach(client, "ghost")
                }
                // Without the Upgrade headers the route says what it needs.
                #expect(try await daemon.request("POST", "/v1/vms/chat/start").status == 200)
                let plain = try await daemon.request("GET", "/v1/vms/chat/console/attach")
                #expect(plain.status == 400 && plain.text.contains("Upgrade: vmm-console"), "\(plain.text)")
                #expect(daemon.log.contains("console of chat attached by uid 0"), "\(daemon.log)")
            }
        }
    }
}
