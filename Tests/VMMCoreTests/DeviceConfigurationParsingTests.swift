import Testing
import VMMCore

/// The VMMCore side of `--disk` and `--net`: DeviceOptions' syntax (tested there) turned
/// into configurations and `VMMError.invalidConfiguration`.
@Suite struct DeviceConfigurationParsingTests {
    private func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            guard case .invalidConfiguration(let message) = error as? VMMError else { return "not invalidConfiguration: \(error)" }
            return message
        }
    }

    @Test func disksParseInOrder() throws {
        #expect(try DiskConfiguration.parsing(["/a.raw", "/b.raw,readonly"])
            == [DiskConfiguration(path: "/a.raw"), DiskConfiguration(path: "/b.raw", readOnly: true)])
        #expect(message { _ = try DiskConfiguration.parsing(["/a.raw", "/a.raw,readonly"]) }?.contains("given twice") == true)
        #expect(message { _ = try DiskConfiguration(parsing: "/a.raw,rw") }?.contains("--disk '/a.raw,rw'") == true)
    }

    @Test func networksParseAndKeepAbsentAddressesForTheDevice() throws {
        let networks = try NetworkConfiguration.parsing(["tap=t0,mac=02:00:00:00:00:01", "tap"])
        #expect(networks == [
            NetworkConfiguration(tapName: "t0", macAddress: MACAddress(2, 0, 0, 0, 0, 1)), NetworkConfiguration(tapName: nil),
        ])
        #expect(message { _ = try NetworkConfiguration.parsing(["tap=t0", "tap=t0"]) }?.contains("given twice") == true)
        #expect(message { _ = try NetworkConfiguration(parsing: "tap=t0,mac=ff:ff:ff:ff:ff:ff") }?.contains("multicast") == true)
    }

    @Test func macAddressesParseAndGenerate() throws {
        #expect(try MACAddress(parsing: "02:AB:cd:00:00:01") == MACAddress(2, 0xab, 0xcd, 0, 0, 1))
        #expect(message { _ = try MACAddress(parsing: "02:00:00:00:00:00:00") }?.contains("not a MAC address") == true)
        let generated = MACAddress.generated(seed: "vmtap0")
        #expect(generated.description == "02:e3:a6:1a:95:7e")
        #expect(generated == MACAddress.generated(seed: "vmtap0"))
    }
}
