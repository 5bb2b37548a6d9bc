import ClusterTestSupport
import Foundation
import Glibc
import Testing

extension DaemonTests.OpenAPIContractTests {
    /// Produces every documented status of the snapshot, restore and clone routes (with
    /// the real vmm's `snapshot` request and `vmm restore`).
    static func exerciseSnapshots(_ api: OpenAPIContract, _ daemon: DaemonHarness, big: String) async throws {
        let echo = TestPaths.kernel("echo")
        let vms = "/v1/vms", vm = "/v1/vms/{name}"
        let snapshots = "\(vm)/snapshots", snapshot = "\(vm)/snapshots/{snapshot}"
        let restore = "\(vm)/restore", clone = "\(vm)/clone"
        try await api.expect(201, "POST", vms, body: #"{"name":"sigma","kernel":"\#(echo)","memory":33554432}"#)

        // Bad names, unknown VMs and snapshots, bad bodies.
        for (method, path, body) in [
            ("GET", snapshots, nil), ("POST", snapshots, #"{"name":"s1"}"#), ("GET", snapshot, nil), ("DELETE", snapshot, nil),
            ("POST", restore, #"{"snapshot":"s1"}"#), ("POST", clone, #"{"name":"omega"}"#),
        ] as [(String, String, String?)] {
            try await api.expect(400, method, path, name: "Not_A_Name", snapshot: "s1", body: body)
            try await api.expect(404, method, path, name: "ghost", snapshot: "s1", body: body)
        }
        try await api.expect(400, "GET", snapshot, name: "sigma", snapshot: "Bad_Name")
        try await api.expect(404, "GET", snapshot, name: "sigma", snapshot: "none")
        try await api.expect(400, "DELETE", snapshot, name: "sigma", snapshot: "Bad_Name")
        try await api.expect(404, "DELETE", snapshot, name: "sigma", snapshot: "none")
        try await api.expect(400, "POST", snapshots, name: "sigma", body: #"{"name":"Bad_Name"}"#)
        try await api.expect(400, "POST", snapshots, name: "sigma", body: #"{"name":"s1","disks":true}"#)
        try await api.expect(413, "POST", snapshots, name: "sigma", bodyFile: big)
        try await api.expect(400, "POST", restore, name: "sigma", body: #"{"snapshot":1}"#)
        try await api.expect(404, "POST", restore, name: "sigma", body: #"{"snapshot":"none"}"#)
        try await api.expect(413, "POST", restore, name: "sigma", bodyFile: big)
        try await api.expect(400, "POST", clone, name: "sigma", body: #"{"name":"Omega"}"#)
        try await api.expect(400, "POST", clone, name: "sigma", body: #"{"name":"omega","restoreFrom":{}}"#)
        try await api.expect(404, "POST", clone, name: "sigma", body: #"{"name":"omega","snapshot":"none"}"#)
        try await api.expect(409, "POST", clone, name: "sigma", body: #"{"name":"gamma"}"#)
        try await api.expect(413, "POST", clone, name: "sigma", bodyFile: big)
        try await api.expect(200, "GET", snapshots, name: "sigma")
        try await api.expect(409, "POST", snapshots, name: "sigma", body: #"{"name":"s1"}"#)

        // Running: snapshots taken, listed, refused twice; a vmm that does not answer.
        try await api.expect(200, "POST", "\(vm)/start", name: "sigma")
        // vmm refuses a snapshot (409) until the VM has begun running.
        #expect(try await eventually(seconds: 10) { try await daemon.request("GET", "/v1/vms/sigma/console").text.contains("echo: ready") })
        try await api.expect(201, "POST", snapshots, name: "sigma", body: #"{"name":"s1"}"#)
        try await api.expect(201, "POST", snapshots, name: "sigma", body: #"{"name":"s2","memoryOnly":true}"#)
        try await api.expect(409, "POST", snapshots, name: "sigma", body: #"{"name":"s1"}"#)
        try await api.expect(200, "GET", snapshots, name: "sigma")
        try await api.expect(200, "GET", snapshot, name: "sigma", snapshot: "s1")
        let control = "\(daemon.runtimeDirectory)/vms/sigma/root/control.sock"
        #expect(rename(control, control + ".aside") == 0)
        try await api.expect(500, "POST", snapshots, name: "sigma", body: #"{"name":"s3"}"#)
        #expect(rename(control + ".aside", control) == 0)
        if getuid() == 0 {
            // A full file system under the VM's snapshots (hiding the ones taken). A jailed
            // vmm sees the folder bound when it started; where / is not a shared mount (no
            // systemd), a later mount does not reach it: mounted before a start.
            let folder = "\(daemon.stateDirectory)/snapshots/sigma"
            _ = try await daemon.request("POST", "/v1/vms/sigma/kill")
            #expect(try await Subprocess.run(["/bin/mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", folder]).status == 0)
            #expect(try await daemon.request("POST", "/v1/vms/sigma/start").state == "running")
            #expect(try await eventually(seconds: 10) { try await daemon.request("GET", "/v1/vms/sigma/console").text.contains("echo: ready") })
            try await api.expect(507, "POST", snapshots, name: "sigma", body: #"{"name":"s3"}"#)
            #expect(try await Subprocess.run(["/bin/umount", folder]).status == 0)
        }
        try await api.expect(404, "GET", snapshot, name: "sigma", snapshot: "s3")

        // Restore, running and stopped; clones from a snapshot, started and not.
        try await api.expect(200, "POST", restore, name: "sigma", body: #"{"snapshot":"s1"}"#)
        try await api.expect(201, "POST", clone, name: "sigma", body: #"{"name":"sigma-a","snapshot":"s1","start":true}"#)
        try await api.expect(201, "POST", clone, name: "sigma", body: #"{"name":"sigma-b","snapshot":"s1"}"#)
        try await api.expect(409, "DELETE", snapshot, name: "sigma", snapshot: "s1")
        try await api.expect(201, "POST", clone, name: "sigma", body: #"{"name":"sigma-c"}"#)
        try await api.expect(200, "GET", vm, name: "sigma-b")
        try await api.expect(200, "POST", "\(vm)/kill", name: "sigma")
        try await api.expect(200, "POST", restore, name: "sigma", body: #"{"snapshot":"s2"}"#)
        try await api.expect(200, "POST", "\(vm)/kill", name: "sigma")
        try await api.expect(201, "POST", clone, name: "sigma", body: #"{"name":"sigma-d"}"#)

        // Refused: other devices than the snapshot's (409), a kernel gone (422), an
        // unreadable snapshot (500).
        try await api.expect(200, "PATCH", vm, name: "sigma", body: #"{"networks":[{}]}"#)
        try await api.expect(409, "POST", restore, name: "sigma", body: #"{"snapshot":"s1"}"#)
        try await api.expect(200, "PATCH", vm, name: "sigma", body: #"{"networks":[]}"#)
        let vanishing = "\(daemon.root)/sigma-kernel.elf"
        try FileManager.default.copyItem(atPath: echo, toPath: vanishing)
        try await api.expect(200, "PATCH", vm, name: "sigma", body: #"{"kernel":"\#(vanishing)"}"#)
        try FileManager.default.removeItem(atPath: vanishing)
        try await api.expect(422, "POST", restore, name: "sigma", body: #"{"snapshot":"s1"}"#)
        try await api.expect(422, "POST", clone, name: "sigma", body: #"{"name":"sigma-e"}"#)
        try await api.expect(200, "PATCH", vm, name: "sigma", body: #"{"kernel":"\#(echo)"}"#)
        try "{}".write(toFile: "\(daemon.stateDirectory)/snapshots/sigma/s2/snapshot.json", atomically: true, encoding: .utf8)
        try await api.expect(500, "POST", restore, name: "sigma", body: #"{"snapshot":"s2"}"#)
        try await api.expect(500, "POST", clone, name: "sigma", body: #"{"name":"sigma-e","snapshot":"s2"}"#)
        try await api.expect(404, "GET", vm, name: "sigma-e")
        if getuid() == 0 {
            // A disk copy that does not fit.
            let image = "\(daemon.root)/tau.raw"
            #expect(FileManager.default.createFile(atPath: image, contents: Data(repeating: 1, count: 1 << 20)))
            try await api.expect(201, "POST", vms, body: #"{"name":"tau","kernel":"\#(echo)","disks":[{"path":"\#(image)"}]}"#)
            let disks = "\(daemon.stateDirectory)/disks"
            try FileManager.default.createDirectory(atPath: disks, withIntermediateDirectories: true)
            #expect(try await Subprocess.run(["/bin/mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", disks]).status == 0)
            try await api.expect(507, "POST", clone, name: "tau", body: #"{"name":"tau-a"}"#)
            #expect(try await Subprocess.run(["/bin/umount", disks]).status == 0)
            try await api.expect(404, "GET", vm, name: "tau-a")
        }

        // Deleting: once the clone that needs it is gone.
        try await api.expect(204, "DELETE", vm, name: "sigma-b")
        try await api.expect(204, "DELETE", snapshot, name: "sigma", snapshot: "s1")
        try await api.expect(204, "DELETE", vm, name: "sigma-a", query: "?force=true")
    }
}
