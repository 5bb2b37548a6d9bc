#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VMMCore

/// A device on a real tap in the test's own network namespace, driven through rings in
/// real guest memory the way a guest driver would.
@Suite struct VirtioNetworkDeviceTests {
    private static let log = Logger(label: "test", minimumLevel: .error)
    private static let guestMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x42]

    /// A device on tap `name`, activated with `features`, its tap up and a packet socket on it.
    private static func start(_ name: String, features: UInt64 = VirtioFeature.eventIndex)
        throws -> (VirtioNetworkDevice, VirtioNetworkTestDriver, TestInterface.PacketSocket)
    {
        let device = try VirtioNetworkDevice(configuration: .init(tapName: name), log: log)
        try TestInterface.bringUp(device.tap.name)
        let socket = try TestInterface.PacketSocket(device.tap.name)
        let driver = try VirtioNetworkTestDriver()
        try device.activate(driver.activation(features: features))
        return (device, driver, socket)
    }

    @Test func configurationHoldsTheMACAddressAndLinkUp() async throws {
        let (configured, generated, again, registers) = try await NetworkNamespace.run {
            let configured = try VirtioNetworkDevice(
                configuration: .init(tapName: "vmmcfg0", macAddress: MACAddress(2, 1, 2, 3, 4, 5)), log: Self.log)
            let generated = try VirtioNetworkDevice(configuration: .init(tapName: "vmmcfg1"), log: Self.log).macAddress
            let again = try VirtioNetworkDevice(configuration: .init(tapName: "vmmcfg1"), log: Self.log).macAddress
            let registers = [
                configured.readConfiguration(offset: 0, size: 4), configured.readConfiguration(offset: 4, size: 2),
                configured.readConfiguration(offset: 6, size: 2), configured.readConfiguration(offset: 8, size: 2),
                configured.readConfiguration(offset: 10, size: 2), configured.readConfiguration(offset: Int.max, size: 4),
            ]
            return (configured.macAddress, generated, again, registers)
        }
        #expect(configured == MACAddress(2, 1, 2, 3, 4, 5))
        #expect(registers == [0x0302_0102, 0x0504, 1, 1, 0, 0])
        #expect(generated == again)
        #expect(generated.bytes.0 & 0b11 == 0b10, "locally administered unicast: \(generated)")
    }

    @Test func sendsTheGuestsFramesToTheTap() async throws {
        let frame = testFrame(destination: Self.guestMAC, payload: pattern(count: 200))
        let (received, used, counters, interrupts) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start("vmmtx0")
            defer { device.reset() }
            driver.transmit(frame: frame)
            let received = socket.receiveTestFrame()
            let used = driver.transmit.takeUsed()
            _ = eventually { device.counters.transmittedPackets == 1 }
            return (received, used.map(\.length), device.counters, driver.interrupt.count(queue: 1))
        }
        #expect(received == frame)
        #expect(used == [0])
        #expect(counters.transmittedPackets == 1)
        #expect(counters.transmittedBytes == UInt64(frame.count))
        #expect(interrupts == 1)
    }

    @Test func dropsHostileTransmitChainsWithoutHarm() async throws {
        let good = testFrame(destination: Self.guestMAC, payload: pattern(count: 60))
        let (used, received, counters, resets) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start("vmmtx1")
            defer { device.reset() }
            // Shorter than the header, then longer than 64 KiB + header, then a good one.
            driver.transmit.post([.init(address: driver.allocate(8), length: 8, writable: false)])
            driver.transmit.post([.init(address: driver.allocate(70_000), length: 70_000, writable: false)])
            driver.transmit(frame: good)
            let used = driver.transmit.takeUsed(count: 3)
            let received = socket.receiveTestFrame()
            _ = eventually { device.counters.transmittedPackets == 1 }
            let counters = device.counters
            // A buffer outside guest RAM breaks the ring: the device asks for a reset.
            driver.transmit.post([.init(address: 1 << 40, length: 100, writable: false)])
            _ = eventually { !driver.resets.reasons.isEmpty }
            return (used.map(\.length), received, counters, driver.resets.reasons)
        }
        #expect(used == [0, 0, 0])
        #expect(received == good)
        #expect(counters.transmitDrops == 2)
        #expect(counters.transmittedPackets == 1)
        #expect(resets.count == 1)
        #expect(resets.first?.contains("outside guest memory") == true, "\(resets)")
    }

    @Test func deliversFramesFromTheTapAfterTheHeader() async throws {
        let frame = testFrame(destination: Self.guestMAC, payload: pattern(count: 300))
        let (used, header, payload, counters) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start("vmmrx0")
            defer { device.reset() }
            let (head, address) = driver.postReceive(length: 1600)
            try socket.send(frame)
            let used = driver.receive.takeUsed()
            let length = Int(used.first { $0.head == head }?.length ?? 0)
            let header = driver.memory.readBytes(at: address, count: 12)!
            let payload = driver.memory.readBytes(at: address + 12, count: max(length - 12, 0))!
            return (used.map(\.length), header, payload, device.counters)
        }
        #expect(used == [UInt32(12 + frame.count)])
        #expect(header == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], "no offloads, num_buffers 1")
        #expect(payload == frame)
        #expect(counters.receivedPackets == 1)
        #expect(counters.receivedBytes == UInt64(frame.count))
    }

    @Test func waitsForReceiveBuffersAndResumesOnNotify() async throws {
        let frame = testFrame(destination: Self.guestMAC, payload: pattern(count: 100))
        let (early, late, payload) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start("vmmrx1")
            defer { device.reset() }
            try socket.send(frame)
            // Nothing to receive into: the frame waits in the tap, the worker does not spin.
            let early = driver.receive.takeUsed(timeout: 0.2)
            let (_, address) = driver.postReceive(length: 1600)
            let late = driver.receive.takeUsed()
            return (early.count, late.map(\.length), driver.memory.readBytes(at: address + 12, count: frame.count)!)
        }
        #expect(early == 0)
        #expect(late == [UInt32(12 + frame.count)])
        #expect(payload == frame)
    }

    @Test func countsAndDropsFramesTooLargeForTheBuffer() async throws {
        let large = testFrame(destination: Self.guestMAC, payload: pattern(count: 100))
        let small = testFrame(destination: Self.guestMAC, payload: pattern(count: 6, seed: 9))
        let (used, payload, counters) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start("vmmrx2")
            defer { device.reset() }
            let (_, address) = driver.postReceive(length: 12 + 20)
            try socket.send(large)
            _ = eventually { device.counters.receiveDrops == 1 }
            // The buffer the large frame did not fit stays with the device for the next one.
            try socket.send(small)
            let used = driver.receive.takeUsed()
            return (used.map(\.length), driver.memory.readBytes(at: address + 12, count: small.count)!, device.counters)
        }
        #expect(counters.receiveDrops == 1)
        #expect(used == [UInt32(12 + small.count)])
        #expect(payload == small)
        #expect(counters.receivedPackets == 1)
    }

    @Test func spreadsAFrameOverMergeableBuffers() async throws {
        let frame = testFrame(destination: Self.guestMAC, payload: pattern(count: 986))  // 1000 bytes
        let (used, numberOfBuffers, joined) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start(
                "vmmrx3", features: VirtioFeature.eventIndex | VirtioNetworkFeature.mergeableReceiveBuffers)
            defer { device.reset() }
            let buffers = (0..<4).map { _ in driver.postReceive(length: 512) }
            try socket.send(frame)
            let used = driver.receive.takeUsed(count: 2)
            var joined: [UInt8] = []
            for (entry, buffer) in zip(used, buffers) {
                joined += driver.memory.readBytes(at: buffer.address, count: Int(entry.length))!
            }
            return (used.map(\.length), driver.memory.read(UInt16.self, at: buffers[0].address + 10)!, joined)
        }
        #expect(used == [512, 500])
        #expect(numberOfBuffers == 2)
        #expect(Array(joined.dropFirst(12)) == frame)
    }

    @Test func setsTapOffloadsFromTheAcceptedFeatures() async throws {
        let (plain, checksumOnly, segmentation) = try await NetworkNamespace.run {
            let device = try VirtioNetworkDevice(configuration: .init(tapName: "vmmoff1"), log: Self.log)
            let driver = try VirtioNetworkTestDriver()
            func features(after accepted: UInt64) throws -> Set<String> {
                try device.activate(driver.activation(features: accepted))
                defer { device.reset() }
                return try TestInterface.activeFeatures(device.tap.name)
            }
            return (
                try features(after: 0),
                try features(after: VirtioNetworkFeature.guestChecksum | VirtioNetworkFeature.guestTSO4),
                try features(
                    after: VirtioNetworkFeature.guestChecksum | VirtioNetworkFeature.guestTSO4
                        | VirtioNetworkFeature.guestTSO6 | VirtioNetworkFeature.guestECN)
            )
        }
        #expect(!plain.contains("tx-checksum-ip-generic"))
        #expect(!plain.contains("tx-tcp-segmentation"))
        #expect(checksumOnly.contains("tx-checksum-ip-generic"))
        #expect(checksumOnly.contains("tx-tcp-segmentation"))
        #expect(!checksumOnly.contains("tx-tcp6-segmentation"))
        #expect(segmentation.isSuperset(of: ["tx-tcp-segmentation", "tx-tcp6-segmentation", "tx-tcp-ecn-segmentation"]))
    }
}
