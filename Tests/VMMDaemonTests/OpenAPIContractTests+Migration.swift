import Foundation
import Testing

extension DaemonTests.OpenAPIContractTests {
    /// What the migration and drain routes answer on a daemon without a TLS listener (the
    /// rest, across hosts, is HostMigrationTests'): refusals only.
    static func exerciseMigrationRefusals(_ api: OpenAPIContract, _ daemon: DaemonHarness, big: String) async throws {
        let migrate = "/v1/vms/{name}/migrate"
        try await api.expect(400, "POST", migrate, name: "Not_A_Name", body: #"{"to":"10.0.0.2:7443"}"#)
        try await api.expect(404, "POST", migrate, name: "ghost", body: #"{"to":"10.0.0.2:7443"}"#)
        try await api.expect(400, "POST", migrate, name: "garbage", body: #"{"to":"10.0.0.2:7443","colour":"red"}"#)
        try await api.expect(413, "POST", migrate, name: "garbage", bodyFile: big)
        // Not running; and no TLS listener to migrate over.
        try await api.expect(409, "POST", migrate, name: "garbage", body: #"{"to":"10.0.0.2:7443"}"#)

        let definition = #"{"name":"m","kernel":"\#(TestPaths.kernel("echo"))"}"#
        try await api.expect(400, "POST", "/v1/migrations", body: #"{"definition":\#(definition)}"#)
        try await api.expect(413, "POST", "/v1/migrations", bodyFile: big)
        try await api.expect(503, "POST", "/v1/migrations", body: #"{"definition":\#(definition),"copyStorage":false}"#)
        try await api.expect(404, "GET", "/v1/migrations/{id}", snapshot: "m1")
        try await api.expect(404, "DELETE", "/v1/migrations/{id}", snapshot: "m1")

        try await api.expect(400, "POST", "/v1/host/drain", body: #"{"to":"10.0.0.2:7443"}"#)
        try await api.expect(413, "POST", "/v1/host/drain", bodyFile: big)
        try await api.expect(409, "POST", "/v1/host/drain", body: #"{"to":["10.0.0.2:7443"]}"#)
        try await api.expect(204, "POST", "/v1/host/undrain")
    }
}
