import ClusterTestSupport
import Foundation
import Testing
import VMMAPI

/// The API on TCP with mutual TLS: certificates from scripts/make-certificates.sh, a real
/// vmmd listening on 127.0.0.1, driven by vmctl --connect, the VMMAPI client and curl.
extension DaemonTests {
    @Suite struct TLSTests {
        /// Runs `body` against a fresh daemon listening with TLS too; always tears it down.
        func withTLSDaemon(_ body: (DaemonHarness, DaemonTLS) async throws -> Void) async throws {
            let daemon = try DaemonHarness()
            do {
                let tls = try await daemon.enableTLS()
                try await daemon.start()
                try await body(daemon, tls)
            } catch {
                Issue.record("vmmd log:\n\(daemon.log)")
                await daemon.tearDown()
                throw error
            }
            await daemon.tearDown()
        }

        @Test func aCertifiedClientDrivesTheDaemonRemotely() async throws {
            try await withTLSDaemon { daemon, tls in
                var vmctl = Vmctl(daemon)
                vmctl.options = tls.vmctlArguments()
                let created = try await vmctl("create", "far", "--kernel", TestPaths.kernel("echo"), "--memory", "16M")
                #expect(created.status == 0, "\(created)")
                #expect(try await vmctl("start", "far").status == 0)
                #expect(try await vmctl.state("far") == "running")
                let ready = try await eventually(seconds: 10) {
                    try await vmctl("console", "far", "--log").output.contains("echo: ready")
                }
                #expect(ready)

                // The console attaches over TLS as it does locally (the API's Upgrade route).
                let attach = try await vmctl("console", "far", input: "over tls\n", timeout: .seconds(30))
                #expect(attach.status == 0, "\(attach)")
                #expect(attach.output.contains("echo: over tls"), "\(attach)")
                #expect(daemon.log.contains("console of far attached by CN=admin at 127.0.0.1:"), "\(daemon.log)")

                // The same daemon through VMMAPI's client, as peer daemons call each other.
                let client = try HTTPClient(endpoint: .https(url: tls.url, tls: tls.clientFiles()))
                let list = try await client.get("/v1/vms", as: VMList.self)
                #expect(list.vms.map(\.definition.name) == ["far"])
                #expect(try await client.post("/v1/vms/far/stop", body: VMStopRequest(force: true), as: VMInfo.self).state == .stopped)

                // The environment variables work as the options do, and the socket still serves.
                var fromEnvironment = Vmctl(daemon)
                fromEnvironment.extraEnvironment = [
                    "VMCTL_CONNECT": tls.url, "VMCTL_TLS_CERT": "\(tls.directory)/admin.crt",
                    "VMCTL_TLS_KEY": "\(tls.directory)/admin.key", "VMCTL_TLS_CA": "\(tls.directory)/ca.crt",
                ]
                #expect(try await fromEnvironment("delete", "far").status == 0)
                #expect(try await daemon.request("GET", "/v1/vms").json["vms"] as? [Any] != nil)
                #expect(try await daemon.request("GET", "/v1/vms/far").status == 404)
                // The request's line names the peer's certificate and address.
                #expect(daemon.log.split(separator: "\n").contains {
                    $0.contains("CN=admin at 127.0.0.1:") && $0.contains(": POST /v1/vms/far/start 200 ")
                })
            }
        }

        @Test func strangersGetNoHTTPAnswer() async throws {
            try await withTLSDaemon { daemon, tls in
                let strangers = try await Self.otherCA(daemon)
                let noCertificate = try await daemon.httpsRequest("GET", "/v1/vms", client: nil)
                let otherCA = try await daemon.httpsRequest("GET", "/v1/vms", client: "admin", certificates: strangers)
                let plainHTTP = try await daemon.httpsRequest("GET", "/v1/vms", plain: true)
                #expect(noCertificate.status == 0 && otherCA.status == 0 && plainHTTP.status == 0)

                // vmctl and the client say the handshake failed, and vmctl exits 4.
                var vmctl = Vmctl(daemon)
                vmctl.options = tls.vmctlArguments(certificates: strangers)
                let refused = try await vmctl("list")
                #expect(refused.status == 4, "\(refused)")
                #expect(refused.error.contains("vmmd refused this client's certificate"), "\(refused)")
                let client = try HTTPClient(endpoint: .https(url: tls.url, tls: tls.clientFiles(certificates: strangers)))
                let error = await #expect(throws: HTTPClientError.self) { try await client.get("/v1/vms", as: VMList.self) }
                #expect(error.map { "\($0)" }?.contains("vmmd refused this client's certificate") == true, "\(String(describing: error))")

                // The daemon logged each refusal with the peer's address and why.
                let logged = try await eventually(seconds: 5) {
                    let log = daemon.log
                    return log.contains("presented no client certificate") && log.contains("not signed by the CA")
                        && log.contains("plain HTTP")
                }
                #expect(logged, "\(daemon.log)")
                #expect(daemon.log.contains("refused TLS connection from 127.0.0.1:"))
            }
        }

        @Test func clientsCheckTheDaemonsCertificate() async throws {
            try await withTLSDaemon { daemon, tls in
                // The daemon's certificate names localhost, not 127.0.0.1.
                let misnamed = try HTTPClient(endpoint: .https(
                    url: "https://127.0.0.1:\(tls.port)", tls: tls.clientFiles()))
                await #expect(throws: HTTPClientError.tlsFailed(
                    endpoint: "https://127.0.0.1:\(tls.port)", reason: "vmmd's certificate does not name the host in the address")) {
                    try await misnamed.get("/v1/vms", as: VMList.self)
                }
                // A client that trusts another CA does not trust this daemon.
                let strangers = try await Self.otherCA(daemon)
                let distrustful = try HTTPClient(endpoint: .https(
                    url: tls.url, tls: TLSFiles(
                        certificate: "\(tls.directory)/admin.crt", key: "\(tls.directory)/admin.key",
                        certificateAuthority: "\(strangers)/ca.crt")))
                await #expect(throws: HTTPClientError.tlsFailed(
                    endpoint: tls.url, reason: "vmmd's certificate is not signed by the CA (--tls-ca) or has expired")) {
                    try await distrustful.get("/v1/vms", as: VMList.self)
                }
            }
        }

        @Test func badTLSOptionsStopTheDaemonAtStart() async throws {
            let daemon = try DaemonHarness()
            let tls = try await daemon.enableTLS()
            let strangers = try await Self.otherCA(daemon)
            let base = [
                TestPaths.vmmd, "--socket", daemon.socket, "--state-dir", daemon.stateDirectory,
                "--runtime-dir", daemon.runtimeDirectory, "--vmm", TestPaths.vmm,
            ]
            let listen = ["--listen", "127.0.0.1:\(tls.port)"]
            let files = (cert: "\(tls.directory)/localhost.crt", key: "\(tls.directory)/localhost.key", ca: "\(tls.directory)/ca.crt")
            let cases: [([String], String)] = [
                (listen, "--listen serves the API over mutual TLS only"),
                (["--tls-cert", files.cert], "only apply with --listen"),
                (["--listen", "127.0.0.1", "--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", files.ca], "is not HOST:PORT"),
                (listen + ["--tls-cert", "\(tls.directory)/missing.crt", "--tls-key", files.key, "--tls-ca", files.ca],
                 "missing.crt cannot be read"),
                (listen + ["--tls-cert", files.cert, "--tls-key", "\(strangers)/admin.key", "--tls-ca", files.ca],
                 "is not the private key of"),
                (listen + ["--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", files.key], "is not a PEM CA certificate"),
            ]
            for (arguments, message) in cases {
                let result = try await Subprocess.run(base + arguments, timeout: .seconds(20))
                #expect(result.status != 0 && result.error.contains(message), "\(arguments): \(result)")
            }
            #expect(!FileManager.default.fileExists(atPath: daemon.socket))

            // A port another daemon serves ends this one.
            try await daemon.start()
            let second = try await Subprocess.run(
                [TestPaths.vmmd, "--socket", "\(daemon.root)/second.sock", "--state-dir", "\(daemon.root)/second-state",
                 "--runtime-dir", "\(daemon.root)/second-run", "--vmm", TestPaths.vmm] + tls.arguments,
                timeout: .seconds(20))
            // (The migration port is bound first, so that one is named.)
            #expect(second.status != 0 && second.error.contains("on 127.0.0.1:\(tls.migrationPort): Address already in use"),
                    "\(second)")
            await daemon.tearDown()
        }

        /// A second CA with an `admin` certificate of its own, in the harness's folder.
        static func otherCA(_ daemon: DaemonHarness) async throws -> String {
            let directory = "\(daemon.root)/strangers"
            try await DaemonTLS.makeCertificates(in: directory, "admin")
            return directory
        }
    }
}
