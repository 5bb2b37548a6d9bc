import Foundation
import Testing
import VMMAPI

@Suite struct WireTypesTests {
    private func roundTrip<Value: Codable & Equatable>(_ value: Value) throws -> Value {
        try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(value))
    }

    private let definition = VMDefinition(
        name: "web-1", cpus: 2, memory: 512 << 20, kernel: "/boot/vmlinuz", initrd: "/boot/initrd",
        cmdline: "console=ttyS0", autostart: true)

    @Test func definitionRoundTrips() throws {
        #expect(try roundTrip(definition) == definition)
        #expect(try roundTrip(VMDefinition(name: "a", kernel: "/k")) == VMDefinition(name: "a", kernel: "/k"))
    }

    @Test func definitionPatchRoundTrips() throws {
        let patch = VMDefinitionPatch(cpus: 4, memory: 1 << 30, cmdline: "quiet", autostart: false)
        #expect(try roundTrip(patch) == patch)
        #expect(try roundTrip(VMDefinitionPatch()) == VMDefinitionPatch())
    }

    @Test func infoAndListRoundTrip() throws {
        let running = VMInfo(definition: definition, state: .running, pid: 4242, uptime: 12.5)
        let crashed = VMInfo(definition: definition, state: .crashed, lastExit: "crashed: exit status 4")
        #expect(try roundTrip(running) == running)
        #expect(try roundTrip(VMList(vms: [running, crashed])) == VMList(vms: [running, crashed]))
    }

    @Test func infoCarriesStateAtTopLevel() throws {
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(VMInfo(definition: definition, state: .paused)))
        #expect((json as? [String: Any])?["state"] as? String == "paused")
    }

    @Test func eventRoundTrips() throws {
        let event = VMEvent(time: 1_764_000_000.25, vm: "web-1", state: .crashed, previous: .running, reason: "vmm exited with status 4")
        #expect(try roundTrip(event) == event)
        #expect(try roundTrip(VMEvent(time: 1, vm: "a", state: .starting)) == VMEvent(time: 1, vm: "a", state: .starting))
    }

    @Test func stopRequestRoundTrips() throws {
        #expect(try roundTrip(VMStopRequest(force: true, timeout: 5)) == VMStopRequest(force: true, timeout: 5))
        #expect(try JSONDecoder().decode(VMStopRequest.self, from: Data("{}".utf8)) == VMStopRequest())
    }

    @Test func hostInfoRoundTrips() throws {
        let host = HostInfo(
            kvm: .init(apiVersion: 12, maxVCPUs: 1024, recommendedVCPUs: 2, pvm: true), cpus: 2, memory: 8 << 30,
            vms: Dictionary(uniqueKeysWithValues: VMState.allCases.map { ($0.rawValue, 0) }), version: "0.1.0")
        #expect(try roundTrip(host) == host)
    }

    @Test func apiErrorHasTheDocumentedShape() throws {
        let error = APIError(code: .conflict, message: "web is running")
        #expect(try roundTrip(error) == error)
        let json = String(decoding: try JSONEncoder().encode(error), as: UTF8.self)
        let decoded = try JSONDecoder().decode(APIError.self, from: Data(#"{"error":{"code":"conflict","message":"web is running"}}"#.utf8))
        #expect(decoded == error)
        #expect(json.contains(#""error":{"#))
    }

    @Test(arguments: VMState.allCases) func everyStateRoundTrips(state: VMState) throws {
        #expect(try roundTrip(state) == state)
        #expect(try JSONDecoder().decode(VMState.self, from: Data("\"\(state.rawValue)\"".utf8)) == state)
    }

    @Test func unknownStatesFailToDecode() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(VMState.self, from: Data(#""exploded""#.utf8)) }
        let event = #"{"time":1,"vm":"a","state":"hibernating"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(VMEvent.self, from: Data(event.utf8)) }
    }
}
