#if canImport(Glibc)
import Glibc
#endif
import CTap
import Testing
@testable import VMMCore

/// Every test runs in a network namespace of its own (see `NetworkNamespace`).
@Suite struct TapDeviceTests {
    private func message(_ body: () throws(VMMError) -> Void) -> String? {
        do throws(VMMError) {
            try body()
            return nil
        } catch {
            return error.isUserError ? error.description : "not a user error: \(error)"
        }
    }

    @Test func createsATransientTapThatDisappearsWhenClosed() async throws {
        let (name, persistent, existedOpen, existsAfter) = try await NetworkNamespace.run {
            var tap: TapDevice? = try TapDevice(name: "vmmtest0")
            let name = tap!.name
            let persistent = tap!.isPersistent
            let existed = if_nametoindex(name) != 0
            tap = nil
            return (name, persistent, existed, if_nametoindex(name) != 0)
        }
        #expect(name == "vmmtest0")
        #expect(!persistent)
        #expect(existedOpen)
        #expect(!existsAfter)
    }

    @Test func letsTheKernelChooseTheName() async throws {
        let name = try await NetworkNamespace.run { try TapDevice(name: nil).name }
        #expect(name.hasPrefix("tap"))
    }

    @Test func attachesToAPersistentTapAndLeavesIt() async throws {
        let (persistent, existsAfter) = try await NetworkNamespace.run {
            try Self.makePersistentTap("vmmkeep0", persistent: true)
            var tap: TapDevice? = try TapDevice(name: "vmmkeep0")
            let persistent = tap!.isPersistent
            tap = nil
            let existsAfter = if_nametoindex("vmmkeep0") != 0
            try Self.makePersistentTap("vmmkeep0", persistent: false)
            return (persistent, existsAfter)
        }
        #expect(persistent)
        #expect(existsAfter)
    }

    @Test func refusesATapInUse() async throws {
        let error = try await NetworkNamespace.run {
            let first = try TapDevice(name: "vmmbusy0")
            defer { withExtendedLifetime(first) {} }
            return message { () throws(VMMError) in _ = try TapDevice(name: "vmmbusy0") }
        }
        #expect(error?.contains("busy") == true, "\(error ?? "no error")")
    }

    @Test func refusesAnInterfaceThatIsNotATap() async throws {
        let error = try await NetworkNamespace.run { message { () throws(VMMError) in _ = try TapDevice(name: "lo") } }
        #expect(error?.contains("not a tap") == true, "\(error ?? "no error")")
    }

    @Test(arguments: ["", "a/b", "sixteen-letters!", "has space", "..", "tap%d"])
    func refusesBadNames(_ name: String) async throws {
        let error = try await NetworkNamespace.run { message { () throws(VMMError) in _ = try TapDevice(name: name) } }
        #expect(error?.contains("tap") == true, "\(error ?? "no error")")
    }

    @Test func explainsAMissingCapability() async throws {
        let error = try await NetworkNamespace.run {
            try NetworkNamespace.dropNetworkAdministration()
            return message { () throws(VMMError) in _ = try TapDevice(name: "vmmnocap0") }
        }
        #expect(error?.contains("CAP_NET_ADMIN") == true, "\(error ?? "no error")")
    }

    @Test func setsOffloads() async throws {
        let (none, all) = try await NetworkNamespace.run {
            let tap = try TapDevice(name: "vmmoff0")
            try tap.setOffloads([])
            let none = try TestInterface.activeFeatures(tap.name)
            try tap.setOffloads([.checksum, .tcpSegmentation4, .tcpSegmentation6, .tcpSegmentationECN])
            return (none, try TestInterface.activeFeatures(tap.name))
        }
        let offloads: Set = ["tx-checksum-ip-generic", "tx-tcp-segmentation", "tx-tcp6-segmentation", "tx-tcp-ecn-segmentation"]
        #expect(none.isDisjoint(with: offloads))
        #expect(all.isSuperset(of: offloads))
    }

    /// Creates a tap and sets or clears TUNSETPERSIST, as `ip tuntap add` / `del` do.
    private static func makePersistentTap(_ name: String, persistent: Bool) throws {
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw NetworkTestFailure("open /dev/net/tun: errno \(errno)") }
        defer { close(fd) }
        var request = TestInterface.interfaceRequest(name)
        request.ifr_ifru.ifru_flags = Int16(IFF_TAP | IFF_NO_PI)
        // EBUSY: the tap is still attached to a descriptor just closed. A child that another
        // test spawns at that moment holds copies of all our descriptors until its exec, so
        // the close can take effect a little later.
        var attempts = 0
        while ctap_ioctl_pointer(fd, ctap_tunsetiff(), &request) != 0 {
            attempts += 1
            guard errno == EBUSY, attempts < 200 else { throw NetworkTestFailure("persistent tap \(name): errno \(errno)") }
            usleep(10_000)
        }
        guard ctap_ioctl_value(fd, TestInterface.tunSetPersist, persistent ? 1 : 0) == 0
        else { throw NetworkTestFailure("persistent tap \(name): errno \(errno)") }
    }
}
