#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import VMMCore

@Suite struct VirtioBlockOrderingTests {
    let image = TemporaryImage(size: 1 << 20)
    let memory = try! GuestMemory(size: 16 << 20)

    private func start(delay: UInt32, log: EventLog = EventLog())
        throws -> (VirtioBlockDevice, VirtioBlockTestDriver, RecordingStorage)
    {
        let storage = RecordingStorage(try BlockImage(path: image.path, readOnly: false), log: log, delay: delay)
        let device = VirtioBlockDevice(storage: storage, serial: [], log: quietLog)
        let driver = try VirtioBlockTestDriver(memory: memory, log: log)
        try device.activate(driver.activation())
        return (device, driver, storage)
    }

    @Test func flushCompletesOnlyAfterFdatasyncAndWritesOnlyAfterPwrite() throws {
        let log = EventLog()
        let (device, driver, _) = try start(delay: 20_000, log: log)
        defer { device.reset() }
        let first = driver.send(type: BlockRequestType.write, sector: 1, out: pattern(count: 512))
        let second = driver.send(type: BlockRequestType.write, sector: 2, out: pattern(count: 512))
        #expect(driver.result(of: first).status == BlockStatus.ok)
        #expect(driver.result(of: second).status == BlockStatus.ok)
        // Like Linux's REQ_PREFLUSH: the flush goes out once the writes have completed.
        let flush = driver.send(type: BlockRequestType.flush)
        #expect(driver.result(of: flush).status == BlockStatus.ok)

        let events = log.all
        func position(_ event: String) -> Int {
            guard let index = events.firstIndex(of: event) else {
                Issue.record("no \(event) in \(events)")
                return -1
            }
            return index
        }
        #expect(position("write 1 end") < position("used \(first.head)"))
        #expect(position("write 2 end") < position("used \(second.head)"))
        #expect(position("used \(first.head)") < position("flush begin"))
        #expect(position("used \(second.head)") < position("flush begin"))
        #expect(position("flush end") < position("used \(flush.head)"))
    }

    @Test func requestsRunInParallel() throws {
        let (device, driver, storage) = try start(delay: 50_000)
        defer { device.reset() }
        let requests = (0..<8).map { index in
            driver.send(type: BlockRequestType.read, sector: UInt64(index), inLength: 512, notify: false)
        }
        driver.notifier.signal()
        let clock = ContinuousClock()
        let started = clock.now
        for request in requests { #expect(driver.result(of: request).status == BlockStatus.ok) }
        #expect(storage.mostRunning.load(ordering: .relaxed) >= 4)
        // Eight 50 ms calls one after another would take 400 ms.
        #expect(clock.now - started < .milliseconds(300))
    }

    @Test func resetWaitsForRequestsInFlightAndTheDeviceWorksAfterwards() throws {
        let (device, driver, storage) = try start(delay: 100_000)
        let requests = (0..<6).map { index in
            driver.send(type: BlockRequestType.write, sector: UInt64(index), out: pattern(count: 512), notify: false)
        }
        driver.notifier.signal()
        for _ in 0..<2000 where storage.running.load(ordering: .relaxed) == 0 { usleep(500) }
        #expect(storage.running.load(ordering: .relaxed) > 0)
        device.reset()
        #expect(storage.running.load(ordering: .relaxed) == 0)
        let used = driver.usedIndex
        let calls = storage.calls.load(ordering: .relaxed)
        #expect(Int(used) == calls)
        usleep(200_000)
        #expect(driver.usedIndex == used)
        #expect(storage.calls.load(ordering: .relaxed) == calls)
        _ = requests

        // The driver starts over on a fresh ring.
        let next = try VirtioBlockTestDriver(memory: memory, base: 0x40_0000)
        try device.activate(next.activation())
        defer { device.reset() }
        let data = pattern(count: 512, seed: 3)
        #expect(next.perform(type: BlockRequestType.write, sector: 9, out: data).status == BlockStatus.ok)
        #expect(next.perform(type: BlockRequestType.read, sector: 9, inLength: 512).data == data)
    }

    @Test func eventIndexInterruptsExactlyWhenTheDriverAsks() throws {
        let storage = try BlockImage(path: image.path, readOnly: false)
        let device = VirtioBlockDevice(storage: storage, serial: [], log: quietLog)
        let driver = try VirtioBlockTestDriver(memory: memory)
        try device.activate(driver.activation(features: VirtioFeature.eventIndex))
        defer { device.reset() }
        for sector in 0..<4 {
            // used_event = the index of the request about to complete: interrupt wanted for each.
            try memory.write(UInt16(sector), at: driver.layout.availableRing + 4 + 2 * 256)
            #expect(driver.perform(type: BlockRequestType.read, sector: UInt64(sector), inLength: 512).status
                == BlockStatus.ok)
        }
        for _ in 0..<1000 where driver.interrupt.signals.load(ordering: .relaxed) < 4 { usleep(1000) }
        #expect(driver.interrupt.signals.load(ordering: .relaxed) == 4)
        // used_event far ahead: the driver wants no interrupt for the next one.
        try memory.write(UInt16(100), at: driver.layout.availableRing + 4 + 2 * 256)
        #expect(driver.perform(type: BlockRequestType.read, sector: 0, inLength: 512).status == BlockStatus.ok)
        usleep(20_000)
        #expect(driver.interrupt.signals.load(ordering: .relaxed) == 4)
    }
}
