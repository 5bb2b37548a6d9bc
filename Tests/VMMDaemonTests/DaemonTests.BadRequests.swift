import Foundation
import Testing

extension DaemonTests {
    @Test func badRequestsAreRefusedWithTheErrorShape() async throws {
        try await withDaemon { daemon in
            let kernel = TestPaths.kernel("echo")
            let cases: [(String, String, String?, Int)] = [
                ("POST", "/v1/vms", #"{"name":"a","kernel":"#, 400),
                ("POST", "/v1/vms", "[1,2]", 400),
                ("POST", "/v1/vms", #"{"name":"a","kernel":"\#(kernel)","cpus":"two"}"#, 400),
                ("POST", "/v1/vms", #"{"name":"a","kernel":"\#(kernel)","colour":"red"}"#, 400),
                ("POST", "/v1/vms", #"{"name":"a"}"#, 400),
                ("POST", "/v1/vms", #"{"name":"../etc","kernel":"\#(kernel)"}"#, 400),
                ("POST", "/v1/vms", #"{"name":"Upper","kernel":"\#(kernel)"}"#, 400),
                ("POST", "/v1/vms", #"{"name":"-a","kernel":"\#(kernel)"}"#, 400),
                ("POST", "/v1/vms", #"{"name":"a","kernel":"relative/echo.elf"}"#, 422),
                ("POST", "/v1/vms", #"{"name":"a","kernel":"/nonexistent"}"#, 422),
                ("POST", "/v1/vms", #"{"name":"a","kernel":"\#(kernel)","cpus":0}"#, 422),
                ("POST", "/v1/vms", #"{"name":"a","kernel":"\#(kernel)","memory":4096}"#, 422),
                ("POST", "/v1/vms", #"{"name":"a","kernel":"\#(kernel)","initrd":"/nonexistent"}"#, 422),
                ("GET", "/v1/vms/..%2F..%2Fetc", nil, 400),
                ("GET", "/v1/vms/../../etc/passwd", nil, 404),
                ("GET", "/v1/vms/nosuchvm", nil, 404),
                ("POST", "/v1/vms/nosuchvm/start", nil, 404),
                ("POST", "/v1/vms/nosuchvm/explode", nil, 404),
                ("GET", "/v2/anything", nil, 404),
                ("DELETE", "/v1/host", nil, 405),
                ("PUT", "/v1/vms", nil, 405),
                ("QUERY", "/v1/host", nil, 405),
                ("GET", "/v1/vms/nosuchvm/start", nil, 405),
            ]
            for (method, path, body, status) in cases {
                let result = try await daemon.request(method, path, body: body)
                #expect(result.status == status, "\(method) \(path) \(body ?? "")")
                #expect(result.errorCode != nil, "\(method) \(path): \(result.text)")
            }

            let large = "\(daemon.root)/large.json"
            let padding = String(repeating: " ", count: 10 << 20)
            try #"{"name":"big","kernel":"\#(kernel)"\#(padding)}"#.write(toFile: large, atomically: true, encoding: .utf8)
            let tooLarge = try await daemon.request("POST", "/v1/vms", bodyFile: large)
            #expect(tooLarge.status == 413)
            #expect(tooLarge.errorCode == "payload_too_large")

            #expect(daemon.daemonIsRunning)
            let list = try await daemon.request("GET", "/v1/vms")
            #expect((list.json["vms"] as? [Any])?.isEmpty == true)
            let files = try FileManager.default.contentsOfDirectory(atPath: "\(daemon.stateDirectory)/vms")
            #expect(files.isEmpty)
        }
    }

    @Test func duplicateNamesAreConflicts() async throws {
        try await withDaemon { daemon in
            #expect(try await daemon.create("twin").status == 201)
            let second = try await daemon.create("twin")
            #expect(second.status == 409)
            #expect(second.errorCode == "conflict")
        }
    }
}
