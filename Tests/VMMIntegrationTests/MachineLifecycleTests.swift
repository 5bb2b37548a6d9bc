import Foundation
import KVM
import Synchronization
import Testing
import VMMCore

/// Pause, resume and stop of a running machine, driven in-process through VMMCore.
@Suite(.enabled(if: TestEnvironment.kvmAvailable))
struct MachineLifecycleTests {
    final class Console: Sendable {
        private let bytes = Mutex<[UInt8]>([])
        func append(_ byte: UInt8) { bytes.withLock { $0.append(byte) } }
        var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }

        func waitFor(_ text: String, timeout: TimeInterval) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if self.text.contains(text) { return true }
                Thread.sleep(forTimeInterval: 0.005)
            }
            return false
        }
    }

    private func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> TimeInterval? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if condition() { return Date().timeIntervalSince(start) }
            Thread.sleep(forTimeInterval: 0.0005)
        }
        return nil
    }

    @Test func pauseHoldsEveryVCPUAndResumeContinues() throws {
        let builder = MachineBuilder(kvm: try KVMSystem(), log: Logger(minimumLevel: .warning))
        let configuration = MachineConfiguration(kernelPath: try TestEnvironment.guest("echo"), cpuCount: 4)
        let console = Console()
        var inputs = try builder.validate(configuration)
        let machine = try builder.build(configuration, inputs: &inputs, serialOutput: { console.append($0) })
        let outcome = Mutex<MachineExit?>(nil)
        let runner = Thread { outcome.withLock { $0 = try? machine.run() } }
        runner.start()
        #expect(console.waitFor("echo: ready", timeout: 30))

        machine.pause()
        let pauseTime = waitUntil(timeout: 1) { machine.vcpus.allSatisfy { $0.state == .paused } }
        #expect(pauseTime != nil && pauseTime! < 0.1, "all vCPUs paused after \(pauseTime.map { "\($0)" } ?? "never") s")

        _ = machine.devices.serial.receive(Array("ping\n".utf8))
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!console.text.contains("echo: ping"), "a paused guest must not run")

        machine.resume()
        #expect(console.waitFor("echo: ping", timeout: 10))

        machine.forceStop()
        let stopTime = waitUntil(timeout: 2) { outcome.withLock { $0 } != nil }
        #expect(stopTime != nil && stopTime! < 0.1, "machine stopped after \(stopTime.map { "\($0)" } ?? "never") s")
        #expect(outcome.withLock { $0 } == .forcedStop)
        #expect(machine.vcpus.allSatisfy { $0.state == .stopped })
    }
}
