import DeviceOptions
import Foundation
import Glibc
import Testing
import VMMAPI
@testable import VMMDaemon

extension DaemonTests {
    /// A sparse raw image of `megabytes` MiB under the daemon's root folder.
    private func image(_ daemon: DaemonHarness, _ name: String, megabytes: Int = 1) throws -> String {
        let path = "\(daemon.root)/\(name)"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, off_t(megabytes << 20)) == 0)
        return path
    }

    private func definition(_ name: String, _ fields: String) -> String {
        #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel("echo"))","memory":16777216,\#(fields)}"#
    }

    @Test func disksAndNICsRoundTripAndArePersisted() async throws {
        try await withDaemon { daemon in
            let data = try image(daemon, "data.raw"), base = try image(daemon, "base.raw")
            let created = try await daemon.request("POST", "/v1/vms", body: definition("web", #"""
                "disks":[{"path":"\#(data)"},{"path":"\#(base)","readOnly":true}],
                "networks":[{"tap":"vmtap-web"},{"mac":"02:AA:BB:00:00:01"},{}],"rng":false
                """#))
            #expect(created.status == 201, "\(created.text)")

            let fetched = try await daemon.request("GET", "/v1/vms/web")
            let definition = try JSONDecoder().decode(VMInfo.self, from: fetched.body).definition
            #expect(definition.disks == [VMDisk(path: data), VMDisk(path: base, readOnly: true)])
            #expect(definition.networks == [
                VMNetwork(tap: "vmtap-web", mac: MACAddressSyntax.format(MACAddressSyntax.generated(seed: "vmtap-web"))),
                VMNetwork(mac: "02:aa:bb:00:00:01"),
                VMNetwork(mac: MACAddressSyntax.format(MACAddressSyntax.generated(seed: "web/net2"))),
            ])
            #expect(!definition.rng)

            let stored = try JSONDecoder().decode(
                VMDefinition.self, from: Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDirectory)/vms/web.json")))
            #expect(stored == definition)

            // Defaults: no devices but the entropy device, every field present.
            #expect(try await daemon.create("plain").status == 201)
            let plain = try await daemon.request("GET", "/v1/vms/plain").json["definition"] as? [String: Any]
            #expect((plain?["disks"] as? [Any])?.isEmpty == true)
            #expect((plain?["networks"] as? [Any])?.isEmpty == true)
            #expect(plain?["rng"] as? Bool == true)

            // PATCH replaces the lists.
            let patched = try await daemon.request("PATCH", "/v1/vms/web", body: #"{"disks":[],"networks":[{"tap":"t9"}],"rng":true}"#)
            #expect(patched.status == 200, "\(patched.text)")
            let after = try JSONDecoder().decode(VMInfo.self, from: patched.body).definition
            #expect(after.disks.isEmpty && after.rng)
            #expect(after.networks.map(\.tap) == ["t9"] && after.networks[0].mac != nil)
        }
    }

    @Test func badDisksAndNICsAreRefused() async throws {
        try await withDaemon { daemon in
            let data = try image(daemon, "data.raw")
            let comma = try image(daemon, "a,b.raw")
            let cases: [(String, Int, String)] = [
                (#""disks":[{"path":"\#(comma)"}]"#, 400, "cannot contain ','"),
                (#""disks":[{"path":""}]"#, 400, "disks[0].path"),
                (#""disks":[{"path":"\#(data)"},{"path":"\#(data)","readOnly":true}]"#, 400, "given twice"),
                (#""disks":[{"path":"\#(data)","readonly":true}]"#, 400, "unknown field(s) in disks[0]: readonly"),
                (#""disks":[{"readOnly":true}]"#, 400, "path"),
                (#""disks":"\#(data)""#, 400, "disks"),
                (#""disks":[{"path":"relative.raw"}]"#, 422, "absolute path"),
                (#""disks":[{"path":"/nonexistent/disk.raw"}]"#, 422, "disks[0].path /nonexistent/disk.raw"),
                (#""disks":[{"path":"/tmp"}]"#, 422, "not a file or block device"),
                (#""networks":[{"tap":"a-name-of-16-bytes"}]"#, 400, "networks[0].tap"),
                (#""networks":[{"tap":"a b"}]"#, 400, "cannot contain"),
                (#""networks":[{"tap":""}]"#, 400, "empty"),
                (#""networks":[{"mac":"01:00:5e:00:00:01"}]"#, 400, "multicast"),
                (#""networks":[{"mac":"00:00:00:00:00:00"}]"#, 400, "all-zero"),
                (#""networks":[{"mac":"02:00:00:00:00"}]"#, 400, "networks[0].mac"),
                (#""networks":[{"tap":"t0"},{"tap":"t0"}]"#, 400, "given twice"),
                (#""networks":[{"mac":"02:00:00:00:00:01"},{"mac":"02:00:00:00:00:01"}]"#, 400, "given twice"),
                (#""networks":[{"bridge":"br0"}]"#, 400, "unknown field(s) in networks[0]: bridge"),
                (#""rng":"yes""#, 400, "rng"),
            ]
            for (fields, status, text) in cases {
                let result = try await daemon.request("POST", "/v1/vms", body: definition("bad", fields))
                #expect(result.status == status, "\(fields): \(result.text)")
                let message = (result.json["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains(text), "\(fields): \(message)")
            }
            #expect(try await daemon.request("GET", "/v1/vms/bad").status == 404)
        }
    }

    @Test func aWritableDiskBelongsToOneVM() async throws {
        try await withDaemon { daemon in
            let data = try image(daemon, "data.raw"), base = try image(daemon, "base.raw")
            try FileManager.default.createSymbolicLink(atPath: "\(daemon.root)/alias.raw", withDestinationPath: data)
            #expect(try await daemon.request("POST", "/v1/vms", body: definition("one", #""disks":[{"path":"\#(data)"},{"path":"\#(base)","readOnly":true}]"#)).status == 201)

            for fields in [
                #""disks":[{"path":"\#(data)"}]"#,
                #""disks":[{"path":"\#(data)","readOnly":true}]"#,
                #""disks":[{"path":"\#(daemon.root)/alias.raw"}]"#,
                #""disks":[{"path":"\#(base)"}]"#,
            ] {
                let second = try await daemon.request("POST", "/v1/vms", body: definition("two", fields))
                #expect(second.status == 409, "\(fields): \(second.text)")
                #expect(second.errorCode == "conflict")
                #expect(second.text.contains("VM one"), "\(second.text)")
            }
            // Read-only in both is fine, and so is the same image after the other VM let it go.
            #expect(try await daemon.request("POST", "/v1/vms", body: definition("two", #""disks":[{"path":"\#(base)","readOnly":true}]"#)).status == 201)
            #expect(try await daemon.request("PATCH", "/v1/vms/two", body: #"{"disks":[{"path":"\#(data)"}]}"#).status == 409)
            #expect(try await daemon.request("PATCH", "/v1/vms/one", body: #"{"disks":[]}"#).status == 200)
            #expect(try await daemon.request("PATCH", "/v1/vms/two", body: #"{"disks":[{"path":"\#(data)"}]}"#).status == 200)
        }
    }

    @Test func aNamedTapBelongsToOneVM() async throws {
        try await withDaemon { daemon in
            #expect(try await daemon.request("POST", "/v1/vms", body: definition("one", #""networks":[{"tap":"vmtap7"}]"#)).status == 201)
            let second = try await daemon.request("POST", "/v1/vms", body: definition("two", #""networks":[{"tap":"vmtap7"}]"#))
            #expect(second.status == 409, "\(second.text)")
            #expect(second.errorCode == "conflict")
            #expect(second.text.contains("VM one"), "\(second.text)")
            // Taps the kernel names never collide.
            #expect(try await daemon.request("POST", "/v1/vms", body: definition("two", #""networks":[{}]"#)).status == 201)
            #expect(try await daemon.request("PATCH", "/v1/vms/two", body: #"{"networks":[{"tap":"vmtap7"}]}"#).status == 409)
        }
    }

    @Test func vmctlCreatesAndShowsDisksAndNICs() async throws {
        try await withDaemon { daemon in
            _ = try image(daemon, "web.raw")
            let vmctl = Vmctl(daemon)
            let created = try await vmctl(
                "create", "web", "--kernel", TestPaths.kernel("echo"), "--disk", "web.raw,readonly",
                "--net", "tap=vmtap-w,mac=02:00:00:00:00:07", "--net", "tap", "--no-rng", directory: daemon.root)
            #expect(created.status == 0, "\(created)")
            let info = try await vmctl("info", "web")
            #expect(info.output.contains("disk:      \(daemon.root)/web.raw (read-only)"), "\(info)")
            #expect(info.output.contains("net:       tap vmtap-w, mac 02:00:00:00:00:07"), "\(info)")
            let generated = MACAddressSyntax.format(MACAddressSyntax.generated(seed: "web/net1"))
            #expect(info.output.contains("net:       tap (named by the kernel), mac \(generated)"), "\(info)")
            #expect(info.output.contains("rng:       no"), "\(info)")

            let bad = try await vmctl("create", "bad", "--kernel", TestPaths.kernel("echo"), "--net", "tap,mac=ff:ff:ff:ff:ff:ff")
            #expect(bad.status == 2 && bad.error.contains("multicast"), "\(bad)")
            let missing = try await vmctl("create", "bad", "--kernel", TestPaths.kernel("echo"), "--disk", "/nonexistent.raw")
            #expect(missing.status == 7 && missing.error.contains("disks[0].path /nonexistent.raw"), "\(missing)")
            let taken = try await vmctl("create", "bad", "--kernel", TestPaths.kernel("echo"), "--disk", "\(daemon.root)/web.raw")
            #expect(taken.status == 6 && taken.error.contains("VM web"), "\(taken)")
        }
    }

    /// The `vmm` a started VM runs gets its disks and NICs as vmm's own options.
    @Test func theVMMCommandLineCarriesTheDevices() async throws {
        let launcher = VMMLauncher(executable: "/usr/bin/vmm")
        let definition = VMDefinition(
            name: "web", kernel: "/k", disks: [VMDisk(path: "/a.raw"), VMDisk(path: "/b.raw", readOnly: true)],
            networks: [VMNetwork(tap: "t0", mac: "02:00:00:00:00:01"), VMNetwork(mac: "02:00:00:00:00:02")], rng: false)
        let arguments = try launcher.arguments(for: definition, in: RuntimeDirectory(path: "/run/vmm/vms/web"))
        let pairs = zip(arguments, arguments.dropFirst()).map { "\($0) \($1)" }
        #expect(pairs.contains("--disk /a.raw"))
        #expect(pairs.contains("--disk /b.raw,readonly"))
        #expect(pairs.contains("--net tap=t0,mac=02:00:00:00:00:01"))
        #expect(pairs.contains("--net tap,mac=02:00:00:00:00:02"))
        #expect(arguments.contains("--no-rng"))
        #expect(try !launcher.arguments(for: VMDefinition(name: "a", kernel: "/k"), in: RuntimeDirectory(path: "/r")).contains("--no-rng"))

        // And the real vmm takes them: a VM with a read-only disk and no rng starts.
        try await withDaemon { daemon in
            let base = try image(daemon, "base.raw")
            #expect(try await daemon.request("POST", "/v1/vms", body: self.definition("disk", #""disks":[{"path":"\#(base)","readOnly":true}],"rng":false"#)).status == 201)
            let started = try await daemon.request("POST", "/v1/vms/disk/start")
            #expect(started.state == "running", "\(started.text)")
            let pid = try #require(try await daemon.pid("disk"))
            let commandLine = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8).split(separator: "\0")
            #expect(commandLine.contains("\(base),readonly"[...]))
            #expect(commandLine.contains("--no-rng"))
            #expect(try await daemon.request("POST", "/v1/vms/disk/kill").state == "stopped")
        }
    }
}
