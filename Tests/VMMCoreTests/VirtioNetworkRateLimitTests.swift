#if canImport(Glibc)
import Glibc
#endif
import DeviceOptions
import Testing
@testable import VMMCore

/// virtio-net's token buckets on a real tap in the test's own network namespace: each
/// direction keeps its frame rate, waits without spinning, and takes a new limit at once.
@Suite struct VirtioNetworkRateLimitTests {
    private static let log = Logger(label: "test", minimumLevel: .error)
    private static let guestMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x43]
    /// 20 frames per second with a burst of 1: two frames pass at once (the second one
    /// puts the bucket in debt), then one every 50 ms.
    private static let twentyPerSecond = RateLimitOption(operations: .init(rate: 20, burst: 1))

    private static func start(_ name: String, receive: RateLimitOption = .init(), transmit: RateLimitOption = .init())
        throws -> (VirtioNetworkDevice, VirtioNetworkTestDriver, TestInterface.PacketSocket)
    {
        let configuration = NetworkConfiguration(tapName: name, receiveLimit: receive, transmitLimit: transmit)
        let device = try VirtioNetworkDevice(configuration: configuration, log: log)
        try TestInterface.bringUp(device.tap.name)
        let socket = try TestInterface.PacketSocket(device.tap.name)
        let driver = try VirtioNetworkTestDriver()
        try device.activate(driver.activation(features: VirtioFeature.eventIndex))
        return (device, driver, socket)
    }

    private static var frame: [UInt8] { testFrame(destination: guestMAC, payload: pattern(count: 100)) }

    @Test func transmittedFramesKeepThePacketRate() async throws {
        let (sent, elapsed, statistics) = try await NetworkNamespace.run {
            let (device, driver, _) = try Self.start("vmmtl0", transmit: Self.twentyPerSecond)
            defer { device.reset() }
            let start = MonotonicClock.now
            for _ in 0..<11 { driver.transmit(frame: Self.frame) }
            let used = driver.transmit.takeUsed(count: 11)
            return (used.count, MonotonicClock.now - start, device.transmitLimiter.statistics)
        }
        #expect(sent == 11)
        // Nine waits of 50 ms; a loaded host may add some, never take any away.
        #expect(elapsed >= 0.44 && elapsed < 0.9, "11 frames at 20/s took \(elapsed) s")
        #expect(statistics.waits >= 1)
        #expect(statistics.throttledNanoseconds >= 400_000_000)
    }

    @Test func receivedFramesKeepThePacketRateAndAnUnlimitedDirectionNeverWaits() async throws {
        let (delivered, elapsed, transmitWaits) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start("vmmrl0", receive: Self.twentyPerSecond)
            defer { device.reset() }
            for _ in 0..<12 { driver.postReceive(length: 1600, notify: false) }
            driver.receive.notifier.signal()
            let start = MonotonicClock.now
            for _ in 0..<11 { try socket.send(Self.frame) }
            let used = driver.receive.takeUsed(count: 11)
            driver.transmit(frame: Self.frame)
            _ = driver.transmit.takeUsed()
            return (used.count, MonotonicClock.now - start, device.transmitLimiter.statistics.waits)
        }
        #expect(delivered == 11)
        #expect(elapsed >= 0.44 && elapsed < 0.9, "11 frames at 20/s took \(elapsed) s")
        #expect(transmitWaits == 0)
    }

    @Test func aNewLimitTakesEffectWhileTheQueueWaits() async throws {
        let (early, rest, late) = try await NetworkNamespace.run {
            let (device, driver, socket) = try Self.start("vmmrl1", receive: RateLimitOption(operations: .init(rate: 1, burst: 1)))
            defer { device.reset() }
            for _ in 0..<8 { driver.postReceive(length: 1600, notify: false) }
            driver.receive.notifier.signal()
            for _ in 0..<6 { try socket.send(Self.frame) }
            // One frame a second: two pass, the third would wait a second.
            let early = driver.receive.takeUsed(count: 6, timeout: 0.4).count
            let start = MonotonicClock.now
            device.receiveLimiter.update(RateLimitOption())
            let rest = driver.receive.takeUsed(count: 6 - early, timeout: 2).count
            return (early, rest, MonotonicClock.now - start)
        }
        #expect(early == 2)
        #expect(rest == 4)
        #expect(late < 0.5, "the frames waiting for tokens came \(late) s after the limit was lifted")
    }
}
