#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VMMCore

@Suite struct VirtioEntropyDeviceTests {
    private final class Harness: @unchecked Sendable {
        let memory: GuestMemory
        let ring: TestDriverRing
        let interrupt = QueueInterruptRecorder()
        let resets = ResetRecorder()
        let device = VirtioEntropyDevice(log: Logger(minimumLevel: .error))

        init() throws {
            memory = try GuestMemory(size: 4 << 20)
            ring = try TestDriverRing(memory: memory, base: 0x1_0000)
            try device.activate(
                VirtioActivation(
                    memory: memory, features: VirtioFeature.eventIndex, queues: [try ring.makeQueue(features: VirtioFeature.eventIndex)],
                    notifiers: [ring.notifier], interrupt: interrupt,
                    deviceNeedsReset: resets.callback))
        }

        deinit { device.reset() }
    }

    @Test func fillsEveryWritableBuffer() throws {
        let harness = try Harness()
        harness.ring.post([
            .init(address: 0x10_0000, length: 16, writable: true), .init(address: 0x10_1000, length: 100, writable: true),
        ])
        let used = harness.ring.takeUsed()
        #expect(used.map(\.length) == [116])
        #expect(harness.memory.readBytes(at: 0x10_0000, count: 16)!.contains { $0 != 0 })
        #expect(harness.memory.readBytes(at: 0x10_1000, count: 100)!.contains { $0 != 0 })
        #expect(harness.memory.readBytes(at: 0x10_1000 + 100, count: 16)! == [UInt8](repeating: 0, count: 16))
        #expect(harness.interrupt.count(queue: 0) == 1)
    }

    @Test func capsARequestAt64KiB() throws {
        let harness = try Harness()
        harness.ring.post([.init(address: 0x10_0000, length: 100_000, writable: true)])
        #expect(harness.ring.takeUsed().map(\.length) == [UInt32(VirtioEntropyDevice.largestRequest)])
    }

    @Test func answersAReadOnlyChainWithNothing() throws {
        let harness = try Harness()
        harness.ring.post([.init(address: 0x10_0000, length: 64, writable: false)])
        #expect(harness.ring.takeUsed().map(\.length) == [0])
    }

    @Test func asksForAResetWhenABufferLiesOutsideGuestMemory() throws {
        let harness = try Harness()
        harness.ring.post([.init(address: 1 << 40, length: 64, writable: true)])
        #expect(eventually { !harness.resets.reasons.isEmpty })
        #expect(harness.ring.takeUsed(timeout: 0.1).isEmpty)
    }
}
