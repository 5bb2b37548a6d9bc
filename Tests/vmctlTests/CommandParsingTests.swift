import ArgumentParser
import Testing
import VMMAPI
@testable import vmctl

@Suite struct CommandParsingTests {
    @Test func globalOptionsWorkBeforeAndAfterTheCommand() throws {
        let after = try #require(try VMCtl.parseAsRoot(["list", "--socket", "/tmp/a.sock"]) as? ListCommand)
        #expect(after.global.socketPath == "/tmp/a.sock")
        let before = try #require(try VMCtl.parseAsRoot(["--socket", "/tmp/b.sock", "list"]) as? ListCommand)
        #expect(before.global.socketPath == "/tmp/b.sock")
        let info = try #require(try VMCtl.parseAsRoot(["info", "web", "--socket", "/tmp/c.sock"]) as? InfoCommand)
        #expect(info.global.socketPath == "/tmp/c.sock")
    }

    @Test func connectNeedsTLSFilesFromOptionsOrEnvironment() throws {
        var remote = try #require(try VMCtl.parseAsRoot([
            "--connect", "https://host-a:7443", "--tls-cert", "a.crt", "--tls-key", "a.key", "list", "--tls-ca", "ca.crt",
        ]) as? ListCommand)
        remote.global.environment = [:]
        let files = TLSFiles(certificate: "a.crt", key: "a.key", certificateAuthority: "ca.crt")
        #expect(try remote.global.endpoint() == .https(HostAndPort(host: "host-a", port: 7443), tls: files))

        var fromEnvironment = try #require(try VMCtl.parseAsRoot(["list"]) as? ListCommand)
        fromEnvironment.global.environment = [
            "VMCTL_CONNECT": "https://10.0.0.1:7443", "VMCTL_TLS_CERT": "a.crt", "VMCTL_TLS_KEY": "a.key",
        ]
        #expect(throws: ValidationError.self) { try fromEnvironment.global.endpoint() }
        fromEnvironment.global.environment["VMCTL_TLS_CA"] = "ca.crt"
        #expect(try fromEnvironment.global.endpoint().description == "https://10.0.0.1:7443")
        // --socket names the local daemon even when the environment names a remote one.
        var local = try #require(try VMCtl.parseAsRoot(["list", "--socket", "/tmp/a.sock"]) as? ListCommand)
        local.global.environment = fromEnvironment.global.environment
        #expect(try local.global.endpoint() == .unixSocket(path: "/tmp/a.sock"))

        #expect(VMCtl.exitCode(for: Self.parseError(["list", "--connect", "https://h:1", "--socket", "/s"])) == .validationFailure)
        #expect(VMCtl.exitCode(for: Self.parseError(["list", "--tls-cert", "a.crt"])) == .validationFailure)
    }

    @Test func createTakesSizesAndRejectsBadOnes() throws {
        let create = try #require(try VMCtl.parseAsRoot(["create", "web", "--kernel", "k", "--memory", "1G", "--cpus", "2"]) as? CreateCommand)
        #expect(create.memory == "1G")
        #expect(VMCtl.exitCode(for: Self.parseError(["create", "web", "--kernel", "k", "--memory", "lots"])) == .validationFailure)
        #expect(VMCtl.exitCode(for: Self.parseError(["create", "web", "--kernel", "k", "--cpus", "0"])) == .validationFailure)
        #expect(VMCtl.exitCode(for: Self.parseError(["create", "Web!", "--kernel", "k"])) == .validationFailure)
        #expect(VMCtl.exitCode(for: Self.parseError(["create", "web"])) == .validationFailure)
    }

    @Test func createTakesDisksAndNICs() throws {
        let create = try #require(try VMCtl.parseAsRoot([
            "create", "web", "--kernel", "k", "--disk", "/srv/web.raw", "--disk", "base.raw,readonly",
            "--net", "tap=vmtap0,mac=02:AA:00:00:00:01", "--net", "tap", "--no-rng",
        ]) as? CreateCommand)
        #expect(try create.disks() == [
            VMDisk(path: "/srv/web.raw"), VMDisk(path: PathResolution.absolute("base.raw"), readOnly: true),
        ])
        #expect(try create.networks() == [VMNetwork(tap: "vmtap0", mac: "02:aa:00:00:00:01"), VMNetwork()])
        #expect(create.noRng)
        let plain = try #require(try VMCtl.parseAsRoot(["create", "web", "--kernel", "k"]) as? CreateCommand)
        #expect(try plain.disks().isEmpty && plain.networks().isEmpty && !plain.noRng)
    }

    @Test(arguments: [
        ["--disk", ""], ["--disk", "a.raw,ro"], ["--disk", "/a,b.raw"], ["--disk", "a.raw", "--disk", "./a.raw"],
        ["--net", "bridge=br0"], ["--net", "tap=much-too-long-name"], ["--net", "tap,mac=01:00:00:00:00:01"],
        ["--net", "tap=t0", "--net", "tap=t0"],
    ])
    func createRejectsBadDisksAndNICs(arguments: [String]) {
        let error = Self.parseError(["create", "web", "--kernel", "k"] + arguments)
        #expect(VMCtl.exitCode(for: error) == .validationFailure)
        let message = VMCtl.message(for: error)
        #expect(message.contains(arguments[0]), "\(message)")
    }

    @Test func stopTakesForceAndTimeout() throws {
        let stop = try #require(try VMCtl.parseAsRoot(["stop", "web", "--force", "--timeout", "2.5"]) as? StopCommand)
        #expect(stop.force && stop.timeout == 2.5)
        #expect(VMCtl.exitCode(for: Self.parseError(["stop", "web", "--timeout", "-1"])) == .validationFailure)
    }

    private static func parseError(_ arguments: [String]) -> any Error {
        do {
            _ = try VMCtl.parseAsRoot(arguments)
        } catch {
            return error
        }
        Issue.record("\(arguments) parsed")
        return CleanExit.message("")
    }
}
